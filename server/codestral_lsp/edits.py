"""The smallest set of edits that turns the selected text into the new text.

Lines are compared with :mod:`difflib`; each changed run of lines is then trimmed to the
characters that really differ. Offsets are relative to the selection, so every edit lies inside
it by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from difflib import SequenceMatcher


@dataclass(frozen=True)
class Hunk:
    """Replace ``old[start:end]`` with ``text``."""

    start: int
    end: int
    text: str


def _trim(old: str, start: int, end: int, text: str) -> Hunk:
    """Drop the characters a hunk's old and new text share at both ends."""
    removed = old[start:end]
    prefix = 0
    limit = min(len(removed), len(text))
    while prefix < limit and removed[prefix] == text[prefix]:
        prefix += 1
    if prefix and removed[prefix - 1] == "\r":  # never split a CRLF
        prefix -= 1
    suffix = 0
    limit -= prefix
    while suffix < limit and removed[-1 - suffix] == text[-1 - suffix]:
        suffix += 1
    if (
        suffix
        and removed[len(removed) - suffix] == "\n"
        and len(removed) - suffix - 1 >= prefix
        and removed[len(removed) - suffix - 1] == "\r"
    ):
        suffix -= 1
    return Hunk(start + prefix, end - suffix, text[prefix : len(text) - suffix])


def minimal_hunks(old: str, new: str) -> list[Hunk]:
    """Edits, in order and not overlapping, that turn ``old`` into ``new``."""
    if old == new:
        return []
    old_lines = old.splitlines(keepends=True)
    new_lines = new.splitlines(keepends=True)
    starts = [0]
    for line in old_lines:
        starts.append(starts[-1] + len(line))
    hunks = []
    matcher = SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        hunk = _trim(old, starts[i1], starts[i2], "".join(new_lines[j1:j2]))
        if hunk.start != hunk.end or hunk.text:
            hunks.append(hunk)
    return hunks

