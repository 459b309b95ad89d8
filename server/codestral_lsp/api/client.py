"""The async Codestral client: streaming chat and FIM, retries, timeouts, typed errors.

One :class:`httpx.AsyncClient` per :class:`CodestralClient`, created on first use (an event loop
must be running) and reused for every request. Flow of a request::

    stream_chat(request) ─► _slot()                one of 32 places; more requests wait
                        ─► _open(path, body)      retries 429/5xx/connection errors,
                                                   honours Retry-After; 3xx refused
                        ─► _read_stream(response)  bytes → SSE events → TextDelta …, then
                                                   Completion; time limits on text and on
                                                   silence, bounded size, cut/errored raise

What a server sends back is bounded: answer text by ``max_tokens`` (:class:`AnswerLimits`),
lines and bodies likewise, error text quoted to the user to a sentence. Only the first choice
(``index`` 0) is read, ``content`` as a string or as a list of text chunks. Cancelling the task
that consumes a stream closes the HTTP response at once.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import socket
import ssl
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from codestral_lsp import __version__
from codestral_lsp.api.bodies import ChatRequest, FimRequest
from codestral_lsp.api.bodylog import log_body, redact_headers
from codestral_lsp.api.endpoint import Endpoint
from codestral_lsp.api.errors import (
    AnswerTooLong,
    ApiError,
    CodestralError,
    ConnectTimeout,
    FirstByteTimeout,
    NetworkError,
    ProtocolError,
    RedirectRefused,
    StreamFailed,
    StreamInterrupted,
    StreamStalled,
    TlsError,
    parse_error_body,
    shorten,
)
from codestral_lsp.api.sse import LineTooLong, SseEvent, SseParser
from codestral_lsp.api.status import error_for_status
from codestral_lsp.api.types import (
    Completion,
    ModelInfo,
    RetryPolicy,
    TextDelta,
    Timeouts,
    Usage,
)

log = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
FimDialect = Literal["mistral", "openai", "llamacpp"]
"""How a server offers fill-in-the-middle: Mistral ``/fim/completions``, OpenAI-style
``/completions`` with ``suffix`` (Ollama, vLLM), llama.cpp ``/infill`` (at the server's root)."""
FIM_PATHS: dict[FimDialect, str] = {
    "mistral": "fim/completions",
    "openai": "completions",
    "llamacpp": "/infill",
}
KEEPALIVE_CONNECTIONS = 4  # idle connections kept for reuse; an editor needs few
MAX_CONCURRENT_REQUESTS = 32  # more wait their turn (and are told so), never fail
StreamItem = TextDelta | Completion
SENT_AT = "codestral_lsp.sent_at"  # response extension: loop time the request was sent

# Bounds on what a server may send back (a hostile or broken server must not grow memory).
MAX_CHARS_PER_TOKEN = 32  # no tokenizer has longer tokens on average over a whole answer
ANSWER_SLACK_CHARS = 4096
TOKENS_WHEN_UNBOUNDED = 32768  # a request without max_tokens
BYTES_PER_ANSWER_CHAR = 16  # JSON escapes (an emoji is 12 bytes) and the event around it
LINE_SLACK_BYTES = 64 * 1024
MAX_LINE_BYTES = 64 * 1024 * 1024
ERROR_BODY_BYTES = 256 * 1024  # what is read of an error body; the message quoted is shorter
FINISHED_GRACE_SECONDS = 2.0  # after a finish_reason, how long to wait for [DONE] or usage
DRAIN_SECONDS = 0.5  # after [DONE], how long to read on so the connection can be reused
DRAIN_BYTES = 64 * 1024


@dataclass(frozen=True)
class AnswerLimits:
    """How much a server may send for one request, derived from the ``max_tokens`` asked for."""

    max_tokens: int

    @classmethod
    def for_body(cls, body: dict[str, Any] | None) -> AnswerLimits:
        """The limits for a request body (``max_tokens``, or llama.cpp's ``n_predict``)."""
        body = body or {}
        value = body.get("max_tokens", body.get("n_predict"))
        ok = isinstance(value, int) and not isinstance(value, bool) and value > 0
        return cls(value if ok else TOKENS_WHEN_UNBOUNDED)  # type: ignore[arg-type]

    @property
    def text_chars(self) -> int:
        """The longest answer text accepted."""
        return self.max_tokens * MAX_CHARS_PER_TOKEN + ANSWER_SLACK_CHARS

    @property
    def line_bytes(self) -> int:
        """The longest SSE line (or event), and the longest non-streamed body, in bytes."""
        return min(MAX_LINE_BYTES, self.text_chars * BYTES_PER_ANSWER_CHAR + LINE_SLACK_BYTES)


@dataclass(frozen=True)
class ChunkContent:
    """What one stream chunk says about the first choice: new text, why it ended, usage."""

    text: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None


@dataclass(frozen=True)
class RetryNotice:
    """Told to the caller before waiting to retry: which attempt comes next, after how long, why.

    ``delay`` is ``None`` for a wait of unknown length (for a free connection: see ``reason``).
    """

    next_attempt: int
    delay: float | None
    reason: str

    def describe(self) -> str:
        """E.g. ``retrying in 3 s (rate limited)``, or the reason alone for a queued request."""
        if self.delay is None:
            return self.reason
        return f"retrying in {self.delay:.0f} s ({self.reason})"


RetryCallback = Callable[[RetryNotice], None]


def retry_after_seconds(headers: httpx.Headers, now: float | None = None) -> float | None:
    """The wait a response asks for: ``retry-after-ms``, else ``Retry-After`` (seconds or date)."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def backoff_delay(policy: RetryPolicy, retry_number: int) -> float:
    """Exponential backoff with jitter for the ``retry_number``-th retry (1 for the first)."""
    base = policy.initial_delay * float(2 ** (retry_number - 1))
    return min(policy.max_delay, base) * random.uniform(0.5, 1.0)


def _is_tls_failure(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    text = str(exc).upper()
    return "SSL" in text or "CERTIFICATE" in text


def _status_reason(status: int) -> str:
    return "rate limited" if status == 429 else f"server error {status}"


def _usage_from(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    try:
        return Usage(int(raw.get("prompt_tokens") or 0), int(raw.get("completion_tokens") or 0))
    except (TypeError, ValueError):
        return None


def _error_object_message(chunk: dict[str, Any]) -> str | None:
    """The message of an error object sent inside a stream, or ``None`` for a normal chunk."""
    if chunk.get("object") == "error" or isinstance(chunk.get("error"), dict | str):
        body = parse_error_body(json.dumps(chunk))
        return body.message or "unknown error"
    return None


def content_text(content: Any) -> str:
    """The text of a message's or delta's ``content``: a string, ``null``, or a list of content
    chunks of which only the text ones (``{"type": "text", "text": ...}``; ``type`` defaults to
    text) are the answer — thinking, references and images are not."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part["text"]
            for part in content
            if isinstance(part, dict)
            and part.get("type", "text") == "text"
            and isinstance(part.get("text"), str)
        )
    return ""


def _first_choice(choices: Any) -> dict[str, Any] | None:
    """The choice with ``index`` 0 (a missing index counts as 0): only one answer is asked for,
    and text of any other choice must never be mixed into it."""
    if not isinstance(choices, list):
        return None
    for choice in choices:
        if isinstance(choice, dict) and choice.get("index", 0) in (0, None):
            return choice
    return None


def _finish_reason(choice: dict[str, Any]) -> str | None:
    reason = choice.get("finish_reason")
    return reason if isinstance(reason, str) and reason else None


def read_chunk(chunk: dict[str, Any]) -> ChunkContent:
    """Read one parsed stream chunk (``chat.completion.chunk``)."""
    usage = _usage_from(chunk.get("usage"))
    choice = _first_choice(chunk.get("choices"))
    if choice is None:
        return ChunkContent(usage=usage)
    delta = choice.get("delta")
    text = content_text(delta.get("content")) if isinstance(delta, dict) else ""
    return ChunkContent(text, _finish_reason(choice), usage)


def completion_from_json(raw: bytes) -> Completion:
    """Read a non-streaming chat or FIM response body."""
    try:
        body = json.loads(raw)
        choice = _first_choice(body["choices"])
        if choice is None or not isinstance(choice.get("message"), dict):
            raise TypeError("no message")
    except (ValueError, KeyError, IndexError, TypeError, RecursionError) as exc:
        raise ProtocolError(
            "The server's answer was not a chat completion; check that baseUrl points at the "
            "API (it usually ends in /v1)."
        ) from exc
    text = content_text(choice["message"].get("content"))
    return Completion(text, _finish_reason(choice), _usage_from(body.get("usage")))


def text_completion_from_json(raw: bytes) -> Completion:
    """Read a non-streaming OpenAI-style ``/completions`` answer (``choices[0].text``)."""
    try:
        body = json.loads(raw)
        choice = body["choices"][0]
        text = choice["text"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise ProtocolError(
            "The server's answer to /completions was not a text completion; check baseUrl and "
            "the completion.api setting."
        ) from exc
    return Completion(str(text or ""), choice.get("finish_reason"), _usage_from(body.get("usage")))


def infill_from_json(raw: bytes) -> Completion:
    """Read a non-streaming llama.cpp ``/infill`` answer (``content``, ``stop_type``)."""
    try:
        body = json.loads(raw)
        text = body["content"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ProtocolError(
            "The server's answer to /infill was not llama.cpp's; check baseUrl and the "
            "completion.api setting."
        ) from exc
    finish = "length" if body.get("stop_type") == "limit" else "stop"
    usage = None
    if isinstance(body.get("tokens_evaluated"), int) and isinstance(body.get("tokens_predicted"), int):
        usage = Usage(body["tokens_evaluated"], body["tokens_predicted"])
    return Completion(str(text or ""), finish, usage)


def _completion_summary(completion: Completion) -> dict[str, Any]:
    usage = completion.usage
    return {
        "content": completion.text,
        "finish_reason": completion.finish_reason,
        "usage": None
        if usage is None
        else {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens},
    }


def server_root(base_url: str) -> str:
    """The server's root URL: ``base_url`` without a trailing ``/v1`` (llama.cpp's ``/infill``
    lives there, not under ``/v1``)."""
    trimmed = base_url.rstrip("/")
    return trimmed[: -len("/v1")] if trimmed.endswith("/v1") else trimmed


def names_stream_options(error: ApiError) -> bool:
    """True when a 400/422 rejects ``stream_options`` (a server that does not accept it)."""
    if error.status not in (400, 422):
        return False
    detail = error.detail
    text = " ".join(str(part) for part in (detail.message, detail.field) if part) if detail else ""
    return "stream_options" in text or "include_usage" in text


class CodestralClient:
    """Talks to one resolved :class:`Endpoint`. Safe to share between concurrent tasks."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.timeouts = timeouts or Timeouts()
        self.retry = retry or RetryPolicy()
        self._http: httpx.AsyncClient | None = None
        self._slots = asyncio.Semaphore(MAX_CONCURRENT_REQUESTS)
        # Ask for usage in streams (stream_options)? None: not yet known. OpenAI-compatible
        # servers send usage only when asked, Mistral's API refuses the field: ask once a stream
        # came without usage, stop for good once the server refuses it.
        self.ask_stream_usage: bool | None = None

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            headers = {"User-Agent": f"codestral-lsp/{__version__}"}
            if self.endpoint.api_key:
                headers["Authorization"] = f"Bearer {self.endpoint.api_key}"
            connect = self.timeouts.connect
            self._http = httpx.AsyncClient(
                base_url=self.endpoint.base_url + "/",
                headers=headers,
                timeout=httpx.Timeout(connect=connect, read=None, write=connect, pool=None),
                follow_redirects=False,
                trust_env=True,
                limits=httpx.Limits(
                    max_connections=MAX_CONCURRENT_REQUESTS, max_keepalive_connections=KEEPALIVE_CONNECTIONS
                ),
            )
        return self._http

    async def aclose(self) -> None:
        """Close the connection pool."""
        if self._http is not None:
            http, self._http = self._http, None
            await http.aclose()

    # -- public API -------------------------------------------------------------------------

    def stream_chat(
        self, request: ChatRequest, on_retry: RetryCallback | None = None
    ) -> AsyncGenerator[StreamItem, None]:
        """Stream a chat answer: :class:`TextDelta` items, then one :class:`Completion`."""
        return self._stream_chat_counted(request, on_retry)

    async def _stream_chat_counted(
        self, request: ChatRequest, on_retry: RetryCallback | None
    ) -> AsyncGenerator[StreamItem, None]:
        """:meth:`stream_chat`, asking OpenAI-compatible servers for usage (``stream_options``)."""
        body = request.body(stream=True)
        asked = self.ask_stream_usage is True and not self.endpoint.is_mistral
        if asked:
            body["stream_options"] = {"include_usage": True}
        stream = self._stream("chat/completions", body, request.model, on_retry)
        try:
            try:
                first = await anext(stream)
            except ApiError as error:
                if not (asked and names_stream_options(error)):
                    raise
                log.info("%s refuses stream_options; usage will be estimated", self.endpoint.host)
                self.ask_stream_usage = False
                await stream.aclose()
                body.pop("stream_options")
                stream = self._stream("chat/completions", body, request.model, on_retry)
                first = await anext(stream)
            item: StreamItem | None = first
            while item is not None:
                if isinstance(item, Completion):
                    log_body(log, "← stream (assembled)", _completion_summary(item))
                if isinstance(item, Completion) and item.usage is None and self.ask_stream_usage is None:
                    self.ask_stream_usage = not self.endpoint.is_mistral
                yield item
                item = await anext(stream, None)
        finally:
            await stream.aclose()

    async def chat(self, request: ChatRequest, on_retry: RetryCallback | None = None) -> Completion:
        """Ask for a whole chat answer at once (no streaming)."""
        return await self._complete("chat/completions", request.body(stream=False), request.model, on_retry)

    async def fill_in_middle(
        self, dialect: FimDialect, request: FimRequest, on_retry: RetryCallback | None = None
    ) -> Completion:
        """Ask for a whole fill-in-the-middle answer in ``dialect`` (see :data:`FimDialect`)."""
        if dialect == "openai":
            return await self._complete(
                "completions", request.openai_body(False), request.model, on_retry, text_completion_from_json
            )
        if dialect == "llamacpp":
            url = server_root(self.endpoint.base_url) + "/infill"
            return await self._complete(
                url, request.infill_body(False), request.model, on_retry, infill_from_json
            )
        return await self._complete("fim/completions", request.body(False), request.model, on_retry)

    async def list_models(self) -> list[ModelInfo]:
        """``GET /models``: the models this key may use, with their capabilities when known."""
        async with self._slot(None):
            response = await self._open("GET", "models", None, None, None)
            try:
                raw = await self._read_answer_body(response, AnswerLimits(TOKENS_WHEN_UNBOUNDED))
            finally:
                await response.aclose()
        try:
            entries = json.loads(raw)
            entries = entries["data"] if isinstance(entries, dict) else entries
            return [self._model_info(entry) for entry in entries if isinstance(entry, dict)]
        except (ValueError, KeyError, TypeError) as exc:
            raise ProtocolError(
                f"{self.endpoint.base_url}/models did not answer a list of models; check baseUrl."
            ) from exc

    # -- internals ------------------------------------------------------------------------

    @staticmethod
    def _model_info(entry: dict[str, Any]) -> ModelInfo:
        caps = entry.get("capabilities")
        caps = caps if isinstance(caps, dict) else {}
        aliases = entry.get("aliases") if isinstance(entry.get("aliases"), list) else []
        context = entry.get("max_context_length", entry.get("max_model_len"))  # Mistral's; vLLM's
        return ModelInfo(
            id=str(entry.get("id", "")),
            aliases=tuple(str(a) for a in aliases or ()),
            chat=caps.get("completion_chat") if "completion_chat" in caps else None,
            fim=caps.get("completion_fim") if "completion_fim" in caps else None,
            max_context_length=context if isinstance(context, int) else None,
        )

    async def _complete(
        self,
        path: str,
        body: dict[str, Any],
        model: str,
        on_retry: RetryCallback | None,
        parse: Callable[[bytes], Completion] = completion_from_json,
    ) -> Completion:
        limits = AnswerLimits.for_body(body)
        async with self._slot(on_retry):
            response = await self._open("POST", path, body, model, on_retry)
            try:
                raw = await self._read_answer_body(response, limits)
            finally:
                await response.aclose()
        log_body(log, f"← {response.status_code} {response.url}", raw)
        return parse(raw)

    @asynccontextmanager
    async def _slot(self, on_retry: RetryCallback | None) -> AsyncIterator[None]:
        """Hold one of the :data:`MAX_CONCURRENT_REQUESTS` places for a request's lifetime;
        when all are taken, wait (cancellably) and say so, rather than fail."""
        if self._slots.locked():
            log.info("%d requests are running; this one waits for a free connection", MAX_CONCURRENT_REQUESTS)
            if on_retry is not None:
                on_retry(
                    RetryNotice(
                        1,
                        None,
                        f"waiting: {MAX_CONCURRENT_REQUESTS} requests to {self.endpoint.host} are already "
                        f"running",
                    )
                )
        async with self._slots:
            yield

    async def _read_body(self, response: httpx.Response, limit: int) -> bytes | None:
        """Read a whole (non-streamed) body; ``None`` when it is longer than ``limit`` bytes.

        Time limits: ``timeouts.idle`` of silence, as for streams, and ``timeouts.firstByte`` for
        the whole body (a body trickling in forever is ended too).
        """
        received = bytearray()
        chunks = response.aiter_bytes()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeouts.first_byte
        try:
            while True:
                try:
                    async with asyncio.timeout(max(0.0, min(self.timeouts.idle, deadline - loop.time()))):
                        data = await anext(chunks)
                except StopAsyncIteration:
                    return bytes(received)
                received += data
                if len(received) > limit:
                    return None
        except TimeoutError as exc:
            if loop.time() >= deadline:
                raise FirstByteTimeout(self._no_text_message(False)) from exc
            raise StreamStalled(self._stalled_message()) from exc
        except (httpx.TransportError, httpx.DecodingError, httpx.StreamError) as exc:
            raise StreamInterrupted(self._cut_message(0)) from exc

    async def _read_answer_body(self, response: httpx.Response, limits: AnswerLimits) -> bytes:
        raw = await self._read_body(response, limits.line_bytes)
        if raw is None:
            raise AnswerTooLong(self._too_long_message(limits))
        return raw

    async def _read_error_body(self, response: httpx.Response) -> bytes:
        """At most :data:`ERROR_BODY_BYTES` of an error body (a huge one is cut, not read whole)."""
        received = bytearray()
        try:
            async with asyncio.timeout(self.timeouts.idle):
                async for data in response.aiter_bytes():
                    received += data
                    if len(received) > ERROR_BODY_BYTES:
                        break
        except (TimeoutError, httpx.TransportError, httpx.DecodingError, httpx.StreamError):
            pass  # the status says enough
        return bytes(received[:ERROR_BODY_BYTES])

    def _stalled_message(self) -> str:
        return (
            f"{self.endpoint.host} stopped sending for {self.timeouts.idle:g} s in the middle of "
            f"the answer, so the request was ended; nothing was applied. Try again; raise "
            f"timeouts.idle if your server pauses that long."
        )

    def _no_text_message(self, started: bool) -> str:
        if started:
            what = f"sent no more of the answer for {self.timeouts.first_byte:g} s"
        else:
            what = f"accepted the request but sent no answer within {self.timeouts.first_byte:g} s"
        return (
            f"{self.endpoint.host} {what} (it kept the connection open: a self-hosted server may "
            f"still be reading a long prompt, or be stuck), so the request was ended; nothing was "
            f"applied. Select less code, or raise timeouts.firstByte for a slow server."
        )

    def _too_long_message(self, limits: AnswerLimits) -> str:
        return (
            f"{self.endpoint.host} sent more than a {limits.max_tokens}-token answer can hold "
            f"(over {limits.text_chars:,} characters, or a line that never ended), so it was "
            f"stopped; nothing was applied. The server may be ignoring max_tokens."
        )

    def _cut_message(self, received: int) -> str:
        return (
            f"The connection to {self.endpoint.host} was cut before the answer was complete "
            f"({received:,} character{'' if received == 1 else 's'} received); "
            f"nothing was applied. Try again."
        )

    async def _stream(
        self, path: str, body: dict[str, Any], model: str, on_retry: RetryCallback | None
    ) -> AsyncGenerator[StreamItem, None]:
        limits = AnswerLimits.for_body(body)
        async with self._slot(on_retry):
            response = await self._open("POST", path, body, model, on_retry)
            try:
                content_type = response.headers.get("content-type", "")
                if "text/event-stream" not in content_type:
                    raw = await self._read_answer_body(response, limits)
                    completion = self._non_stream_answer(raw, content_type)
                    if len(completion.text) > limits.text_chars:
                        raise AnswerTooLong(self._too_long_message(limits))
                    if completion.text:
                        yield TextDelta(completion.text)
                    yield completion
                    return
                async for item in self._read_stream(response, limits):
                    yield item
            finally:
                await response.aclose()

    def _non_stream_answer(self, raw: bytes, content_type: str) -> Completion:
        """Some OpenAI-compatible servers ignore ``stream``: accept a JSON answer, refuse others."""
        if "json" in content_type:
            return completion_from_json(raw)
        raise ProtocolError(
            f"{self.endpoint.host} answered {shorten(content_type, 60) or 'an unknown content type'} "
            f"instead of an event stream: check that baseUrl points at the API (it usually ends in /v1)."
        )

    def _read_event(self, event: SseEvent) -> ChunkContent | None:
        """One event's content; ``None`` for ``[DONE]``. Raises for errors and malformed events."""
        data = event.data.strip()
        if data == "[DONE]":
            return None
        if event.event == "error":
            message = parse_error_body(data).message or "unknown error"
            raise StreamFailed(
                f"{self.endpoint.host} reported an error while answering: {message}. "
                f"Nothing was applied; try again."
            )
        try:
            chunk = json.loads(data)
        except (ValueError, RecursionError) as exc:
            raise ProtocolError(
                f"{self.endpoint.host} sent a malformed event in the stream "
                f"({shorten(event.data, 80)!r}); nothing was applied. Try again."
            ) from exc
        if not isinstance(chunk, dict):
            raise ProtocolError(f"{self.endpoint.host} sent an unexpected event in the stream.")
        error_message = _error_object_message(chunk)
        if error_message is not None:
            raise StreamFailed(
                f"{self.endpoint.host} reported an error while answering: {error_message}. "
                f"Nothing was applied; try again."
            )
        return read_chunk(chunk)

    async def _read_stream(
        self, response: httpx.Response, limits: AnswerLimits
    ) -> AsyncGenerator[StreamItem, None]:
        """Events → :class:`TextDelta` items, then one :class:`Completion`.

        Time limits: until the first text, and between two pieces of text, ``first_byte`` (the
        server may be silent or send keep-alives meanwhile); once text has come, ``idle`` of
        silence — any byte, a keep-alive comment included, is activity. ``[DONE]`` ends the
        stream whether or not the server then closes the connection; a ``finish_reason``
        followed by silence does too.
        """
        loop = asyncio.get_running_loop()
        parser = SseParser(limits.line_bytes)
        sent_at = response.extensions.get(SENT_AT)
        text_deadline = (sent_at if isinstance(sent_at, float) else loop.time()) + self.timeouts.first_byte
        parts: list[str] = []
        received = 0
        finish_reason: str | None = None
        usage: Usage | None = None
        done = ended = False
        chunks = response.aiter_bytes()
        try:
            while not (done or ended):
                now = loop.time()
                waiting_for_text = True
                wait = text_deadline - now
                if finish_reason is not None:
                    wait, waiting_for_text = min(FINISHED_GRACE_SECONDS, self.timeouts.idle), False
                elif received and self.timeouts.idle < wait:
                    wait, waiting_for_text = self.timeouts.idle, False
                try:
                    async with asyncio.timeout(max(0.0, wait)):
                        data = await anext(chunks)
                except StopAsyncIteration:
                    last = parser.finish()
                    events = [last] if last is not None else []
                    ended = True
                except TimeoutError as exc:
                    if finish_reason is not None:
                        break  # finished, and the server holds the connection open
                    if waiting_for_text:
                        raise FirstByteTimeout(self._no_text_message(received > 0)) from exc
                    raise StreamStalled(self._stalled_message()) from exc
                else:
                    events = parser.feed(data)
                for event in events:
                    content = self._read_event(event)
                    if content is None:
                        done = True
                        break
                    usage = content.usage or usage
                    if content.text:
                        received += len(content.text)
                        if received > limits.text_chars:
                            raise AnswerTooLong(self._too_long_message(limits))
                        parts.append(content.text)
                        text_deadline = loop.time() + self.timeouts.first_byte
                        yield TextDelta(content.text)
                    finish_reason = content.finish_reason or finish_reason
        except LineTooLong as exc:
            raise AnswerTooLong(self._too_long_message(limits)) from exc
        except (httpx.TransportError, httpx.DecodingError, httpx.StreamError) as exc:
            raise StreamInterrupted(self._cut_message(received)) from exc
        if finish_reason == "error":
            raise StreamFailed(
                f"{self.endpoint.host} ended the answer with an error; nothing was applied. Try again."
            )
        if not done and finish_reason is None:
            raise StreamInterrupted(self._cut_message(received))
        yield Completion("".join(parts), finish_reason, usage)
        if done:
            await _drain(chunks)

    async def _open(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        model: str | None,
        on_retry: RetryCallback | None,
    ) -> httpx.Response:
        """Send a request and return the response once its headers say 2xx, retrying as allowed."""
        client = self._client()
        policy = self.retry
        loop = asyncio.get_running_loop()
        deadline = loop.time() + policy.total_seconds
        accept = "text/event-stream" if body and body.get("stream") else "application/json"
        attempt = 0
        while True:
            attempt += 1
            request = client.build_request(method, path, json=body, headers={"Accept": accept})
            log_body(log, f"→ {method} {request.url} {redact_headers(request.headers.items())}", body)
            hinted_wait: float | None = None
            sent_at = loop.time()
            try:
                async with asyncio.timeout(self.timeouts.first_byte):
                    response = await client.send(request, stream=True)
            except httpx.ConnectTimeout as exc:
                error: CodestralError = ConnectTimeout(
                    f"Could not connect to {self.endpoint.host} within {self.timeouts.connect:g} s; "
                    f"check your network or proxy."
                )
                reason = "connection timed out"
                error.__cause__ = exc
            except httpx.ConnectError as exc:
                if _is_tls_failure(exc):
                    raise TlsError(
                        f"The secure connection to {self.endpoint.host} failed (TLS): check the "
                        f"system clock, a proxy that intercepts HTTPS, or SSL_CERT_FILE."
                    ) from exc
                error = NetworkError(
                    f"Could not reach {self.endpoint.base_url}: {self._network_reason(exc)}. "
                    f"Check the network, or baseUrl if you use your own server."
                )
                reason = "connection failed"
                error.__cause__ = exc
            except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError) as exc:
                error = NetworkError(f"The connection to {self.endpoint.host} was closed before it answered.")
                reason = "connection closed"
                error.__cause__ = exc
            except TimeoutError as exc:
                raise FirstByteTimeout(
                    f"{self.endpoint.host} did not start answering within "
                    f"{self.timeouts.first_byte:g} s; nothing was applied. Try again, or raise "
                    f"timeouts.firstByte for a slow server."
                ) from exc
            else:
                if response.status_code < 300:
                    response.extensions[SENT_AT] = sent_at
                    return response
                try:
                    raw = await self._read_error_body(response)
                finally:
                    await response.aclose()
                log_body(log, f"← {response.status_code} {request.url}", raw)
                if response.status_code < 400:
                    location = shorten(response.headers.get("location", ""), 200) or "another address"
                    raise RedirectRefused(
                        f"{self.endpoint.base_url} answered with a redirect (HTTP "
                        f"{response.status_code}) to {location}; redirects are not followed, so your "
                        f"key only ever goes to the base URL and nothing was applied. If the API has "
                        f"moved, set baseUrl to its new address."
                    )
                hinted_wait = retry_after_seconds(response.headers)
                error = error_for_status(
                    response.status_code, raw, self.endpoint, model, retry_after=hinted_wait
                )
                if response.status_code not in RETRYABLE_STATUSES:
                    raise error
                reason = _status_reason(response.status_code)
            if attempt >= policy.max_attempts:
                raise error
            delay = hinted_wait if hinted_wait is not None else backoff_delay(policy, attempt)
            if delay > policy.max_delay or loop.time() + delay > deadline:
                raise error
            log.info("%s %s: %s; retry %d in %.2f s", method, path, reason, attempt, delay)
            if on_retry is not None:
                on_retry(RetryNotice(attempt + 1, delay, reason))
            await asyncio.sleep(delay)

    @staticmethod
    def _network_reason(exc: httpx.ConnectError) -> str:
        seen: BaseException | None = exc
        while seen is not None:
            if isinstance(seen, ConnectionRefusedError):
                return "connection refused (is the server running?)"
            if isinstance(seen, socket.gaierror):
                return "the host name could not be resolved"
            seen = seen.__cause__ or seen.__context__
        text = str(exc).lower()
        if "refused" in text or "all connection attempts failed" in text:
            return "connection refused (is the server running?)"
        if "name or service" in text or "getaddrinfo" in text:
            return "the host name could not be resolved"
        return "the connection failed"


async def _drain(chunks: AsyncIterator[bytes]) -> None:
    """After ``[DONE]``, read what follows for a moment so the connection can be reused; a server
    that holds the connection open (or keeps sending) is simply left: the answer is complete."""
    total = 0
    try:
        async with asyncio.timeout(DRAIN_SECONDS):
            async for data in chunks:
                total += len(data)
                if total > DRAIN_BYTES:
                    return
    except (TimeoutError, httpx.TransportError, httpx.DecodingError, httpx.StreamError):
        return
