"""Pure pieces of inline completion: what to send to fill-in-the-middle, and what to keep of it.

No LSP and no HTTP here: :mod:`codestral_lsp.completion` puts these together.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

MULTI_LINE_STOP = ["\n\n\n"]
SINGLE_LINE_STOP = ["\n"]


def trim_prefix(prefix: str, budget: int) -> str:
    """The last ``budget`` characters of ``prefix``, starting at a line boundary when cut."""
    if len(prefix) <= budget:
        return prefix
    tail = prefix[len(prefix) - budget :]
    if prefix[len(prefix) - budget - 1] == "\n":
        return tail
    newline = tail.find("\n")
    return tail[newline + 1 :] if 0 <= newline < len(tail) - 1 else tail


def trim_suffix(suffix: str, budget: int) -> str:
    """The first ``budget`` characters of ``suffix``, ending at a line boundary when cut."""
    if len(suffix) <= budget:
        return suffix
    head = suffix[:budget]
    newline = head.rfind("\n")
    return head[: newline + 1] if newline >= 0 else head


def stop_sequences(prefix: str, suffix: str) -> list[str]:
    """One line when the cursor is inside a line that goes on; several lines otherwise."""
    line_before = prefix[prefix.rfind("\n") + 1 :]
    line_after = suffix.split("\n", 1)[0]
    if line_before.strip() and line_after.strip():
        return SINGLE_LINE_STOP
    return MULTI_LINE_STOP


def trim_overlap(completion: str, suffix: str) -> str:
    """Drop the end of ``completion`` that repeats what already follows the cursor.

    ``foo(a, b)`` written before an existing ``)`` becomes ``foo(a, b``.
    """
    limit = min(len(completion), len(suffix))
    for size in range(limit, 0, -1):
        if completion.endswith(suffix[:size]):
            return completion[:-size]
    return completion


def trim_echo(completion: str, prefix: str, max_lines: int = 40) -> str:
    """Drop the start of ``completion`` that repeats what precedes the cursor.

    Chat models asked to fill in at a cursor often write the line (or lines) before it again:
    with ``    return `` before the cursor, ``return math.pi`` becomes ``math.pi``. Only whole
    repeated lines count (the current line from its start, with or without its indentation),
    so a completion that merely begins with the same character is left alone.
    """
    lines = prefix.split("\n")
    for count in range(min(len(lines), max_lines), 0, -1):
        tail = "\n".join(lines[-count:])
        for candidate in (tail, tail.lstrip(" \t")):
            if candidate.strip() and completion.startswith(candidate):
                return completion[len(candidate) :]
    return completion


def endpoint_missing(status: int, message: str | None) -> bool:
    """True when an HTTP error says the server has no such endpoint (not: no such model).

    404 and 405 mean the path is not served, unless the message names a model (Ollama and
    Mistral answer 404 for an unknown model too).
    """
    if status not in (404, 405):
        return False
    return "model" not in (message or "").lower()


def refuses_fim(dialect: str, status: int, message: str | None) -> bool:
    """True when a server has the dialect's endpoint but will not fill in the middle here.

    llama.cpp answers ``/infill`` with 501 "Infill is not supported by this model" for a model
    without FIM tokens; vLLM answers 400 "suffix is not currently supported"; Ollama 400 "… does
    not support insert" for a model whose template has no suffix.
    """
    text = (message or "").lower()
    if dialect == "llamacpp":
        return status in (400, 501) and "infill" in text
    if dialect == "openai":
        return status in (400, 422, 500, 501) and ("suffix" in text or "insert" in text)
    return False


def clean_completion(text: str, suffix: str) -> str | None:
    """The text to show, or ``None`` when nothing useful is left."""
    text = trim_overlap(text.rstrip(" \t") if "\n" not in text else text, suffix)
    if not text.strip():
        return None
    # trailing blank lines are noise in ghost text
    while text.endswith("\n\n"):
        text = text[:-1]
    return text


@dataclass(frozen=True)
class CachedCompletion:
    """A completion shown at ``offset`` of ``uri``, with the text around it when it was made."""

    uri: str
    offset: int
    prefix_tail: str
    suffix_head: str
    settings_key: tuple[object, ...]
    text: str


class CompletionCache:
    """A small LRU of recent completions that also serves the rest of a suggestion while the
    user types its first characters."""

    def __init__(self, size: int = 64, context_chars: int = 512) -> None:
        self._entries: OrderedDict[tuple[str, int, tuple[object, ...]], CachedCompletion] = OrderedDict()
        self._size = size
        self._context = context_chars

    def put(self, uri: str, source: str, offset: int, settings_key: tuple[object, ...], text: str) -> None:
        """Remember ``text`` as the completion at ``offset``."""
        entry = CachedCompletion(
            uri,
            offset,
            source[max(0, offset - self._context) : offset],
            source[offset : offset + self._context],
            settings_key,
            text,
        )
        key = (uri, offset, settings_key)
        self._entries.pop(key, None)
        self._entries[key] = entry
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def get(self, uri: str, source: str, offset: int, settings_key: tuple[object, ...]) -> str | None:
        """The rest of a cached suggestion the user is typing into, if any."""
        for key in reversed(self._entries):
            entry = self._entries[key]
            if entry.uri != uri or entry.settings_key != settings_key:
                continue
            typed_length = offset - entry.offset
            if typed_length < 0 or typed_length >= len(entry.text):
                continue
            typed = source[entry.offset : offset]
            if not entry.text.startswith(typed):
                continue
            start = max(0, entry.offset - len(entry.prefix_tail))
            if source[start : entry.offset] != entry.prefix_tail:
                continue
            if source[offset : offset + self._context] != entry.suffix_head:
                continue  # (a short suffix_head was the whole rest of the file: it must still be)
            rest = entry.text[typed_length:]
            if rest.strip():
                self._entries.move_to_end(key)
                return rest
        return None

    def clear(self) -> None:
        """Forget everything (settings changed)."""
        self._entries.clear()
