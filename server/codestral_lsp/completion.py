"""Inline completion: debounced, superseding, cached fill-in-the-middle requests.

For each document at most one request is in flight: a newer request cancels the older one at
once (its HTTP stream is closed and its LSP request answered with no items). Automatic requests
wait ``completion.debounceMs`` first and fail quietly (logged; a rejected key or a server without
fill-in-the-middle is said once). Serving the rest of a suggestion the user is typing into costs
no request at all.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lsprotocol import types

from codestral_lsp.answer import extract_code
from codestral_lsp.api import CodestralError, Completion
from codestral_lsp.api.bodies import ChatRequest, FimRequest, Message
from codestral_lsp.api.errors import (
    AuthenticationError,
    BadRequestError,
    ModelNotFoundError,
    PermissionDeniedError,
)
from codestral_lsp.fim import CompletionCache, clean_completion, stop_sequences, trim_prefix, trim_suffix
from codestral_lsp.prompts import COMPLETION_SYSTEM_PROMPT, CURSOR_MARK
from codestral_lsp.usage import usage_or_estimate

if TYPE_CHECKING:
    from codestral_lsp.server import CodestralLanguageServer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Suggestion:
    """Text to insert at ``position`` of the document."""

    text: str
    position: types.Position


class InlineCompleter:
    """Inline completion for one server (see module docstring)."""

    def __init__(self, server: CodestralLanguageServer) -> None:
        self._server = server
        self._in_flight: dict[str, asyncio.Task[Suggestion | None]] = {}
        self.cache = CompletionCache()
        self.disabled_reason: str | None = None
        self._said: set[str] = set()
        self.use_chat = False

    def in_flight(self) -> int:
        """How many completion requests are running."""
        return sum(1 for task in self._in_flight.values() if not task.done())

    def settings_changed(self) -> None:
        """Start afresh: a new endpoint or model may support what the old one did not."""
        self.cache.clear()
        self.disabled_reason = None
        self.use_chat = False
        self._said.clear()

    def _say_once(self, key: str, kind: types.MessageType, message: str) -> None:
        log.warning("%s", message)
        if key not in self._said:
            self._said.add(key)
            self._server.tell_user(kind, message)

    async def suggest(self, uri: str, position: types.Position, explicit: bool) -> Suggestion | None:
        """A suggestion at ``position``, or ``None``; never raises for API failures."""
        settings = self._server.settings.completion
        if not settings.enabled or self.disabled_reason is not None:
            return None
        older = self._in_flight.pop(uri, None)
        if older is not None and not older.done():
            older.cancel()
        work = asyncio.create_task(self._suggest(uri, position, explicit), name=f"complete {uri}")
        self._in_flight[uri] = work
        try:
            return await work
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                work.cancel()
                raise
            return None  # superseded by a newer request: answered with no items
        finally:
            if self._in_flight.get(uri) is work:
                del self._in_flight[uri]

    async def _suggest(self, uri: str, position: types.Position, explicit: bool) -> Suggestion | None:
        server = self._server
        settings = server.settings
        view = server.open_document_view(uri)
        if view is None:
            return None
        position = view.check_position(position)
        offset = view.offset_at(position)
        model = settings.completion.model or settings.model
        limits = settings.completion
        key = (model, limits.max_tokens, limits.prefix_chars, limits.suffix_chars)
        cached = self.cache.get(uri, view.source, offset, key)
        if cached is not None:
            return Suggestion(cached, position)
        if not explicit and settings.completion.debounce_ms:
            await asyncio.sleep(settings.completion.debounce_ms / 1000)
        prefix = trim_prefix(view.source[:offset], settings.completion.prefix_chars)
        suffix = trim_suffix(view.source[offset:], settings.completion.suffix_chars)
        try:
            async with asyncio.timeout(settings.completion.timeout):
                text = await self._ask(model, prefix, suffix)
        except TimeoutError:
            log.info("completion timed out after %s s", settings.completion.timeout)
            return None
        except CodestralError as error:
            self._failed(error, explicit)
            return None
        cleaned = clean_completion(text, suffix)
        if cleaned is None:
            return None
        self.cache.put(uri, view.source, offset, key, cleaned)
        return Suggestion(cleaned, position)

    async def _ask(self, model: str, prefix: str, suffix: str) -> str:
        settings = self._server.settings.completion
        client = self._server.completion_client()
        if self.use_chat:
            request = ChatRequest(
                model=model,
                messages=[
                    Message("system", COMPLETION_SYSTEM_PROMPT),
                    Message("user", f"{prefix}{CURSOR_MARK}{suffix}"),
                ],
                temperature=0.0,
                max_tokens=settings.max_tokens,
            )
            answer = await client.chat(request)
            self._count(model, answer, len(COMPLETION_SYSTEM_PROMPT) + len(prefix) + len(suffix))
            return extract_code(answer.text).rstrip("\n")
        completion = await client.fim(
            FimRequest(
                model=model,
                prompt=prefix,
                suffix=suffix,
                temperature=0.0,
                max_tokens=settings.max_tokens,
                stop=stop_sequences(prefix, suffix),
            )
        )
        self._count(model, completion, len(prefix) + len(suffix))
        return completion.text

    def _count(self, model: str, completion: Completion, prompt_chars: int) -> None:
        """Add a completion's tokens to the session's usage (estimated when the API sent none)."""
        settings = self._server.settings
        usage, estimated = usage_or_estimate(
            completion.usage, prompt_chars, len(completion.text), settings.context.chars_per_token
        )
        self._server.usage.add(usage, settings.price_for(model), estimated, kind="completion")

    def _failed(self, error: CodestralError, explicit: bool) -> None:
        settings = self._server.settings.completion
        if isinstance(error, ModelNotFoundError | BadRequestError) and not self.use_chat:
            if settings.chat_fallback:
                self.use_chat = True
                self._say_once(
                    "no-fim",
                    types.MessageType.Info,
                    f"The server has no fill-in-the-middle ({error}); inline completion will use "
                    f"its chat endpoint.",
                )
                return
            self.disabled_reason = str(error)
            self._say_once(
                "no-fim",
                types.MessageType.Warning,
                f"Inline completion is off: the server has no fill-in-the-middle for this model ({error}). "
                f"Set completion.model to a FIM model (codestral-latest), completion.chatFallback to true, "
                f"or completion.enabled to false.",
            )
            return
        if isinstance(error, AuthenticationError | PermissionDeniedError):
            self._say_once("auth", types.MessageType.Error, f"Inline completion: {error}")
            return
        if explicit:
            message = f"Inline completion failed: {error}"
            self._say_once(type(error).__name__, types.MessageType.Warning, message)
        else:
            log.info("inline completion failed quietly: %s", error)
