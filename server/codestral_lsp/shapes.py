"""From an answer in any shape a code model writes to the exact replacement of the selection.

A rewrite's answer is not always one clean fenced block holding the new selection. Models add
prose, several blocks (the change, then a usage example), echo the line above or below the
selection, return the whole file, elide unchanged code (``# ... existing code ...``) or answer
with a unified diff. :func:`plan_rewrite` turns each of these into the text that replaces the
selection — or, when that cannot be known for sure, a one-line reason to keep the answer
instead. It never guesses: an answer it cannot map exactly is kept, never applied.

Steps: parse the fences (:func:`parse_answer`; a line of backticks inside the code does not end
the block) → choose the block that corresponds to the selection by content → strip a clearly
labelled usage example → refuse elided code → apply a diff-form answer to the document → map an
answer that repeats the code around the selection (an echoed header or next line, a larger
region, the whole file) onto the document, keeping it only if every change lies inside the
selection.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

# -- reasons (each completes "Not applied: …") ----------------------------------------------

LEFT_OUT_CODE = "the answer left out code"
NO_MATCH = "the answer did not match the selection"
OUTSIDE = "the answer also changes code outside the selection"
PROSE = "the answer mixes prose with the code"
SEVERAL = "the answer offers several versions of the code"
BAD_DIFF = "the answer is a diff that does not apply to the selection"
REWROTE_CONTEXT = "the answer rewrites the line next to the selection"
NO_CODE = "the answer holds no code"
MALFORMED = "the answer's code blocks are not closed properly"


@dataclass(frozen=True)
class Block:
    """A fenced block of an answer: its info string (``python``, ``diff``…) and its lines."""

    info: str
    lines: tuple[str, ...]
    closed: bool


@dataclass(frozen=True)
class Plan:
    """What to do with a rewrite's answer: replace the selection with ``code``, or keep it.

    ``code`` uses ``\\n`` line endings and the answer's own indentation (``fit_to_selection``
    re-indents it); ``reason`` says why the answer is kept (then ``code`` is ``None``);
    ``elided`` tells that it was kept because it left code out (worth asking again);
    ``shape`` names what was recognised, for logs and the benchmark.
    """

    code: str | None
    reason: str | None = None
    elided: bool = False
    shape: str = "fenced"
    detail: str = ""

    @property
    def kept(self) -> bool:
        """True when the answer must not be applied."""
        return self.code is None

    def sentence(self) -> str:
        """The reason as the user reads it: ``Not applied: the answer left out code (…).``"""
        detail = f" ({self.detail})" if self.detail else ""
        return f"Not applied: {self.reason}{detail}."


def _keep(reason: str, shape: str, detail: str = "", elided: bool = False) -> Plan:
    return Plan(None, reason, elided, shape, detail)


# -- fences ----------------------------------------------------------------------------------

_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")


def _width(indent: str) -> int:
    return len(indent.expandtabs(4))


def parse_answer(text: str) -> tuple[list[Block], list[str]]:
    """The fenced blocks of an answer, and the lines outside them (prose).

    Fences follow CommonMark, with two allowances for code that itself contains Markdown: a
    closing fence must be indented less than four columns past its opening fence (so an
    indented example in a docstring stays code), and a fence line with an info string inside a
    block opens a nested block whose bare closing fence does not end the outer one.
    """
    lines = text.split("\n")
    blocks: list[Block] = []
    prose: list[str] = []
    index = 0
    while index < len(lines):
        match = _OPEN.match(lines[index])
        if not match or (match.group("fence")[0] == "`" and "`" in match.group("info")):
            prose.append(lines[index])
            index += 1
            continue
        fence, info = match.group("fence"), match.group("info").strip()
        base = _width(match.group("indent"))
        body: list[str] = []
        depth = 0
        closed = False
        index += 1
        while index < len(lines):
            line = lines[index]
            inner = _OPEN.match(line)
            if (
                inner
                and inner.group("fence")[0] == fence[0]
                and len(inner.group("fence")) >= len(fence)
                and _width(inner.group("indent")) < base + 4
            ):
                if inner.group("info").strip():
                    depth += 1  # a nested block opens (Markdown inside the code)
                elif depth:
                    depth -= 1
                else:
                    closed = True
                    index += 1
                    break
            body.append(line)
            index += 1
        if base and all(not line.strip() or line.startswith(match.group("indent")) for line in body):
            body = [line[len(match.group("indent")) :] for line in body]  # a fence indented in a list
        blocks.append(Block(info.split()[0].lower() if info else "", tuple(body), closed))
    return blocks, prose


# -- similarity ------------------------------------------------------------------------------

_TOKEN = re.compile(r"\w+|[^\s\w]")


def similarity(a: str, b: str) -> float:
    """How alike two pieces of code are, 0…1, by their token sequences (layout ignored)."""
    ta, tb = _TOKEN.findall(a), _TOKEN.findall(b)
    if not ta and not tb:
        return 1.0
    return SequenceMatcher(None, ta, tb, autojunk=False).ratio()


def relevance(block: str, selection: str) -> float:
    """How much a block looks like a version of the selection, 0…1: token similarity, and the
    share of the block's names that the selection uses (a usage example or an unrelated snippet
    shares few)."""
    names = set(re.findall(r"[A-Za-z_]\w*", block))
    shared = len(names & set(re.findall(r"[A-Za-z_]\w*", selection))) / len(names) if names else 0.0
    return 0.5 * similarity(block, selection) + 0.5 * shared


def _norm(lines: Sequence[str]) -> list[str]:
    return [line.strip() for line in lines]


def _trivial(line: str) -> bool:
    """A line too common to anchor anything: blank, a lone bracket, ``end``, ``else:``…"""
    return sum(c.isalnum() for c in line) < 4


# -- prose -----------------------------------------------------------------------------------

_CODE_START = re.compile(
    r"^(def|class|return|if|elif|else|for|while|with|try|except|finally|import|from|raise|"
    r"yield|async|await|function|const|let|var|public|private|protected|static|func|fn|impl|"
    r"struct|enum|interface|type|package|use|mod|match|case|switch|default|do|end|begin|local|"
    r"module|export|new|throw|catch|void|int|long|char|bool|float|double|string|auto|template|"
    r"typedef|namespace|using|assert|print|println|echo|puts|lambda|pass|break|continue|go|"
    r"defer|select|val|object|trait|then|fi|done|unless|until|when|where|not|and|or|is|in)\b"
)
_SENTENCE_START = re.compile(r"^[A-Z][a-z'’]*[,:!.]?\s")
_CODE_SHAPE = re.compile(r"[;{}=]\s*$|\s(=|==|!=|\+=|-=|=>|->|:=|<-|::)\s|\w\(|^\S+\s*=\s")
_BULLET = re.compile(r"^([-*•]|\d+[.)])\s+")


def looks_like_prose(line: str) -> bool:
    """True for a sentence of natural language (not a comment, not a statement of code).

    A sentence starts with a capitalised word and a space (``Here is…``, ``This keeps…``,
    ``I replaced…``) and has three words or more; inline code in backticks marks it as Markdown
    prose; assignments, calls and statement ends mark it as code.
    """
    text = _BULLET.sub("", line.strip())
    if not text or _CODE_START.match(text) or not _SENTENCE_START.match(text):
        return False
    words = re.findall(r"[A-Za-z][A-Za-z'’]*", text)
    if len(words) < 3:
        return False
    if re.search(r"`[^`]+`", text):
        return True
    if _CODE_SHAPE.search(text):
        return False
    letters = sum(c.isalpha() or c in " ,.'’:!?-()" for c in text)
    return letters / len(text) >= 0.85


_MARKDOWN = re.compile(r"^\s*(\*\*[^*]+\*\*:?|__[^_]+__:?|([-*+•]|\d+[.)])\s+(?P<item>.+)|>\s+.+)$")


def looks_like_markdown(line: str) -> bool:
    """True for Markdown around code: a bold label (``**Changes:**``), a bullet or numbered item
    in words (``- clearer names``), a quote."""
    match = _MARKDOWN.match(line)
    if not match:
        return False
    item = match.group("item")
    if item is None:
        return True
    if re.match(r"[\w.-]+:(\s|$)", item):
        return False  # a YAML entry, not a bullet
    words = re.findall(r"[A-Za-z][A-Za-z'’]*", item)
    return len(words) >= 2 and sum(c.isalpha() or c in " ,.'’`:!?-" for c in item) / len(item) >= 0.85


def _in_strings(lines: Sequence[str]) -> list[bool]:
    """For each line, whether it lies inside a triple-quoted string or a block comment."""
    inside: list[bool] = []
    state: str | None = None
    for line in lines:
        inside.append(state is not None)
        for token in re.findall(r'"""|\'\'\'|/\*|\*/', line):
            if state is None and token in ('"""', "'''", "/*"):
                state = "*/" if token == "/*" else token
            elif token == state:
                state = None
    return inside


def split_unfenced(lines: list[str], known: set[str], markdown: bool = True) -> tuple[list[str], bool]:
    """An unfenced answer's code without the prose before and after it.

    ``known`` holds the stripped lines of the document: a line found there is code whatever it
    looks like, and so is a line inside a docstring or block comment. Markdown (bullets, bold
    labels) counts as prose unless the document is Markdown or YAML (``markdown=False``).
    Returns the code and whether prose was left inside it (then the answer is kept).
    """
    strings = _in_strings(lines)

    def prose(index: int) -> bool:
        line = lines[index]
        return not line.strip() or (
            line.strip() not in known
            and not strings[index]
            and (looks_like_prose(line) or (markdown and looks_like_markdown(line)))
        )

    start, end = 0, len(lines)
    while start < end and prose(start):
        start += 1
    while end > start and prose(end - 1):
        end -= 1
    mixed = any(lines[i].strip() and prose(i) for i in range(start, end))
    return lines[start:end], mixed


# -- elision ---------------------------------------------------------------------------------

_COMMENT = re.compile(r"^\s*(#|//+|/\*+|\*|--|;+|<!--|%|'|\{/\*|\(\*|rem\b)\s*(?P<text>.*)$", re.I)
_TRAILING_COMMENT = re.compile(r"\s(#|//)\s*(?P<text>.*)$")
_DOTS = re.compile(r"(\.{3}|…)")
_ELISION_WORDS = re.compile(
    r"\b(existing|rest|remaining|remainder|unchanged|same|previous|other|omitted|truncated|"
    r"original|more|code|implementation|lines?|methods?|functions?|body|logic|imports?|etc|"
    r"before|here|continues?|snip|as is|as-is|keep|kept)\b",
    re.I,
)
_ELISION_PHRASES = re.compile(
    r"\b(rest|remainder) of (the |your )?(code|file|function|method|class|implementation|body|"
    r"module|component|logic|script|program|test|tests|cases?|lines?)\b"
    r"|\b(existing|previous|original|other|remaining|unchanged) (code|lines|methods|functions|"
    r"implementation|logic|imports|content|cases|tests|fields|properties)\b"
    r"|\b(unchanged|remains? (the )?(same|unchanged)|stays? the same|as before"
    r"|no changes? (here|below|above))\b"
    r"|\bomitted\b|\bfor brevity\b|\b(code|implementation) (here|continues|goes here)\b"
    r"|^(same as (before|above)|keep existing)\b|<snip>|\[snip\]",
    re.I,
)


def _elision_comment(text: str) -> bool:
    text = re.sub(r"(\*/|-->|\*\)|\}\s*$)\s*$", "", text).strip()
    if _DOTS.fullmatch(text) or re.fullmatch(r"(\.{3}|…)+", text.replace(" ", "")):
        return True
    if _DOTS.search(text) and _ELISION_WORDS.search(text):
        return True
    return bool(_ELISION_PHRASES.search(text))


def find_elision(
    code: Sequence[str], selection: Sequence[str], document: set[str], language: str
) -> str | None:
    """The first line of ``code`` that stands for code left out, or ``None``.

    Comment forms in any language (``# ... existing code ...``, ``// rest unchanged``,
    ``/* ... */``, ``<!-- ... -->``) and a bare ``...`` line where the language would not have
    one. A line that is already in the document is code the user wrote, never a marker. In
    Python a bare ``...`` is code (the Ellipsis); it counts as elision only where it stands in
    for lines that followed a line kept from the selection.
    """
    sel_norm = _norm(selection)
    for index, line in enumerate(code):
        stripped = line.strip()
        if not stripped or stripped in document:
            continue
        comment = _COMMENT.match(line)
        if comment and _elision_comment(comment.group("text")):
            return stripped
        trailing = _TRAILING_COMMENT.search(line)
        if trailing and not comment:
            text = trailing.group("text")
            if (_DOTS.search(text) and _ELISION_WORDS.search(text)) or _ELISION_PHRASES.search(text):
                return stripped
        if stripped.rstrip(";") in ("...", "…", "[...]", "{...}", "(...)"):
            if language != "python" or stripped != "...":
                return stripped
            previous = next((c.strip() for c in reversed(code[:index]) if c.strip()), None)
            if previous is None or not previous.endswith(":"):
                return stripped  # `...` standing among statements
            if previous in sel_norm:
                position = sel_norm.index(previous)
                following = next((s for s in sel_norm[position + 1 :] if s), "...")
                if following != "...":
                    return stripped  # the body the selection had is gone
    return None


# -- unified diffs ---------------------------------------------------------------------------

_HUNK = re.compile(r"^@@ -\d+(,\d+)? \+\d+(,\d+)? @@")


def is_diff(block_info: str, lines: Sequence[str], selection: Sequence[str]) -> bool:
    """True for an answer written as a unified diff (``diff`` block, ``@@`` hunks, or -/+ lines
    whose removed lines are the selection's)."""
    body = [line for line in lines if line.strip()]
    if not body:
        return False
    if block_info in ("diff", "patch", "udiff"):
        return True
    if any(_HUNK.match(line) for line in body):
        return True
    if not all(line[0] in " +-" for line in body):
        return False
    sel = {s.strip() for s in selection if s.strip()}
    removed = [line[1:].strip() for line in body if line.startswith("-") and not line.startswith("---")]
    added = [line for line in body if line.startswith("+") and not line.startswith("+++")]
    return bool(added) and bool(removed) and all(r in sel for r in removed if r)


def apply_diff(lines: Sequence[str], document: Sequence[str]) -> list[str] | None:
    """The document with a diff's hunks applied, or ``None`` when one does not apply cleanly.

    Each hunk's old lines (context and removals) must be found in the document, in order,
    once; comparison ignores trailing white space, and a blank context line may have lost its
    leading space.
    """
    hunks: list[list[str]] = []
    current: list[str] | None = None
    for line in lines:
        if line.startswith(("--- ", "+++ ", "diff ", "index ")) or line in ("---", "+++"):
            continue
        if _HUNK.match(line) or line.startswith("@@"):
            current = []
            hunks.append(current)
            continue
        if current is None:
            current = []
            hunks.append(current)
        current.append(line)
    result = list(document)
    cursor = 0
    for hunk in hunks:
        while hunk and not hunk[-1].strip():
            hunk.pop()
        old: list[str] = []
        new: list[str] = []
        for line in hunk:
            if line.startswith("\\"):
                continue
            tag, rest = (line[0], line[1:]) if line else (" ", "")
            if tag not in " +-":
                tag, rest = " ", line
            if tag in " -":
                old.append(rest)
            if tag in " +":
                new.append(rest)
        if not old:
            return None  # nowhere to anchor it
        key = [o.rstrip() for o in old]
        found = [
            i
            for i in range(cursor, len(result) - len(old) + 1)
            if [r.rstrip() for r in result[i : i + len(old)]] == key
        ]
        if len(found) != 1:
            return None
        at = found[0]
        result[at : at + len(old)] = new
        cursor = at + len(new)
    return result


# -- mapping an answer onto the document -----------------------------------------------------


def _indent(line: str) -> int:
    return len(line[: len(line) - len(line.lstrip(" \t"))].expandtabs(4))


def _balance(lines: Sequence[str]) -> int:
    total = 0
    for line in lines:
        text = re.sub(r"\"(\\.|[^\"\\])*\"|'(\\.|[^'\\])*'|`[^`]*`", "", line)
        text = re.split(r"//|#(?![\w!\[])", text)[0]
        total += sum(text.count(c) for c in "{([") - sum(text.count(c) for c in "})]")
    return total


def map_onto_document(
    answer: list[str], document: list[str], first: int, end: int
) -> tuple[list[str] | None, str]:
    """The part of ``answer`` that replaces ``document[first:end]``, or ``None`` and a detail.

    Lines of the answer that repeat the document outside the selection (an echoed header, the
    line after, a larger region, the whole file) are found by aligning the answer with the
    document; they must be unchanged, and are dropped. Any change outside the selection makes
    the answer unusable (``None``).
    """
    norm_answer = _norm(answer)
    norm_doc = _norm(document)
    reach = len(answer) + 50  # an answer cannot repeat more lines than it has
    low, high = max(0, first - reach), min(len(document), end + reach)
    matcher = SequenceMatcher(lambda line: line == "", norm_doc[low:high], norm_answer, autojunk=False)
    top, bottom = first, end
    inside = set(norm_doc[first:end])
    counts = Counter(norm_doc[low:high])

    def anchor(i: int) -> bool:  # a line that can only be this line of the document
        return not _trivial(norm_doc[i]) and norm_doc[i] not in inside and counts[norm_doc[i]] == 1

    for block in (b for b in matcher.get_matching_blocks() if b.size):
        a0, a1 = block.a + low, block.a + low + block.size
        outside = [i for i in range(a0, a1) if i < first or i >= end]
        if not outside or all(_trivial(norm_doc[i]) for i in outside):
            continue
        touching = a1 >= first and a0 <= end
        gap_blank = all(not norm_doc[i] for i in range(a1, first)) and all(
            not norm_doc[i] for i in range(end, a0)
        )
        if not any(anchor(i) for i in outside):
            if touching or gap_blank:
                return None, "it repeats code around the selection ambiguously"
            continue  # a common line far away: not an echo
        if block.size < 2 and not (touching or gap_blank):
            continue  # one line far away: the model's own, not an echo
        top, bottom = min(top, a0), max(bottom, a1)

    # Lines right above (below) the region repeated at the start (end) of the answer: an echo,
    # if a distinctive line or the brackets say so.
    def accept(run: list[int], new_top: int, new_bottom: int) -> bool | None:
        """Whether the run is an echo; ``None`` when it cannot be told."""
        if any(norm_doc[i] and not _trivial(norm_doc[i]) and norm_doc[i] not in inside for i in run):
            return True
        if any(norm_doc[i] and not _trivial(norm_doc[i]) for i in run):
            return None  # a line the selection also has: which one is it?
        # Brackets and `end`s: the brackets decide when they can, else the indentation does.
        as_echo = _balance(answer) == _balance(document[new_top:new_bottom])
        as_code = _balance(answer) == _balance(document[top:bottom])
        if as_echo != as_code:
            return as_echo
        ref_answer, ref_doc = (0, top) if new_top == top else (len(answer) - 1, bottom - 1)
        offset = len(answer) - (new_bottom - new_top) if new_top == top else 0
        return all(
            _indent(answer[i - new_top + offset]) - _indent(answer[ref_answer])
            == _indent(document[i]) - _indent(document[ref_doc])
            for i in run
            if 0 <= i - new_top + offset < len(answer)
        )

    for k in range(min(top, len(answer) - 1), 0, -1):
        if norm_answer[:k] == norm_doc[top - k : top] and any(norm_answer[:k]):
            echo = accept(list(range(top - k, top)), top - k, bottom)
            if echo is None:
                return None, "it repeats code around the selection ambiguously"
            top -= k if echo else 0
            break
    for k in range(min(len(document) - bottom, len(answer) - 1), 0, -1):
        tail = norm_answer[len(answer) - k :]
        if tail == norm_doc[bottom : bottom + k] and any(tail):
            echo = accept(list(range(bottom, bottom + k)), top, bottom + k)
            if echo is None:
                return None, "it repeats code around the selection ambiguously"
            bottom += k if echo else 0
            break
    # What is left could still be read two ways: the answer ends (starts) with a line that is
    # both in the selection and right after (before) it.
    for edge, neighbour in ((norm_answer[-1:], bottom), (norm_answer[:1], top - 1)):
        if (
            edge
            and 0 <= neighbour < len(document)
            and edge[0] == norm_doc[neighbour]
            and edge[0]
            and not _trivial(edge[0])
            and edge[0] in inside
        ):
            return None, "it repeats code around the selection ambiguously"
    if (top, bottom) == (first, end):
        return answer, ""
    region = norm_doc[top:bottom]
    s0, s1 = first - top, end - top
    # The answer must repeat the region's lines above and below the selection exactly: what it
    # changes (between its common prefix and suffix with the region) lies inside the selection.
    prefix = 0
    while prefix < min(len(region), len(norm_answer)) and region[prefix] == norm_answer[prefix]:
        prefix += 1
    suffix = 0
    limit = min(len(region), len(norm_answer)) - prefix
    while suffix < limit and region[-1 - suffix] == norm_answer[-1 - suffix]:
        suffix += 1
    below = len(region) - s1
    if prefix < s0 or suffix < below:
        line = top + len(region) - suffix if prefix >= s0 else top + prefix + 1
        return None, f"line {line}"
    return answer[s0 : len(answer) - below], ""


# -- choosing the block ----------------------------------------------------------------------


_ALIASES = {
    "python": {"python", "py", "python3", "py3", "pycon"},
    "javascript": {"javascript", "js", "jsx", "node", "mjs"},
    "javascriptreact": {"javascript", "js", "jsx"},
    "typescript": {"typescript", "ts", "tsx"},
    "typescriptreact": {"typescript", "ts", "tsx"},
    "go": {"go", "golang"},
    "rust": {"rust", "rs"},
    "cpp": {"cpp", "c++", "cc", "cxx", "hpp", "c"},
    "c": {"c", "h", "cpp"},
    "csharp": {"csharp", "cs", "c#"},
    "shellscript": {"sh", "bash", "shell", "zsh", "shellscript"},
    "ruby": {"ruby", "rb"},
    "kotlin": {"kotlin", "kt"},
    "markdown": {"markdown", "md"},
}


def _same_language(info: str, language: str) -> bool:
    """Whether a block's info string allows it to be code of the document's language."""
    if not info or not language or info in ("diff", "patch", "udiff"):
        return True
    return info in _ALIASES.get(language, {language.lower()})


def _choose(
    blocks: list[Block], selection: str, language: str, document: str = ""
) -> tuple[Block | None, str | None]:
    useful = [b for b in blocks if any(line.strip() for line in b.lines)]
    if len(useful) <= 1:
        return (useful[0] if useful else None), None
    if any(_same_language(b.info, language) for b in useful):
        useful = [b for b in useful if _same_language(b.info, language)]  # not the `pip install`
    selected = {line.strip() for line in selection.split("\n")}
    around = {line.strip() for line in document.split("\n")} - selected

    def score(block: Block) -> float:
        text = "\n".join(block.lines)
        mine = relevance(text, selection)
        if any(line.strip() in around and not _trivial(line.strip()) for line in block.lines):
            mine = max(mine, relevance(text, document))  # a larger region, or the whole file
        return mine

    scored = sorted(((score(b), b) for b in useful), key=lambda s: -s[0])
    if len(scored) == 1:
        return (scored[0][1], None) if scored[0][0] >= 0.2 else (None, NO_MATCH)
    wanted = [line for line in _norm(_lines(selection)) if line]
    same = [s for s in scored if [line for line in _norm(s[1].lines) if line] == wanted]
    if same and len(scored) > 1:  # "before" and "after": the unchanged copy is the before
        others = [s for s in scored if s not in same]
        if others and others[0][0] >= 0.3:
            scored = others
    best_score, best = scored[0]
    if best_score < 0.3:
        return None, NO_MATCH
    if len(scored) > 1 and scored[1][0] >= 0.5 and scored[1][0] >= best_score - 0.15:
        return None, SEVERAL
    if len(scored) > 1 and best_score < 0.5 and scored[1][0] >= best_score * 0.6:
        return None, NO_MATCH  # neither block clearly answers the selection
    return best, None


_EXAMPLE = re.compile(
    r"^(#|//|--)\s*(example( usage)?|usage( example)?|sample usage|how to use( it)?|"
    r"test(ing)? (it|the \w+))\b[\s:.]*",
    re.I,
)
_MAIN_GUARD = re.compile(r"""^if __name__ == ['"]__main__['"]:""")


def _strip_example(lines: list[str], known: set[str], instruction: str) -> list[str]:
    """Drop a trailing paragraph that is a labelled usage example the document does not have
    (``# Example usage:`` then calls, or an ``if __name__ == "__main__":`` block), written at
    the code's outermost indentation."""
    if re.search(r"\b(example|usage|test|demo|main)\b", instruction, re.I):
        return lines
    outer = min((_width(line[: len(line) - len(line.lstrip())]) for line in lines if line.strip()), default=0)
    for index in range(1, len(lines)):
        head = lines[index]
        if (
            lines[index - 1].strip()
            or not head.strip()
            or _width(head[: len(head) - len(head.lstrip())]) != outer
        ):
            continue
        if not (_EXAMPLE.match(head.strip()) or _MAIN_GUARD.match(head.strip())):
            continue
        tail = [line for line in lines[index:] if line.strip()]
        if all(line.strip() not in known for line in tail):
            kept = lines[:index]
            while kept and not kept[-1].strip():
                kept.pop()
            return kept
    return lines


_TAG_OPEN = re.compile(r"^<(code|generatedcode|pre|replacement|answer)\b[^>]*>$", re.I)
_LINE_NUMBER = re.compile(r"^\s*(\d+)\s?[:|]\s?")


def _strip_line_numbers(lines: list[str], selection: Sequence[str]) -> list[str]:
    numbered = [(i, _LINE_NUMBER.match(line)) for i, line in enumerate(lines) if line.strip()]
    if len(numbered) < 2 or not all(m for _, m in numbered) or any(_LINE_NUMBER.match(s) for s in selection):
        return lines
    numbers = [int(m.group(1)) for _, m in numbered if m]
    if numbers != list(range(numbers[0], numbers[0] + len(numbers))):
        return lines
    return [line[m.end() :] if (m := _LINE_NUMBER.match(line)) else line for line in lines]


# -- the whole path --------------------------------------------------------------------------


def _lines(text: str) -> list[str]:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def plan_rewrite(
    answer: str,
    before: str,
    selection: str,
    after: str,
    *,
    language: str = "",
    action: str = "refactor",
    instruction: str = "",
) -> Plan:
    """The replacement for ``selection`` (between ``before`` and ``after`` in the document)
    that ``answer`` holds, or the reason to keep the answer. See the module docstring."""

    def clean(text: str) -> str:
        return text.replace("\r\n", "\n").replace("\r", "\n")

    text = clean(answer).replace("\ufeff", "")
    before, selection, after = clean(before), clean(selection), clean(after)
    document = _lines(before + selection + after)
    known = {line.strip() for line in document if line.strip()}
    sel_lines = _lines(selection) or [""]
    blocks, _ = parse_answer(text)
    blocks = [b for b in blocks if b.closed or any(line.strip() for line in b.lines)]  # a stray fence
    shape = "fenced"
    if blocks:
        block, problem = _choose(blocks, selection, language, "\n".join(document[:2000]))
        if problem:
            return _keep(problem, "several blocks")
        if block is None:
            return _keep(NO_CODE, "empty")
        if len([b for b in blocks if any(x.strip() for x in b.lines)]) > 1:
            shape = "several blocks"
        info, code = block.info, list(block.lines)
        if not block.closed and any(_OPEN.match(line) for line in code):
            return _keep(MALFORMED, shape)
        if info not in ("diff", "patch", "udiff") and not is_diff(info, code, sel_lines):
            # Prose written inside the block (or after a fence left open) is not code.
            code, mixed = split_unfenced(code, known, language not in ("markdown", "yaml", "plaintext"))
            if mixed:
                return _keep(PROSE, shape)
    else:
        shape = "unfenced"
        info, code = "", _lines(text.strip("\n"))
        if (
            len(code) == 1
            and re.fullmatch(r"`[^`]+`", code[0].strip())
            and not selection.strip().startswith("`")
        ):
            code = [code[0].strip()[1:-1]]  # `inline code`
        if not is_diff("", code, sel_lines):
            markdown = language not in ("markdown", "yaml", "plaintext")
            code, mixed = split_unfenced(code, known, markdown)
            if (
                len(code) >= 2
                and _TAG_OPEN.match(code[0].strip())
                and code[-1].strip().startswith("</")
                and code[0].strip() not in known
                and code[-1].strip() not in known
            ):
                code, mixed = split_unfenced(code[1:-1], known, markdown)  # <code>…</code>
            names = {language.lower(), "python", "javascript", "typescript", "go", "rust"} - {""}
            if code and code[0].strip().lower() in names and code[0].strip() not in known:
                code = code[1:]  # the info string of a fence the model forgot
            if mixed:
                return _keep(PROSE, shape)
            if any(
                (_OPEN.match(line) or _TAG_OPEN.match(line.strip())) and line.strip() not in known
                for line in code
            ):
                return _keep(MALFORMED, shape)
            if not code:
                return _keep(NO_CODE, shape)
    while code and not code[-1].strip():
        code.pop()
    while code and not code[0].strip():
        code.pop(0)
    code = _strip_line_numbers(code, sel_lines)

    line_prefix = before[before.rfind("\n") + 1 :]
    first = before.count("\n")
    whole_lines = not line_prefix.strip() and (
        selection.endswith("\n") or not after or after.startswith("\n")
    )
    end = first + len(sel_lines) if whole_lines else first + 1

    if is_diff(info, code, sel_lines):
        patched = apply_diff(code, document)
        if patched is None:
            return _keep(BAD_DIFF, "diff")
        mapped, where = map_onto_document(patched, document, first, end)
        if mapped is None:
            return _keep(NO_MATCH if "ambiguous" in where else OUTSIDE, "diff", where)
        return Plan("\n".join(mapped) + "\n" if mapped else "", shape="diff")

    code = _strip_example(code, known, instruction)
    marker = find_elision(code, sel_lines, known, language)
    if marker is not None:
        return _keep(LEFT_OUT_CODE, shape, f"it writes “{marker}” instead", elided=True)

    if whole_lines:
        mapped, where = map_onto_document(code, document, first, end)
        if mapped is None:
            return _keep(NO_MATCH if "ambiguous" in where else OUTSIDE, "larger than the selection", where)
        if len(mapped) != len(code):
            shape = "echo" if len(code) - len(mapped) <= 3 else "larger than the selection"
        code = mapped
        problem = _rewrote_neighbour(code, document, first, end)
        if problem:
            return _keep(REWROTE_CONTEXT, shape, problem)
    else:
        code = _strip_line_echo(code, line_prefix, after.split("\n", 1)[0])

    if action == "document":
        missing = _missing_code(sel_lines, code)
        if missing:
            return _keep(LEFT_OUT_CODE, shape, f"“{missing}” is missing")
    return Plan("\n".join(code) + ("\n" if code else ""), shape=shape)


def _rewrote_neighbour(code: list[str], document: list[str], first: int, end: int) -> str:
    """A changed copy of the line just outside the selection (a header with new type hints, a
    renamed signature) would be inserted twice: say which line it is, or return ``""``."""
    sel_norm = [s for s in _norm(document[first:end]) if s]
    head = next((c.strip() for c in code if c.strip()), None)
    above = next((i for i in range(first - 1, -1, -1) if document[i].strip()), None)
    below = next((i for i in range(end, len(document)) if document[i].strip()), None)
    tail = next((c.strip() for c in reversed(code) if c.strip()), None)
    for mine, index in ((head, above), (tail, below)):
        if mine is None or index is None:
            continue
        theirs = document[index].strip()
        if _trivial(theirs) or mine in sel_norm or mine == theirs or mine[-1] != theirs[-1]:
            continue
        closeness = SequenceMatcher(None, mine, theirs).ratio()
        if closeness >= 0.75 and all(SequenceMatcher(None, mine, s).ratio() < closeness for s in sel_norm):
            return f"line {index + 1}"
    return ""


def _strip_line_echo(code: list[str], prefix: str, rest: str) -> list[str]:
    """A part of a line was selected and the answer repeats the whole line: keep the part."""
    if len(code) != 1:
        return code
    line = code[0].strip()
    head, tail = prefix.strip(), rest.strip()
    if head and line.startswith(head) and line != head:
        line = line[len(head) :].lstrip()
        if tail and line.endswith(tail) and line != tail:
            line = line[: -len(tail)].rstrip()
        return [line]
    return code


def _code_lines(lines: Sequence[str]) -> list[str]:
    strings = _in_strings(lines)
    return [
        re.sub(r"\s+", "", line)
        for index, line in enumerate(lines)
        if line.strip()
        and not strings[index]
        and not _COMMENT.match(line)
        and not line.strip().startswith(('"""', "'''"))
    ]


def _missing_code(selection: Sequence[str], code: Sequence[str]) -> str | None:
    """For Document (which must only add documentation): a line of code of the selection that
    the answer dropped — it has fewer lines of code than the selection, and this one is gone."""
    theirs, mine = _code_lines(selection), _code_lines(code)
    if len(mine) >= len(theirs):
        return None
    have = set(mine)
    return next((line.strip() for line in selection if re.sub(r"\s+", "", line) in set(theirs) - have), None)
