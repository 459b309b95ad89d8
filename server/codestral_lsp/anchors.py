"""Keeping a job's range attached to its text while the user edits the document.

A range follows edits made before it (its lines and columns shift), ignores edits after it, and
is lost — the job must not apply — when an edit touches it. All in client position units.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from lsprotocol import types

_BREAK = re.compile(r"\r\n|\r|\n")


def _key(position: types.Position) -> tuple[int, int]:
    return (position.line, position.character)


def shift_range(
    anchor: types.Range,
    change: types.Range,
    new_text: str,
    units: Callable[[str], int],
) -> types.Range | None:
    """Where ``anchor`` is after replacing ``change`` with ``new_text``; ``None`` if it was touched.

    ``units`` counts a string's length in client position units.
    """
    if _key(change.end) <= _key(anchor.start):
        pieces = _BREAK.split(new_text)
        if len(pieces) == 1:
            inserted_end = types.Position(
                line=change.start.line, character=change.start.character + units(new_text)
            )
        else:
            inserted_end = types.Position(
                line=change.start.line + len(pieces) - 1, character=units(pieces[-1])
            )

        def moved(position: types.Position) -> types.Position:
            if position.line == change.end.line:
                return types.Position(
                    line=inserted_end.line,
                    character=inserted_end.character + position.character - change.end.character,
                )
            return types.Position(
                line=position.line + inserted_end.line - change.end.line,
                character=position.character,
            )

        return types.Range(start=moved(anchor.start), end=moved(anchor.end))
    if _key(change.start) >= _key(anchor.end):
        return anchor
    return None
