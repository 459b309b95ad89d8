"""Context from beyond the current file, ranked, labelled and fitted to a budget.

In priority order (each piece says where it is from: workspace-relative path and line):

1. definitions of the names the code uses, resolved through the file's imports (then, for Go,
   the other files of the package; then by a search for the identifier across the workspace);
2. snippets most similar to the code, from other open documents (sliding windows of lines:
   "neighbouring tabs") and from regions edited recently, in files open or since closed (see
   :mod:`codestral_lsp.recent_edits`), ranked together by the Jaccard similarity of their
   identifiers;
3. the project's instructions (``.codestral/instructions.md``, ``AGENTS.md``).

Pure apart from the index, which it reads (never touching the disk for a clean file).
"""

from __future__ import annotations

import dataclasses
import keyword
import os
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from codestral_lsp.context import CodeContext, DiagnosticInfo, build_context
from codestral_lsp.definitions import (
    Definition,
    ImportRef,
    chains,
    identifier_set,
    identifiers,
    language_of,
    parse_imports,
)
from codestral_lsp.workspace_index import FileEntry, WorkspaceIndex

FALLBACK_MAX_CANDIDATES = 3  # an identifier defined in more places than this is too ambiguous
SIMILAR_WINDOW = 20
SIMILAR_STEP = 10
SIMILAR_MIN_SCORE = 0.12
SIMILAR_TOP = 3
PIECE_OVERHEAD = 60  # characters of label and fence around each piece


@dataclass(frozen=True)
class RelatedPiece:
    """Code or text from elsewhere in the workspace, with where it is from."""

    kind: str  # definition | similar | edited | instructions
    path: str  # workspace-relative
    line: int  # zero-based first line
    text: str
    name: str = ""

    def cost(self) -> int:
        """Characters it takes in a prompt, label included."""
        return len(self.text) + len(self.path) + PIECE_OVERHEAD

    def label(self) -> str:
        """``Definition of `normalize_row` from pkg/rows.py, line 12``."""
        where = f"{self.path}, line {self.line + 1}" if self.kind != "instructions" else self.path
        if self.kind == "definition":
            return f"Definition of `{self.name}` from {where}"
        if self.kind == "similar":
            return f"Similar code from {where}"
        if self.kind == "edited":
            return f"Recently edited code from {where}"
        return f"Project instructions from {where} (written by the project's developers)"


def _shared_folders(a: str, b: str) -> int:
    """How many leading path components two paths share."""
    count = 0
    for x, y in zip(a.split(os.sep), b.split(os.sep), strict=False):
        if x != y:
            break
        count += 1
    return count


def _used_names(code: str) -> tuple[list[str], list[tuple[str, ...]]]:
    return identifiers(code), chains(code)


def _current_entry(index: WorkspaceIndex, real: str, text: str, refresh: bool) -> FileEntry:
    """The index's entry of the current file. With ``refresh`` (actions) its imports are read from
    ``text`` and changed buffers are indexed first; without (inline completion, on every
    keystroke) the entry is used as last indexed, the file being parsed only if it has none."""
    index.refresh_dirty(skip=None if refresh else real)
    entry = index.files.get(real)
    if entry is not None and not refresh:
        return entry
    language = language_of(real)
    imports = tuple(parse_imports(language, text))
    if entry is None:
        located = index.locate(real)
        rel = located[1] if located else os.path.basename(real)
        return FileEntry(real, rel, located[0] if located else "", language, (), imports, len(text))
    return dataclasses.replace(entry, imports=imports)


def definitions_for(
    index: WorkspaceIndex, path: str, text: str, code: str, limit: int = 40, refresh_current: bool = True
) -> list[RelatedPiece]:
    """Definitions from other files of the names ``code`` (a part of ``text``) uses, best first."""
    real = os.path.realpath(path)
    current = _current_entry(index, real, text, refresh_current)
    names, dotted = _used_names(code)
    own = {d.name for d in current.definitions}
    pieces: dict[tuple[str, int], RelatedPiece] = {}
    resolved: set[str] = set()

    def add(found: Iterable[tuple[FileEntry, Definition]], name: str) -> None:
        for entry, definition in found:
            if entry.path == real:
                continue
            key = (entry.path, definition.line)
            container = getattr(definition, "container", "")
            if container and any(  # its class is in already, this method with it
                p.path == entry.rel and p.name == container and definition.name + "(" in p.text
                for p in pieces.values()
            ):
                resolved.add(name)
                continue
            if key not in pieces:
                pieces[key] = RelatedPiece("definition", entry.rel, definition.line, definition.text, name)
                resolved.add(name)

    bindings: dict[str, list[tuple[ImportRef, str]]] = {}
    namespaces: dict[str, ImportRef] = {}
    for ref in current.imports:
        for original, local in ref.names:
            bindings.setdefault(local, []).append((ref, original))
        if ref.namespace:
            namespaces[ref.namespace] = ref
    # 1. names bound by imports, and `namespace.name` through imported modules
    for chain in dotted:
        for cut in range(len(chain) - 1, 0, -1):
            space = namespaces.get(".".join(chain[:cut]))
            if space is not None:
                files = index.module_files(current, space)
                add(index.find_in(files, chain[cut]), chain[cut])
                break
    for name in names:
        for ref, original in bindings.get(name, []):
            add(index.find_in(index.module_files(current, ref), original), name)
    # 2. Go: the other files of the package
    if current.language == "go":
        siblings = [p for p in index.folder_files(os.path.dirname(real)) if p != real]
        for name in names:
            if name not in resolved and name not in own:
                add(index.find_in(siblings, name), name)
    # 3. by identifier, across the workspace (attributes too: `jar.set_cookie(...)`), except
    #    names an import binds to a library outside the workspace
    external = {
        local
        for ref in current.imports
        for local in [*(lo for _, lo in ref.names), *([ref.namespace] if ref.namespace else [])]
        if not index.module_files(current, ref)
    }
    attributes = dict.fromkeys(part for chain in dotted for part in chain[1:] if len(part) > 1)
    folder = os.path.dirname(real)
    for name in [*names, *(a for a in attributes if a not in names and not keyword.iskeyword(a))]:
        if name in resolved or name in own or (name in external and name not in attributes):
            continue
        paths = [p for p in index.by_name.get(name, []) if p != real]
        if not paths or len(paths) > FALLBACK_MAX_CANDIDATES:
            continue
        paths.sort(key=lambda p: (os.path.dirname(p) != folder, -_shared_folders(p, real)))
        found: list[tuple[FileEntry, Definition]] = []
        for p in paths:
            entry = index.entry(p)
            if entry is not None:
                found.extend((entry, d) for d in entry.definitions if d.name == name)
        if len(found) <= FALLBACK_MAX_CANDIDATES:
            add(found, name)
        if len(pieces) >= limit:
            break
    return list(pieces.values())[:limit]


Window = tuple[int, int, int, frozenset[str]]  # first line, start and end offsets, identifiers


def _windows(text: str) -> list[Window]:
    """The sliding windows of a text (:data:`SIMILAR_WINDOW` lines every :data:`SIMILAR_STEP`)."""
    starts = [0]
    for line in text.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    count = len(starts) - 1
    found: list[Window] = []
    for first in range(0, max(1, count - SIMILAR_WINDOW + SIMILAR_STEP), SIMILAR_STEP):
        begin, end = starts[min(first, count)], starts[min(first + SIMILAR_WINDOW, count)]
        names = identifier_set(text[begin:end])
        if names:
            found.append((first, begin, end, names))
    return found


class WindowCache:
    """The windows of the documents last ranked, kept while a document's text is the same
    string (an editor's buffer is replaced, not changed, by each edit): inline completion ranks
    the open documents on every keystroke, and only the document being typed in changes."""

    def __init__(self, limit: int = 64) -> None:
        self.limit = limit
        self._entries: OrderedDict[str, tuple[str, list[Window]]] = OrderedDict()
        self._names: OrderedDict[str, frozenset[str]] = OrderedDict()

    def names(self, text: str) -> frozenset[str]:
        """The identifiers of a short text (an edited region), computed once per text."""
        found = self._names.get(text)
        if found is None:
            found = self._names[text] = identifier_set(text)
            if len(self._names) > self.limit:
                self._names.popitem(last=False)
        return found

    def cached(self, key: str, text: str) -> list[Window] | None:
        """The windows of ``text`` if they are known already."""
        entry = self._entries.get(key)
        if entry is not None and entry[0] is text:
            self._entries.move_to_end(key)
            return entry[1]
        return None

    def windows(self, key: str, text: str) -> list[Window]:
        """The windows of ``text`` (the document ``key``), computed once per text."""
        known = self.cached(key, text)
        if known is not None:
            return known
        found = _windows(text)
        self._entries[key] = (text, found)
        self._entries.move_to_end(key)
        while len(self._entries) > self.limit:
            self._entries.popitem(last=False)
        return found


def similar_snippets(
    code: str,
    documents: Sequence[tuple[str, str]],
    exclude: Iterable[tuple[str, int, int]] = (),
    edited: Sequence[tuple[str, int, str]] = (),
    cache: WindowCache | None = None,
    seconds: float | None = None,
) -> list[RelatedPiece]:
    """The code most like ``code``, best first: the best window of each of the other open
    ``documents`` (rel path, text) and the recently ``edited`` regions (rel path, first line,
    text), ranked together; none overlapping another or ``exclude`` (rel path, first and last
    line: what the prompt already shows). With ``seconds`` (inline completion), the documents
    are looked at while that time lasts, those whose windows ``cache`` knows first."""
    wanted = identifier_set(code)
    if not wanted:
        return []
    cache = cache if cache is not None else WindowCache()
    scored: list[tuple[float, RelatedPiece]] = []
    size = len(wanted)
    disjoint = wanted.isdisjoint
    deadline = time.perf_counter() + seconds if seconds is not None else None
    known = [(rel, text, cache.cached(rel, text)) for rel, text in documents]
    if deadline is not None:
        known.sort(key=lambda item: item[2] is None)
    for rel, line, text in edited:
        names = cache.names(text)
        shared = len(wanted & names)
        score = shared / (size + len(names) - shared) if shared else 0.0
        if score >= SIMILAR_MIN_SCORE:
            scored.append((score, RelatedPiece("edited", rel, line, text)))
    for rel, text, windows in known:  # (the loop runs on every completion: kept lean)
        if deadline is not None and time.perf_counter() > deadline:
            break
        best: tuple[float, Window] | None = None
        for window in windows if windows is not None else cache.windows(rel, text):
            names = window[3]
            if disjoint(names):
                continue
            shared = len(wanted & names)
            score = shared / (size + len(names) - shared)  # Jaccard
            if best is None or score > best[0]:
                best = (score, window)
        if best is not None and best[0] >= SIMILAR_MIN_SCORE:
            first, begin, end, _ = best[1]
            scored.append((best[0], RelatedPiece("similar", rel, first, text[begin:end])))
    scored.sort(key=lambda item: -item[0])  # stable: at equal scores, an edit before a window
    taken = list(exclude)
    kept: list[RelatedPiece] = []
    for _, piece in scored:
        last = piece.line + max(0, piece.text.count("\n") - piece.text.endswith("\n"))
        if any(r == piece.path and not (last < a or b < piece.line) for r, a, b in taken):
            continue
        kept.append(piece)
        taken.append((piece.path, piece.line, last))
        if len(kept) == SIMILAR_TOP:
            break
    return kept


def instruction_pieces(index: WorkspaceIndex) -> list[RelatedPiece]:
    """The project's instruction files."""
    return [RelatedPiece("instructions", rel, 0, text) for rel, text in sorted(index.instructions.items())]


def fit(pieces: Sequence[RelatedPiece], budget_chars: int) -> list[RelatedPiece]:
    """The pieces that fit in the budget, in their order (a piece too big is skipped, not cut)."""
    kept: list[RelatedPiece] = []
    for piece in pieces:
        if piece.cost() <= budget_chars:
            kept.append(piece)
            budget_chars -= piece.cost()
    return kept


_LINE_COMMENT = {
    "python": "#", "ruby": "#", "shellscript": "#", "r": "#", "elixir": "#", "julia": "#",
    "lua": "--", "sql": "--", "haskell": "--",
}  # fmt: skip


def comment_prefix(language: str | None) -> str:
    """How a line comment starts in the language (``//`` where unknown)."""
    return _LINE_COMMENT.get(language or "", "//")


def fim_header(pieces: Sequence[RelatedPiece], language: str | None) -> str:
    """Pieces as a comment block for the top of a fill-in-the-middle prompt."""
    if not pieces:
        return ""
    mark = comment_prefix(language)
    out: list[str] = []
    for piece in pieces:
        out.append(f"{mark} Path: {piece.path} (line {piece.line + 1})\n")
        out.extend(f"{mark} {line}".rstrip() + "\n" for line in piece.text.splitlines())
    return "".join(out) + "\n"


def open_documents(
    index: WorkspaceIndex, documents: Iterable[tuple[str, str]], current: str
) -> list[tuple[str, str]]:
    """(rel path, text) of the open documents (real path, text) the index may read, other than
    ``current``."""
    here = os.path.realpath(current)
    found: list[tuple[str, str]] = []
    for path, text in documents:
        rel = index.admitted_rel(path) if path != here else None
        if rel is not None:
            found.append((rel, text))
    return found


def edited_regions(
    index: WorkspaceIndex, regions: Iterable[tuple[str, int, str]], current: str
) -> list[tuple[str, int, str]]:
    """(rel path, first line, text) of the recently edited regions (real path, first line,
    text) the index may read — inside the workspace, not ignored nor excluded — outside
    ``current`` (whose neighbourhood the prompt shows anyway)."""
    here = os.path.realpath(current)
    found: list[tuple[str, int, str]] = []
    for path, line, text in regions:
        rel = index.admitted_rel(path) if path != here else None
        if rel is not None:
            found.append((rel, line, text))
    return found


def related_pieces(
    index: WorkspaceIndex,
    path: str,
    text: str,
    code: str,
    documents: Sequence[tuple[str, str]] = (),
    edited: Sequence[tuple[str, int, str]] = (),
    cache: WindowCache | None = None,
) -> list[RelatedPiece]:
    """Everything from beyond the file, in priority order (to be cut by :func:`fit`)."""
    definitions = definitions_for(index, path, text, code)
    shown = [(p.path, p.line, p.line + p.text.count("\n")) for p in definitions]
    similar = similar_snippets(code, documents, shown, edited, cache)
    return [*definitions, *similar, *instruction_pieces(index)]


COMPLETION_LINES_BEFORE = 30
COMPLETION_SIMILAR_SECONDS = 0.002  # time for ranking the open documents' windows per completion


def completion_header(
    index: WorkspaceIndex,
    path: str,
    text: str,
    offset: int,
    budget_chars: int,
    documents: Sequence[tuple[str, str]] = (),
    edited: Sequence[tuple[str, int, str]] = (),
    cache: WindowCache | None = None,
) -> str:
    """Definitions from other files that the code around the cursor uses, then the code most
    like it from the other open ``documents`` and recently ``edited`` regions (as for
    :func:`similar_snippets`), as a comment header for a fill-in-the-middle prompt (``""`` when
    there are none or no budget).

    Uses the index as it is (the current file's buffer is not re-parsed on each keystroke; its
    imports are read afresh from the text), and ``cache`` for the windows of the documents, to
    stay within a few milliseconds.
    """
    if budget_chars <= 0:
        return ""
    start = offset
    for _ in range(COMPLETION_LINES_BEFORE):
        start = text.rfind("\n", 0, start)
        if start <= 0:
            start = 0
            break
    end = text.find("\n", offset)
    code = text[start : end if end >= 0 else len(text)]
    pieces = definitions_for(index, path, text, code, limit=8, refresh_current=False)
    shown = [(p.path, p.line, p.line + p.text.count("\n")) for p in pieces]
    if documents or edited:
        pieces += similar_snippets(code, documents, shown, edited, cache, COMPLETION_SIMILAR_SECONDS)
    return fim_header(fit(pieces, budget_chars), language_of(path))


def assemble(
    lines: Sequence[str],
    first_line: int,
    last_line: int,
    selection: str,
    related: Sequence[RelatedPiece],
    *,
    language: str,
    path: str,
    budget_chars: int,
    nearby_lines: int,
    diagnostics: Sequence[DiagnosticInfo] = (),
    file_budget_chars: int | None = None,
) -> tuple[CodeContext, list[RelatedPiece]]:
    """The whole context of a selection within ``budget_chars``: the in-file part first, within
    ``file_budget_chars`` when given (it leaves up to half of that to what the other files
    offer), then the related pieces, in what is left of ``budget_chars``."""
    file_budget = budget_chars if file_budget_chars is None else min(budget_chars, file_budget_chars)
    reserve = min(sum(p.cost() for p in related), file_budget // 2)
    context = build_context(
        lines,
        first_line,
        last_line,
        selection,
        language=language,
        path=path,
        budget_chars=file_budget - reserve,
        nearby_lines=nearby_lines,
        diagnostics=diagnostics,
    )
    # (the enclosing scope holds the selection, which the budget does not count)
    used = context.context_chars() - (len(selection) if context.enclosing is not None else 0)
    return context, fit(related, budget_chars - used)
