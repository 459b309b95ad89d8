"""The regions the user edited recently, in open documents and in files since closed.

A small bounded history (the most recent :data:`MAX_REGIONS`), fed by every ``didChange``: an
edit next to a region already known grows it (up to :data:`MAX_SPAN` lines), else it starts a
new one; edits above a region move it. While its document is open a region's text is read from
the editor's buffer; once it is closed, from the document's text as the last edit left it.
:mod:`codestral_lsp.crossfile` ranks them with the windows of the open documents by their
similarity to the code at hand. Pure: no I/O, no LSP types (lines are zero-based).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from codestral_lsp.positions import lsp_lines

MAX_REGIONS = 16
MAX_SPAN = 40  # lines one region may grow to by merging
MERGE_GAP = 3  # an edit this close to a region (in lines) grows it
MARGIN = 2  # lines around the edited ones shown with them
SHOWN_LINES = 20  # lines of a region shown at most (like a similar-code window)
MAX_SHOWN_CHARS = 4000  # characters of a region shown at most: longer lines (minified) are not
MAX_KEPT_CHARS = 1 << 20  # a larger document's text is not kept for after it closes

_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass
class EditedRegion:
    """Lines ``first``–``last`` (inclusive, as the document is now) of the file at ``path`` (a
    real path); ``source``: the document's text as the last edit of the file left it (kept for
    when it is closed); ``shown``: the region's text, once worked out from ``source``."""

    path: str
    first: int
    last: int
    source: str = ""
    shown: str | None = None

    def shown_from(self) -> int:
        """The first line shown (a margin above the edited lines)."""
        return max(0, self.first - MARGIN)

    def window(self, lines: Sequence[str]) -> str:
        """The edited lines with their margin, from the document's ``lines``, up to the first
        line that would take it over :data:`MAX_SHOWN_CHARS` (minified or generated code is no
        example to follow, and would cost every prompt and completion its similarity)."""
        start = self.shown_from()
        end = min(len(lines), self.last + 1 + MARGIN, start + SHOWN_LINES)
        shown, size = [], 0
        for line in lines[start:end]:
            size += len(line)
            if size > MAX_SHOWN_CHARS:
                break
            shown.append(line)
        return "".join(shown)


class EditHistory:
    """The most recently edited regions, oldest first."""

    def __init__(self, limit: int = MAX_REGIONS) -> None:
        self.limit = limit
        self.regions: list[EditedRegion] = []

    def changed(self, path: str, first: int, last: int, text: str, source: str) -> None:
        """Lines ``first``–``last`` (inclusive) of the document at ``path`` were replaced by
        ``text`` (an LSP change as applied: its range in the lines before the change), leaving
        the document's text ``source``."""
        added = len(_BREAK.findall(text))
        delta = added - (last - first)
        if len(source) > MAX_KEPT_CHARS:
            source = ""
        new_last = first + added
        kept: list[EditedRegion] = []
        grown = EditedRegion(path, first, new_last, source)
        for region in self.regions:
            if region.path != path:
                kept.append(region)
                continue
            region.source, region.shown = source, None
            if region.first > last:  # below the change: moved
                region.first += delta
                region.last += delta
            elif region.last >= first:  # overlapping the change: its end moves with the text
                region.last = max(new_last, region.last + delta)
                region.first = min(region.first, first)
            near = region.first - MERGE_GAP <= grown.last and grown.first <= region.last + MERGE_GAP
            span = max(region.last, grown.last) - min(region.first, grown.first) + 1
            if near and span <= MAX_SPAN:
                grown.first, grown.last = min(region.first, grown.first), max(region.last, grown.last)
            else:
                kept.append(region)
        kept.append(grown)  # the most recent, last
        self.regions = kept[-self.limit :]

    def forget(self, path: str) -> None:
        """The file (or folder) at ``path`` is gone."""
        inside = path.rstrip(os.sep) + os.sep
        self.regions = [r for r in self.regions if r.path != path and not r.path.startswith(inside)]

    def snippets(
        self,
        lines_of: Callable[[str], Sequence[str] | None],
        skip: str | None = None,
        exists: Callable[[str], bool] = lambda path: True,
    ) -> list[tuple[str, int, str]]:
        """(path, first line shown, text) of each region but those of ``skip``, most recent
        first; ``lines_of`` gives an open document's lines (``None`` when it is not open: then
        the text the last edit left counts, while ``exists`` says the file is still there — a
        file deleted with no event telling the server is forgotten)."""
        found: list[tuple[str, int, str]] = []
        gone: set[str] = set()
        for region in reversed(self.regions):
            if region.path == skip or region.path in gone:
                continue
            lines = lines_of(region.path)
            if lines is not None:
                region.shown = None
                text = region.window(lines)
            elif not exists(region.path):
                gone.add(region.path)
                continue
            else:
                if region.shown is None:
                    region.shown = region.window(lsp_lines(region.source))
                text = region.shown
            if text.strip():
                found.append((region.path, region.shown_from(), text))
        if gone:
            self.regions = [r for r in self.regions if r.path not in gone]
        return found
