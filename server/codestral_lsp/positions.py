"""The one place where client positions (UTF-16 by default) meet Python string offsets.

Built on pygls's :class:`TextDocument` and its position codec (which follows the encoding the
client negotiated). A :class:`DocumentView` reads the document's lines once, so converting many
positions costs no more than converting one.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate

from lsprotocol import types
from pygls.workspace import TextDocument, Workspace

# What str.splitlines also breaks at, and LSP does not.
_OTHER_BREAKS = "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


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


class LspTextDocument(TextDocument):
    """pygls's document, with lines split the way LSP clients count them."""

    @property
    def lines(self) -> Sequence[str]:
        return tuple(lsp_lines(self.source))


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


class ArgumentError(ValueError):
    """A request argument that cannot be used; ``str()`` is the sentence for the user."""


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
        self.lines: tuple[str, ...] = tuple(document.lines)
        self._codec = document.position_codec
        self._starts = [0, *accumulate(len(line) for line in self.lines)]

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
        return int(self._codec.client_num_units(text))

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
        server = self._codec.position_from_client_units(self.lines, position)
        return self._starts[server.line] + server.character

    def position_at(self, offset: int) -> types.Position:
        """The client position of a string offset."""
        offset = max(0, min(offset, len(self.source)))
        line = bisect_right(self._starts, offset) - 1
        if line >= len(self.lines):
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
