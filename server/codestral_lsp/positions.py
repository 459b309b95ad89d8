"""The one place where client positions (UTF-16 by default) meet Python string offsets.

Built on pygls's :class:`TextDocument` and its position codec (which follows the encoding the
client negotiated). A :class:`DocumentView` reads the document's lines once, so converting many
positions costs no more than converting one.
"""

from __future__ import annotations

import codecs
import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, overload
from urllib.parse import unquote

from lsprotocol import types
from pygls.workspace import TextDocument, Workspace

from codestral_lsp.arguments import ArgumentError

# What str.splitlines also breaks at, and LSP does not.
_OTHER_BREAKS = "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


def document_key(uri: str) -> str:
    """The one normalisation point for document URIs: the key pygls stores a document under.

    Clients percent-encode differently (``my%20file.py`` vs ``my file.py``, ``%23`` for ``#``,
    ``%C3%BC`` for ``ü``); every lookup of a document or a job goes through this. Edits sent back
    use the URI exactly as the client opened the document.
    """
    return unquote(uri)


def lsp_lines(text: str) -> list[str]:
    """Lines as LSP counts them, with their endings: only ``\n``, ``\r\n`` and ``\r`` end a line.

    (``str.splitlines`` also breaks at form feeds, ``\x1c``-``\x1e``, ``\u2028``… which would
    shift every position after one.)
    """
    pieces = text.splitlines(keepends=True)
    if not any(char in text for char in _OTHER_BREAKS):
        return pieces
    lines: list[str] = []
    for piece in pieces:  # join what splitlines cut at a character that ends no LSP line
        if lines and not lines[-1].endswith(("\n", "\r")):
            lines[-1] += piece
        else:
            lines.append(piece)
    return lines


_BREAK = re.compile(r"\r\n|\r|\n")
_BLOCK = 1 << 16


def line_starts(text: str) -> list[int]:
    """Offsets where each LSP line of ``text`` starts (one entry per line; ``[0]`` if empty)."""
    return [0, *(m.end() for m in _BREAK.finditer(text) if m.end() < len(text))]


class Units:
    """Counting in the client's position units (UTF-16 unless negotiated), at C speed.

    pygls's codec counts character by character in Python: seconds on a 10 MB line.
    """

    def __init__(self, encoding: object) -> None:
        name = str(getattr(encoding, "value", encoding) or "utf-16").lower()
        self.kind = name if name in ("utf-8", "utf-32") else "utf-16"

    def count(self, text: str) -> int:
        """Length of ``text`` in client units."""
        if self.kind == "utf-32" or text.isascii():
            return len(text)
        if self.kind == "utf-16":
            return len(text.encode("utf-16-le", "surrogatepass")) // 2
        return len(text.encode("utf-8", "surrogatepass"))

    def index(self, line: str, units: int) -> int:
        """The string index ``units`` client units into ``line`` (clamped to its length; a
        position inside a character counts as after it, as pygls and editors do)."""
        if units <= 0:
            return 0
        if self.kind == "utf-32" or line.isascii():
            return min(units, len(line))
        if self.kind == "utf-16":
            data = line.encode("utf-16-le", "surrogatepass")[: 2 * units]
            decoder = codecs.getincrementaldecoder("utf-16-le")("surrogatepass")
        else:
            data = line.encode("utf-8", "surrogatepass")[:units]
            decoder = codecs.getincrementaldecoder("utf-8")("surrogatepass")
        index = len(decoder.decode(data, final=False))
        return index + 1 if decoder.getstate()[0] and index < len(line) else index


def common_ends(old: str, new: str) -> tuple[int, int]:
    """Lengths of the longest common prefix and suffix (not overlapping), compared in blocks
    at C speed; neither splits a ``\r\n``."""
    limit = min(len(old), len(new))
    prefix = 0
    while prefix < limit:
        step = min(_BLOCK, limit - prefix)
        if old[prefix : prefix + step] == new[prefix : prefix + step]:
            prefix += step
            continue
        low, high = 0, step  # old[prefix:prefix+low] equal, [..high] not
        while high - low > 1:
            middle = (low + high) // 2
            if old[prefix : prefix + middle] == new[prefix : prefix + middle]:
                low = middle
            else:
                high = middle
        prefix += low
        break
    if prefix and old[prefix - 1] == "\r":
        prefix -= 1
    limit -= prefix
    suffix = 0
    while suffix < limit:
        step = min(_BLOCK, limit - suffix)
        a, b = len(old) - suffix, len(new) - suffix
        if old[a - step : a] == new[b - step : b]:
            suffix += step
            continue
        low, high = 0, step
        while high - low > 1:
            middle = (low + high) // 2
            if old[a - middle : a] == new[b - middle : b]:
                low = middle
            else:
                high = middle
        suffix += low
        break
    cut = len(old) - suffix
    if suffix and old[cut] == "\n" and cut - 1 >= prefix and old[cut - 1] == "\r":
        suffix -= 1
    return prefix, suffix


class LineSequence(Sequence[str]):
    """The lines of a text (with their endings), cut from it on demand: no copy of the text."""

    def __init__(self, text: str, starts: list[int]) -> None:
        self._text = text
        self._starts = starts if text else []

    def __len__(self) -> int:
        return len(self._starts)

    def _line(self, index: int) -> str:
        end = self._starts[index + 1] if index + 1 < len(self._starts) else len(self._text)
        return self._text[self._starts[index] : end]

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...

    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        if isinstance(index, slice):
            return [self._line(i) for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return self._line(index)


class LineTable:
    """Line start offsets with one pending shift, so typing within a line costs O(1) here.

    Effective start of line ``i``: ``base[i] + (delta if i >= shift_from else 0)``. A change
    that keeps the line count only moves the pending shift (or grows it, when typing goes on in
    the same line); other changes rebuild the list around the change.
    """

    def __init__(self, base: list[int]) -> None:
        self._base = base
        self._from = len(base)
        self._delta = 0

    def __len__(self) -> int:
        return len(self._base)

    def start(self, line: int) -> int:
        """Offset where ``line`` starts."""
        return self._base[line] + (self._delta if line >= self._from else 0)

    def line_of(self, offset: int) -> int:
        """The line holding ``offset`` (the last line for an offset past the end)."""
        if self._from < len(self._base) and offset >= self._base[self._from] + self._delta:
            return bisect_right(self._base, offset - self._delta, lo=self._from) - 1
        return bisect_right(self._base, offset, hi=self._from) - 1

    def snapshot(self) -> list[int]:
        """All starts, as a list that is never mutated afterwards."""
        if self._from < len(self._base):
            delta = self._delta
            self._base = self._base[: self._from] + [s + delta for s in self._base[self._from :]]
            self._from, self._delta = len(self._base), 0
        return self._base

    def shift_after(self, line: int, delta: int) -> None:
        """Lines after ``line`` moved by ``delta`` characters (their count unchanged)."""
        if delta == 0:
            return
        if self._from != line + 1 and self._from < len(self._base):
            self.snapshot()
        if self._from >= len(self._base):  # nothing pending
            self._delta = 0
        self._from = line + 1
        self._delta += delta


class LspTextDocument(TextDocument):
    """pygls's document, made exact and fast.

    - Lines are split the way LSP clients count them (only ``\n``, ``\r\n``, ``\r``).
    - A change's position past a line's end means the line's end (LSP spec), never past the
      line break (pygls applies it after the break, and the copy drifts from the editor's).
    - Line starts are kept up to date with each change, so a keystroke costs one splice of the
      text and a shift of the line table — no per-line Python loop over the document.
    - :attr:`last_changes` holds the changes as applied, a whole-document change turned into
      the range that really changed (common prefix and suffix), for :mod:`codestral_lsp.anchors`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.units = Units(self.position_codec.encoding)
        self._table_of: tuple[str, LineTable] | None = None
        self.last_changes: list[types.TextDocumentContentChangePartial] = []

    def _table(self) -> LineTable:
        source = self.source
        if self._table_of is None or self._table_of[0] is not source:
            self._table_of = (source, LineTable(line_starts(source)))
        return self._table_of[1]

    @property
    def starts(self) -> list[int]:
        """Start offsets of the lines of :attr:`source` (a list never mutated: a snapshot)."""
        return self._table().snapshot()

    @property
    def lines(self) -> Sequence[str]:
        return LineSequence(self.source, self.starts)

    def clamped_offset(self, position: types.Position) -> int:
        """The offset of a change position: past a line's end is its end; past the last line is
        the end of the document."""
        source, table = self.source, self._table()
        if not source or position.line >= len(table):
            return len(source)
        if position.line < 0:
            return 0
        start = table.start(position.line)
        end = table.start(position.line + 1) if position.line + 1 < len(table) else len(source)
        line = source[start:end].rstrip("\r\n")
        return start + self.units.index(line, position.character)

    def position_of(self, offset: int) -> types.Position:
        """The client position of an offset."""
        source, table = self.source, self._table()
        if not source:
            return types.Position(line=0, character=0)
        if offset == len(source) and source.endswith(("\n", "\r")):
            return types.Position(line=len(table), character=0)
        line = table.line_of(offset)
        return types.Position(line=line, character=self.units.count(source[table.start(line) : offset]))

    def _replace(self, start: int, end: int, text: str) -> None:
        """Splice the text and update the line table around the change only."""
        source, table = self.source, self._table()
        new_source = source[:start] + text + source[end:]
        self._source = new_source
        if not source:
            self._table_of = None
            return
        delta = len(text) - (end - start)
        same_lines = (
            not _BREAK.search(text)
            and not _BREAK.search(source, start, end)
            and not (start > 0 and source[start - 1] == "\r" and new_source[start : start + 1] == "\n")
            # at the very end, text after a final line break starts a line (or stops doing so)
            and not (end == len(source) and (source[-1] in "\r\n" or new_source[-1:] in ("\r", "\n")))
        )
        if same_lines:  # typing inside a line: no line starts or ends here
            table.shift_after(table.line_of(start), delta)
            self._table_of = (new_source, table)
            return
        starts = table.snapshot()
        # Lines before the one holding ``start`` keep their starts; one more back in case a
        # "\r" ending it now meets an inserted "\n". Starts after ``end`` only shift.
        first = max(0, bisect_right(starts, start) - 2)
        base = starts[first]
        resume = bisect_right(starts, end)
        tail = [s + delta for s in starts[resume:]]
        region_end = tail[0] if tail else len(new_source)
        window = new_source[base : region_end + 1]
        middle = [base + m.end() for m in _BREAK.finditer(window) if base + m.end() < region_end]
        self._table_of = (new_source, LineTable(starts[: first + 1] + middle + tail))

    def _apply_incremental_change(self, change: types.TextDocumentContentChangePartial) -> None:
        start = self.clamped_offset(change.range.start)
        end = self.clamped_offset(change.range.end)
        start, end = min(start, end), max(start, end)
        applied = types.TextDocumentContentChangePartial(
            range=types.Range(start=self.position_of(start), end=self.position_of(end)), text=change.text
        )
        self._replace(start, end, change.text)
        self.last_changes.append(applied)

    def _apply_full_change(self, change: types.TextDocumentContentChangeEvent) -> None:
        old, new = self.source, change.text
        prefix, suffix = common_ends(old, new)
        applied = types.TextDocumentContentChangePartial(
            range=types.Range(start=self.position_of(prefix), end=self.position_of(len(old) - suffix)),
            text=new[prefix : len(new) - suffix],
        )
        self._source = new
        self._table_of = None
        self.last_changes.append(applied)


def use_lsp_lines(workspace: Workspace) -> None:
    """Make ``workspace`` create :class:`LspTextDocument` (pygls offers no hook for the class)."""

    def create(
        doc_uri: str, source: str | None = None, version: int | None = None, language_id: str | None = None
    ) -> TextDocument:
        return LspTextDocument(
            doc_uri,
            source=source,
            version=version,
            language_id=language_id,
            sync_kind=workspace._sync_kind,
            position_codec=workspace.position_codec,
        )

    setattr(workspace, "_create_text_document", create)  # noqa: B010


@dataclass(frozen=True)
class Selection:
    """A validated range of a document: offsets into ``source``, the text, and the client range."""

    start: int
    end: int
    text: str
    range: types.Range
    line_prefix: str  # text of the first line before the selection

    @property
    def first_line(self) -> int:
        """Zero-based line of the start."""
        return self.range.start.line

    @property
    def last_line(self) -> int:
        """Zero-based line of the last selected character."""
        end = self.range.end
        return max(self.range.start.line, end.line - 1 if end.character == 0 else end.line)


class DocumentView:
    """A snapshot of a document for converting positions and reading text."""

    def __init__(self, document: TextDocument) -> None:
        self.document = document
        self.uri = document.uri
        self.version = document.version
        self.source = document.source
        if isinstance(document, LspTextDocument):
            self._units = document.units
            self._starts = document.starts
        else:
            self._units = Units(document.position_codec.encoding)
            self._starts = line_starts(self.source)
        self.lines: Sequence[str] = LineSequence(self.source, self._starts)

    @property
    def eol(self) -> str:
        """The document's line ending: ``\\r\\n`` when its first line ends so, else ``\\n``."""
        for line in self.lines:
            if line.endswith("\r\n"):
                return "\r\n"
            if line.endswith(("\n", "\r")):
                return line[-1]
        return "\n"

    def units(self, text: str) -> int:
        """Length of ``text`` in the client's position units."""
        return self._units.count(text)

    def check_position(self, position: types.Position, what: str = "position") -> types.Position:
        """Return the position if it lies in the document, clamping a too-large character to the
        line's end (as the LSP specification says); raise :class:`ArgumentError` otherwise."""
        line, character = position.line, position.character
        if line < 0 or character < 0:
            raise ArgumentError(f"The {what} ({line}:{character}) is negative.")
        count = len(self.lines)
        if line > count or (line == count and character > 0 and count > 0):
            raise ArgumentError(
                f"The {what} is on line {line + 1}, but the document has {count} "
                f"line{'' if count == 1 else 's'}; it may have changed — select again."
            )
        if line == count:
            return types.Position(line=line, character=0)
        text = self.lines[line].rstrip("\r\n")
        return types.Position(line=line, character=min(character, self.units(text)))

    def offset_at(self, position: types.Position) -> int:
        """The string offset of a (checked) client position."""
        position = self.check_position(position)
        if position.line >= len(self.lines):
            return len(self.source)
        line = self.lines[position.line].rstrip("\r\n")
        return self._starts[position.line] + self._units.index(line, position.character)

    def position_at(self, offset: int) -> types.Position:
        """The client position of a string offset."""
        offset = max(0, min(offset, len(self.source)))
        line = bisect_right(self._starts, offset) - 1
        if line >= len(self.lines) or (offset == len(self.source) and self.source.endswith(("\n", "\r"))):
            return types.Position(line=len(self.lines), character=0)
        column = offset - self._starts[line]
        return types.Position(line=line, character=self.units(self.lines[line][:column]))

    def selection(self, client_range: types.Range) -> Selection:
        """Validate a client range (an inverted one is put right) and read its text."""
        start = self.check_position(client_range.start, "range start")
        end = self.check_position(client_range.end, "range end")
        if (end.line, end.character) < (start.line, start.character):
            start, end = end, start
        start_offset, end_offset = self.offset_at(start), self.offset_at(end)
        line_start = self._starts[start.line] if start.line < len(self.lines) else len(self.source)
        return Selection(
            start=start_offset,
            end=end_offset,
            text=self.source[start_offset:end_offset],
            range=types.Range(start=start, end=end),
            line_prefix=self.source[line_start:start_offset],
        )

    def range_of(self, start: int, end: int) -> types.Range:
        """The client range of two string offsets."""
        return types.Range(start=self.position_at(start), end=self.position_at(end))
