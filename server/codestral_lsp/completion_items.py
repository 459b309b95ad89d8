"""A suggestion as the editor receives it: an inline completion item (LSP 3.18), or — for
clients without inline completion — one ordinary completion item.

Pure: a :class:`~codestral_lsp.positions.DocumentView` in, LSP types out; nothing of the server.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from lsprotocol import types

from codestral_lsp.positions import DocumentView

if TYPE_CHECKING:  # imported where first used: start-up imports only what `initialize` needs
    from codestral_lsp.completion import Suggestion

_WORD_END = re.compile(r"\w*$")


def inline_items(suggestion: Suggestion) -> types.InlineCompletionList:
    """The suggestion as the answer to ``textDocument/inlineCompletion``: inserted at its
    position."""
    here = types.Range(start=suggestion.position, end=suggestion.position)
    return types.InlineCompletionList(
        items=[types.InlineCompletionItem(insert_text=suggestion.text, range=here)]
    )


def completion_item(view: DocumentView | None, suggestion: Suggestion) -> types.CompletionItem:
    """The suggestion as one completion item, for clients without inline completion (``view``:
    the document now, when it is open).

    Its edit starts at the word being typed, so the client's filtering on that word keeps it.
    """
    position = suggestion.position
    word = ""
    if view is not None:
        offset = view.offset_at(position)
        line_start = view.source.rfind("\n", 0, offset) + 1
        word = _WORD_END.search(view.source[line_start:offset]).group(0)  # type: ignore[union-attr]
        start = view.position_at(offset - len(word))
    else:
        start = position
    first_line = suggestion.text.strip().splitlines()[0] if suggestion.text.strip() else suggestion.text
    return types.CompletionItem(
        label=(word + first_line)[:80],
        kind=types.CompletionItemKind.Text,
        detail="Codestral",
        filter_text=word + suggestion.text,
        sort_text="0",
        text_edit=types.TextEdit(
            range=types.Range(start=start, end=position), new_text=word + suggestion.text
        ),
        insert_text_format=types.InsertTextFormat.PlainText,
    )
