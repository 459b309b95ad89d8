"""Review: the model's JSON findings → validated findings → LSP diagnostics that follow edits.

Pure: no I/O, no server. The prompt shows the selected lines numbered as the editor numbers them
(from 1); the answer is one JSON object ``{"findings": [{"line", "endLine"?, "severity",
"message", "suggestion"?}]}`` asked for with JSON mode. :func:`parse_findings` checks it
strictly (a sentence for the user when it cannot be used: nothing is published then),
:func:`to_diagnostic` places a finding on its lines, and :class:`ReviewStore` keeps the
published diagnostics attached to their code while the user edits.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from lsprotocol import types

from codestral_lsp.anchors import shift_range

SOURCE = "codestral"
SEVERITIES: dict[str, types.DiagnosticSeverity] = {
    "error": types.DiagnosticSeverity.Error,
    "warning": types.DiagnosticSeverity.Warning,
    "info": types.DiagnosticSeverity.Information,
    "hint": types.DiagnosticSeverity.Hint,
}
RESPONSE_FORMAT: dict[str, Any] = {"type": "json_object"}

SYSTEM_PROMPT = (
    "You are Codestral, reviewing code inside the user's editor. Find real problems in the "
    "selected lines: bugs, risky code (unchecked input, resource leaks, races, injection), missing "
    "checks and error handling. Do not report style preferences. Answer with one JSON object and "
    'nothing else, of this shape: {"findings": [{"line": <int>, "endLine": <int, optional>, '
    '"severity": "error" | "warning" | "info" | "hint", "message": <one sentence>, '
    '"suggestion": <how to fix it, optional>}]}. "line" and "endLine" are the line numbers shown '
    "before each selected line, and must be among them. With nothing to report, answer "
    '{"findings": []}.'
)
TASK = (
    "Review the selected code. Each selected line starts with its line number and `| `; answer "
    "in JSON as described."
)

_FENCE = re.compile(r"^\s*```[\w-]*\s*\n(.*?)\n?```\s*$", re.S)


class ReviewError(ValueError):
    """An answer that cannot be published; ``str()`` is the sentence for the user."""


@dataclass(frozen=True)
class Finding:
    """One finding, with lines numbered from 1 as the prompt showed them."""

    line: int
    end_line: int
    severity: str
    message: str
    suggestion: str | None = None

    def text(self) -> str:
        """The diagnostic's message: the finding, and its suggestion when there is one."""
        if self.suggestion:
            return f"{self.message}\nSuggestion: {self.suggestion}"
        return self.message


def numbered(text: str, first_line: int) -> str:
    """``text`` with each line prefixed by its 1-based number: ``12 | code`` (line ends kept)."""
    lines = text.splitlines(keepends=True)
    width = len(str(first_line + len(lines)))
    return "".join(f"{first_line + i:>{width}} | {line}" for i, line in enumerate(lines))


def _unfence(text: str) -> str:
    """The JSON inside a Markdown fence (servers that ignore JSON mode fence it)."""
    match = _FENCE.match(text)
    return match.group(1) if match else text


def _whole_number(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_findings(text: str, first_line: int, last_line: int) -> list[Finding]:
    """The findings of an answer about lines ``first_line``–``last_line`` (1-based, inclusive).

    Raises :class:`ReviewError` with a plain sentence for invalid JSON, a wrong shape, or a line
    outside the reviewed ones.
    """
    try:
        raw = json.loads(_unfence(text.strip()))
    except ValueError:
        raise ReviewError("The review's answer was not valid JSON, so nothing was published.") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("findings"), list):
        raise ReviewError(
            'The review\'s answer was not {"findings": [...]} as asked, so nothing was published.'
        )
    findings: list[Finding] = []
    for number, item in enumerate(raw["findings"], start=1):
        where = f"Finding {number} of the review"
        if not isinstance(item, dict):
            raise ReviewError(f"{where} is not an object, so nothing was published.")
        line, end = item.get("line"), item.get("endLine", item.get("line"))
        if not (_whole_number(line) and _whole_number(end)):
            raise ReviewError(f"{where} has no whole line number, so nothing was published.")
        severity = item.get("severity")
        if severity not in SEVERITIES:
            raise ReviewError(
                f"{where} has severity {severity!r}, not error, warning, info or hint, "
                "so nothing was published."
            )
        message = item.get("message")
        if not isinstance(message, str) or not message.strip():
            raise ReviewError(f"{where} has no message, so nothing was published.")
        suggestion = item.get("suggestion")
        if suggestion is not None and not isinstance(suggestion, str):
            raise ReviewError(f"{where} has a suggestion that is not text, so nothing was published.")
        if not first_line <= line <= end <= last_line:
            span = f"line {line}" if end == line else f"lines {line}–{end}"
            raise ReviewError(
                f"{where} points at {span}, outside the reviewed lines {first_line}–{last_line}, "
                "so nothing was published."
            )
        findings.append(
            Finding(
                line=line,
                end_line=end,
                severity=severity,
                message=message.strip(),
                suggestion=suggestion.strip() if suggestion and suggestion.strip() else None,
            )
        )
    return findings


def count_complete_findings(partial: str) -> int:
    """How many finding objects of a streaming ``{"findings": [...]}`` answer are complete."""
    depth = 0
    count = 0
    in_string = escaped = False
    for char in partial:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            continue
        if char == '"':
            in_string = True
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
            if char == "}" and depth == 2:
                count += 1
    return count


def to_diagnostic(finding: Finding, lines: Sequence[str], units: Callable[[str], int]) -> types.Diagnostic:
    """The finding as a diagnostic: from the first non-blank character of its first line to the
    end of its last line, in client units (``units`` counts a string's length, e.g. UTF-16)."""
    first, last = finding.line - 1, finding.end_line - 1
    first_text = lines[first].rstrip("\r\n") if first < len(lines) else ""
    last_text = lines[last].rstrip("\r\n") if last < len(lines) else ""
    indent = first_text[: len(first_text) - len(first_text.lstrip())]
    start = types.Position(line=first, character=units(indent) if first_text.strip() else 0)
    end = types.Position(line=last, character=units(last_text))
    return types.Diagnostic(
        range=types.Range(start=start, end=end),
        message=finding.text(),
        severity=SEVERITIES[finding.severity],
        source=SOURCE,
    )


def _whole_lines(diagnostic: types.Diagnostic) -> types.Range:
    """The lines a diagnostic points at, as a range from column 0 to the next line's start."""
    return types.Range(
        start=types.Position(line=diagnostic.range.start.line, character=0),
        end=types.Position(line=diagnostic.range.end.line + 1, character=0),
    )


@dataclass
class Published:
    """A published diagnostic and the whole lines it watches."""

    diagnostic: types.Diagnostic
    anchor: types.Range


@dataclass
class ReviewStore:
    """The review diagnostics of each document, kept on their code as the user edits."""

    documents: dict[str, list[Published]] = field(default_factory=dict)

    def diagnostics(self, uri: str) -> list[types.Diagnostic]:
        """What is published for ``uri`` now."""
        return [p.diagnostic for p in self.documents.get(uri, [])]

    def replace(self, uri: str, first_line: int, last_line: int, new: Iterable[types.Diagnostic]) -> None:
        """A new review of 0-based lines ``first_line``–``last_line``: its diagnostics replace
        the earlier ones on those lines; the rest of the document's stay."""
        kept = [
            p
            for p in self.documents.get(uri, [])
            if p.anchor.end.line <= first_line or p.anchor.start.line > last_line
        ]
        kept += [Published(d, _whole_lines(d)) for d in new]
        kept.sort(key=lambda p: (p.anchor.start.line, p.diagnostic.range.start.character))
        self._set(uri, kept)

    def clear(self, uri: str | None = None) -> list[str]:
        """Forget the diagnostics of one document or all; return the URIs that had some."""
        uris = [u for u in self.documents if uri is None or u == uri]
        for u in uris:
            del self.documents[u]
        return uris

    def document_changed(
        self, uri: str, change: types.TextDocumentContentChangeEvent, units: Callable[[str], int]
    ) -> bool:
        """Follow one edit: diagnostics below an inserted or removed line move with their code;
        those whose lines the edit touched disappear. True when anything changed."""
        published = self.documents.get(uri)
        if not published:
            return False
        if not isinstance(change, types.TextDocumentContentChangePartial):
            del self.documents[uri]
            return True
        kept: list[Published] = []
        changed = False
        for p in published:
            moved = shift_range(p.anchor, change.range, change.text, units)
            if moved is None or moved.start.character != 0 or moved.end.character != 0:
                changed = True  # the code it pointed at changed
                continue
            delta = moved.start.line - p.anchor.start.line
            if delta:
                changed = True
                r = p.diagnostic.range
                p = Published(
                    diagnostic=types.Diagnostic(
                        range=types.Range(
                            start=types.Position(line=r.start.line + delta, character=r.start.character),
                            end=types.Position(line=r.end.line + delta, character=r.end.character),
                        ),
                        message=p.diagnostic.message,
                        severity=p.diagnostic.severity,
                        source=p.diagnostic.source,
                    ),
                    anchor=moved,
                )
            kept.append(p)
        self._set(uri, kept)
        return changed

    def _set(self, uri: str, published: list[Published]) -> None:
        if published:
            self.documents[uri] = published
        else:
            self.documents.pop(uri, None)
