"""Inline completion: debounced, superseding, cached fill-in-the-middle requests.

For each document at most one request is in flight: a newer request cancels the older one at
once (its HTTP stream is closed and its LSP request answered with no items). Automatic requests
wait ``completion.debounceMs`` first and fail quietly (logged; a rejected key or a server without
fill-in-the-middle is said once). Serving the rest of a suggestion the user is typing into costs
no request at all.

Fill-in-the-middle comes in three dialects (``completion.api``): Mistral's ``/fim/completions``,
OpenAI-style ``/completions`` with ``suffix`` (Ollama, vLLM) and llama.cpp's ``/infill``. With
``"auto"`` Mistral's own endpoints use theirs; any other server is probed once, in the order
Mistral, llama.cpp, OpenAI (llama.cpp also serves ``/completions`` but ignores ``suffix`` there),
by the first completion itself, and the dialect that answered is remembered for that base URL.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lsprotocol import types
from pygls.uris import to_fs_path

from codestral_lsp.answer import extract_code
from codestral_lsp.api import CodestralError, Completion
from codestral_lsp.api.bodies import ChatRequest, FimRequest, Message
from codestral_lsp.api.client import FIM_PATHS, CodestralClient, FimDialect, server_root
from codestral_lsp.api.errors import (
    ApiError,
    AuthenticationError,
    BadRequestError,
    ModelNotFoundError,
    PermissionDeniedError,
)
from codestral_lsp.crossfile import completion_header
from codestral_lsp.fim import (
    CompletionCache,
    clean_completion,
    endpoint_missing,
    refuses_fim,
    stop_sequences,
    trim_echo,
    trim_prefix,
    trim_suffix,
)
from codestral_lsp.prompts import COMPLETION_SYSTEM_PROMPT, CURSOR_MARK
from codestral_lsp.settings import Settings
from codestral_lsp.usage import usage_or_estimate

if TYPE_CHECKING:
    from codestral_lsp.port import Session

log = logging.getLogger(__name__)


PROBE_ORDER: tuple[FimDialect, ...] = ("mistral", "llamacpp", "openai")


class NoFimEndpoint(CodestralError):
    """The server has none of the fill-in-the-middle endpoints tried."""


class FimRefused(CodestralError):
    """The server has the endpoint, but refuses fill-in-the-middle for this model (e.g. 501)."""


def fim_url(client: CodestralClient, dialect: FimDialect) -> str:
    """The URL a dialect posts to, for messages."""
    path = FIM_PATHS[dialect]
    if path.startswith("/"):
        return server_root(client.endpoint.base_url) + path
    return f"{client.endpoint.base_url}/{path}"


def candidate_dialects(
    configured: str, client: CodestralClient, known: FimDialect | None
) -> tuple[FimDialect, ...]:
    """The dialects to try, in order: the configured one; else Mistral's for Mistral's endpoints;
    else the one remembered first (the others only if it is gone); else all in probe order."""
    if configured in FIM_PATHS:
        return (configured,)  # type: ignore[return-value]
    if client.endpoint.is_mistral:
        return ("mistral",)
    if known is None:
        return PROBE_ORDER
    return (known, *(dialect for dialect in PROBE_ORDER if dialect != known))


async def fill_in_middle(
    client: CodestralClient,
    request: FimRequest,
    candidates: tuple[FimDialect, ...],
    dialects: dict[str, FimDialect],
) -> Completion:
    """Ask each candidate dialect in turn until one has the endpoint; remember it in ``dialects``
    (by base URL). Raises :class:`NoFimEndpoint` when none has, :class:`FimRefused` when the
    server has the endpoint but will not fill in the middle for this model."""
    tried: list[str] = []
    base = client.endpoint.base_url
    for dialect in candidates:
        try:
            completion = await client.fill_in_middle(dialect, request)
        except ApiError as error:
            message = error.detail.message if error.detail else None
            if endpoint_missing(error.status, message) and not client.endpoint.is_mistral:
                tried.append(f"POST {fim_url(client, dialect)} ({error.status})")
                if dialects.get(base) == dialect:
                    del dialects[base]  # another server now answers there
                continue
            if refuses_fim(dialect, error.status, message):
                dialects[base] = dialect
                raise FimRefused(
                    f"{client.endpoint.host} cannot fill in the middle with {request.model!r}: {message}"
                ) from error
            raise
        if len(candidates) > 1:
            log.info("fill-in-the-middle at %s speaks the %s dialect", base, dialect)
        dialects[base] = dialect
        return completion
    raise NoFimEndpoint(
        f"{client.endpoint.host} has no fill-in-the-middle endpoint (tried {', '.join(tried)})"
    )


@dataclass(frozen=True)
class Suggestion:
    """Text to insert at ``position`` of the document."""

    text: str
    position: types.Position


class InlineCompleter:
    """Inline completion for one server (see module docstring)."""

    def __init__(self, server: Session) -> None:
        self._server = server
        self._in_flight: dict[str, asyncio.Task[Suggestion | None]] = {}
        self.cache = CompletionCache()
        self.disabled_reason: str | None = None
        self._said: set[str] = set()
        self.use_chat = False
        self.dialects: dict[str, FimDialect] = {}  # base URL → the dialect that answered there

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
        settings = self._server.settings  # this request's snapshot: every stage below reads it
        if not settings.completion.enabled or self.disabled_reason is not None:
            return None
        older = self._in_flight.pop(uri, None)
        if older is not None and not older.done():
            older.cancel()
        work = asyncio.create_task(self._suggest(settings, uri, position, explicit), name=f"complete {uri}")
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

    async def _suggest(
        self, settings: Settings, uri: str, position: types.Position, explicit: bool
    ) -> Suggestion | None:
        server = self._server
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
        header = self.cross_file_header(uri, view.source, offset, settings)
        try:
            async with asyncio.timeout(settings.completion.timeout):
                text = await self._ask(settings, model, prefix, suffix, header)
        except TimeoutError:
            log.info("completion timed out after %s s", settings.completion.timeout)
            return None
        except CodestralError as error:
            if not self._failed(settings, error, explicit):
                return None
            try:  # switched to the chat fallback: this request is answered by it, not dropped
                async with asyncio.timeout(settings.completion.timeout):
                    text = await self._ask(settings, model, prefix, suffix, header)
            except TimeoutError:
                return None
            except CodestralError as again:
                self._failed(settings, again, explicit)
                return None
        if text is None:
            return None
        cleaned = clean_completion(text, suffix)
        if cleaned is None:
            return None
        self.cache.put(uri, view.source, offset, key, cleaned)
        return Suggestion(cleaned, position)

    def cross_file_header(self, uri: str, source: str, offset: int, settings: Settings) -> str:
        """Definitions from other files and similar code as a comment header (see
        :func:`completion_header`);
        ``settings`` is the request's snapshot."""
        server = self._server
        path = to_fs_path(uri)
        if server.index is None or not settings.context.workspace or not path:
            return ""
        budget = int(settings.completion.context_tokens * settings.context.chars_per_token)
        try:
            documents, edited = server.similar_sources(server.index, path)
            return completion_header(
                server.index, path, source, offset, budget, documents, edited, server.windows
            )
        except Exception:  # context is a bonus: a bug here must not cost the completion
            log.exception("cross-file context for completion failed")
            return ""

    async def _ask(
        self, snapshot: Settings, model: str, prefix: str, suffix: str, header: str = ""
    ) -> str | None:
        """The raw completion, or ``None`` for an answer not worth offering."""
        settings = snapshot.completion
        client = self._server.completion_client(snapshot)
        if self.use_chat:
            request = ChatRequest(
                model=model,
                messages=[
                    Message("system", COMPLETION_SYSTEM_PROMPT),
                    Message("user", f"{header}{prefix}{CURSOR_MARK}{suffix}"),
                ],
                temperature=0.0,
                max_tokens=settings.max_tokens,
            )
            answer = await client.chat(request)
            prompt_chars = len(COMPLETION_SYSTEM_PROMPT) + len(header) + len(prefix) + len(suffix)
            self._count(snapshot, model, answer, prompt_chars)
            if answer.truncated:
                log.info("chat completion cut at completion.maxTokens: not offered")
                return None
            return trim_echo(extract_code(answer.text).rstrip("\n"), prefix)
        fim = FimRequest(
            model=model,
            prompt=header + prefix,
            suffix=suffix,
            temperature=0.0,
            max_tokens=settings.max_tokens,
            stop=stop_sequences(prefix, suffix),
        )
        completion = await self._fill_in_middle(client, fim, snapshot)
        self._count(snapshot, model, completion, len(header) + len(prefix) + len(suffix))
        return completion.text

    def _count(self, settings: Settings, model: str, completion: Completion, prompt_chars: int) -> None:
        """Add a completion's tokens to the session's usage (estimated when the API sent none)."""
        usage, estimated = usage_or_estimate(
            completion.usage, prompt_chars, len(completion.text), settings.context.chars_per_token
        )
        self._server.usage.add(usage, settings.price_for(model), estimated, kind="completion", model=model)

    def _candidates(self, client: CodestralClient, settings: Settings) -> tuple[FimDialect, ...]:
        configured = settings.completion.api
        return candidate_dialects(configured, client, self.dialects.get(client.endpoint.base_url))

    async def _fill_in_middle(
        self, client: CodestralClient, request: FimRequest, settings: Settings
    ) -> Completion:
        """Ask in the known dialect, or probe them in turn (see module docstring)."""
        return await fill_in_middle(client, request, self._candidates(client, settings), self.dialects)

    def _failed(self, snapshot: Settings, error: CodestralError, explicit: bool) -> bool:
        """Report a failure; True when it switched to the chat fallback (ask again now)."""
        settings = snapshot.completion
        no_fim = isinstance(error, NoFimEndpoint | FimRefused) or (
            isinstance(error, ModelNotFoundError | BadRequestError) and not self.use_chat
        )
        if no_fim and not self.use_chat:
            if settings.chat_fallback:
                self.use_chat = True
                self._say_once(
                    "no-fim",
                    types.MessageType.Info,
                    f"{error}; inline completion will use the chat endpoint (completion.chatFallback).",
                )
                return True
            self.disabled_reason = str(error)
            if isinstance(error, NoFimEndpoint):
                advice = (
                    'Set completion.api to the dialect your server speaks ("mistral": /v1/fim/completions, '
                    '"openai": /v1/completions with suffix, "llamacpp": /infill), '
                    "completion.chatFallback to true to complete with its chat endpoint, "
                    "or completion.enabled to false."
                )
            elif isinstance(error, FimRefused):
                advice = (
                    "Serve a model with fill-in-the-middle tokens, set completion.chatFallback to true "
                    "to complete with the chat endpoint, or completion.enabled to false."
                )
            else:
                advice = (
                    "Set completion.model to a FIM model (codestral-latest), completion.chatFallback "
                    "to true, or completion.enabled to false."
                )
            self._say_once(
                "no-fim", types.MessageType.Warning, f"Inline completion is off: {error}. {advice}"
            )
            return False
        if isinstance(error, AuthenticationError | PermissionDeniedError):
            self._say_once("auth", types.MessageType.Error, f"Inline completion: {error}")
            return False
        if explicit:
            message = f"Inline completion failed: {error}"
            self._say_once(type(error).__name__, types.MessageType.Warning, message)
        else:
            log.info("inline completion failed quietly: %s", error)
        return False
