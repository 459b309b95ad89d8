"""What the model sees besides the selection: enclosing code, imports, nearby lines.

Language-agnostic: scopes are found by indentation (with a closing bracket or ``end`` line kept
with its block), imports by the keywords most languages use. Everything beyond the selection
fits in a character budget, filled by priority: enclosing scope, then imports, then nearby lines.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

_IMPORT = re.compile(
    r"^\s*(import\s|from\s+\S+\s+import\s|#\s*include\s|#import\s|using\s|use\s|require[\s(]"
    r"|package\s|extern\s+crate\s|@import\s|@use\s|library\(|open\s+[A-Z]|load\(|"
    r"(const|let|var)\s.*=\s*require\()"
)
# Longer lines are not imports: matching stays linear and cheap on minified or crafted lines.
IMPORT_LINE_MAX = 1000
_CLOSER = re.compile(r"^\s*([}\])]|end\b|fi\b|done\b|esac\b|endif\b|endfunction\b)")


@dataclass(frozen=True)
class Snippet:
    """Lines ``first``..``last`` (zero-based, inclusive) of the file and their text."""

    first: int
    last: int
    text: str


@dataclass(frozen=True)
class DiagnosticInfo:
    """A diagnostic as the model is told about it."""

    line: int  # zero-based
    message: str
    severity: str | None = None
    code: str | None = None
    source: str | None = None

    def describe(self) -> str:
        """``line 12: error E501 (ruff): line too long``."""
        parts = [f"line {self.line + 1}:"]
        if self.severity:
            parts.append(self.severity)
        if self.code:
            parts.append(str(self.code))
        if self.source:
            parts.append(f"({self.source})")
        return " ".join(parts) + f": {self.message}"


@dataclass(frozen=True)
class CodeContext:
    """Everything the prompt is built from."""

    language: str
    path: str
    selection: str
    first_line: int
    last_line: int
    enclosing: Snippet | None = None
    imports: Snippet | None = None
    before: Snippet | None = None
    after: Snippet | None = None
    diagnostics: tuple[DiagnosticInfo, ...] = field(default_factory=tuple)

    def context_chars(self) -> int:
        """Characters of context besides the selection."""
        return sum(len(s.text) for s in (self.enclosing, self.imports, self.before, self.after) if s)


def indent_width(line: str) -> int:
    """Width of a line's leading white space, a tab counting as 4."""
    stripped = line.lstrip(" \t")
    return len(line[: len(line) - len(stripped)].expandtabs(4))


def _blank(line: str) -> bool:
    return not line.strip()


def enclosing_scopes(lines: Sequence[str], first: int, last: int) -> list[tuple[int, int]]:
    """Scopes around lines ``first``..``last``, innermost first, as (first, last) line pairs."""
    body = [indent_width(lines[i]) for i in range(first, last + 1) if not _blank(lines[i])]
    level = min(body) if body else 0
    scopes: list[tuple[int, int]] = []
    top, bottom = first, last
    while level > 0:
        header = next(
            (j for j in range(top - 1, -1, -1) if not _blank(lines[j]) and indent_width(lines[j]) < level),
            None,
        )
        if header is None:
            break
        header_level = indent_width(lines[header])
        end = bottom
        for j in range(bottom + 1, len(lines)):
            if _blank(lines[j]):
                continue
            if indent_width(lines[j]) <= header_level:
                if _CLOSER.match(lines[j]) and indent_width(lines[j]) == header_level:
                    end = j
                break
            end = j
        while (
            header > 0
            and not _blank(lines[header - 1])
            and lines[header - 1].lstrip().startswith("@")
            and indent_width(lines[header - 1]) == header_level
        ):
            header -= 1  # decorators belong to what they decorate
        scopes.append((header, end))
        top, bottom, level = header, end, header_level
    return scopes


def _text(lines: Sequence[str], first: int, last: int) -> str:
    return "".join(lines[first : last + 1])


def _grow_window(
    lines: Sequence[str], first: int, last: int, low: int, high: int, budget: int
) -> tuple[int, int]:
    """Extend [first, last] a line at a time, nearest first, within [low, high] and budget."""
    used = 0
    above, below = first - 1, last + 1
    top, bottom = first, last
    while above >= low or below <= high:
        for side in ("above", "below"):
            index = above if side == "above" else below
            if not (low <= index <= high):
                continue
            cost = len(lines[index])
            if used + cost > budget:
                return top, bottom
            used += cost
            if side == "above":
                top, above = index, above - 1
            else:
                bottom, below = index, below + 1
    return top, bottom


def build_context(
    lines: Sequence[str],
    first_line: int,
    last_line: int,
    selection: str,
    *,
    language: str,
    path: str,
    budget_chars: int,
    nearby_lines: int,
    diagnostics: Sequence[DiagnosticInfo] = (),
) -> CodeContext:
    """Assemble the context for a selection spanning ``first_line``..``last_line``."""
    if not lines:
        return CodeContext(language, path, selection, first_line, last_line, diagnostics=tuple(diagnostics))
    last_line = min(last_line, len(lines) - 1)
    first_line = min(first_line, last_line)
    remaining = budget_chars
    covered_first, covered_last = first_line, last_line

    enclosing: Snippet | None = None
    scopes = enclosing_scopes(lines, first_line, last_line)
    fitting = [s for s in scopes if len(_text(lines, *s)) - len(selection) <= remaining]
    if fitting:
        top, bottom = fitting[-1]
    elif scopes:  # innermost scope too big: its header and the lines nearest the selection
        header = scopes[0][0]
        header_cost = len(lines[header])
        top, bottom = _grow_window(
            lines, first_line, last_line, header + 1, scopes[0][1], remaining - header_cost
        )
        top = header if top == header + 1 else top
        if top != header:
            enclosing = Snippet(header, bottom, lines[header] + "    …\n" + _text(lines, top, bottom))
            remaining -= len(enclosing.text) - len(selection)
            covered_first, covered_last = header, bottom
    else:
        top = bottom = -1
    if enclosing is None and top >= 0 and (top, bottom) != (first_line, last_line):
        enclosing = Snippet(top, bottom, _text(lines, top, bottom))
        remaining -= len(enclosing.text) - len(selection)
        covered_first, covered_last = top, bottom

    imports: Snippet | None = None
    picked: list[int] = []
    for index, line in enumerate(lines[: min(len(lines), 400)]):
        if covered_first <= index <= covered_last:
            continue
        if len(line) <= IMPORT_LINE_MAX and _IMPORT.match(line):
            if len(line) > remaining:
                break
            picked.append(index)
            remaining -= len(line)
    if picked:
        imports = Snippet(picked[0], picked[-1], "".join(lines[i] for i in picked))

    before = after = None
    if nearby_lines and remaining > 0:
        skip = set(picked)
        low = max(0, covered_first - nearby_lines)
        high = min(len(lines) - 1, covered_last + nearby_lines)
        top, bottom = _grow_window(lines, covered_first, covered_last, low, high, remaining)
        kept_before = [i for i in range(top, covered_first) if i not in skip]
        if kept_before:
            before = Snippet(kept_before[0], covered_first - 1, "".join(lines[i] for i in kept_before))
        if bottom > covered_last:
            after = Snippet(covered_last + 1, bottom, _text(lines, covered_last + 1, bottom))

    return CodeContext(
        language=language,
        path=path,
        selection=selection,
        first_line=first_line,
        last_line=last_line,
        enclosing=enclosing,
        imports=imports,
        before=before,
        after=after,
        diagnostics=tuple(diagnostics),
    )
