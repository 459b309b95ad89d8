"""The async Codestral client: streaming chat and FIM, retries, timeouts, typed errors.

One :class:`httpx.AsyncClient` per :class:`CodestralClient`, created on first use (an event loop
must be running) and reused for every request. Flow of a request::

    stream_chat(request) ─► _open(path, body)      retries 429/5xx/connection errors,
                                                   honours Retry-After, first-byte timeout
                        ─► _read_stream(response)  SSE events → TextDelta …, then Completion;
                                                   idle timeout, cut/errored streams raise

Cancelling the task that consumes a stream closes the HTTP response at once.
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
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from codestral_lsp import __version__
from codestral_lsp.api.bodies import ChatRequest, FimRequest
from codestral_lsp.api.bodylog import log_body, redact_headers
from codestral_lsp.api.endpoint import Endpoint
from codestral_lsp.api.errors import (
    ApiError,
    CodestralError,
    ConnectTimeout,
    FirstByteTimeout,
    NetworkError,
    ProtocolError,
    StreamFailed,
    StreamInterrupted,
    StreamStalled,
    TlsError,
    error_for_status,
    parse_error_body,
)
from codestral_lsp.api.sse import IdleTimeout, iter_sse_events
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
StreamItem = TextDelta | Completion


@dataclass(frozen=True)
class RetryNotice:
    """Told to the caller before waiting to retry: which attempt comes next, after how long, why."""

    next_attempt: int
    delay: float
    reason: str

    def describe(self) -> str:
        """E.g. ``retrying in 3 s (rate limited)``."""
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


def completion_from_json(raw: bytes) -> Completion:
    """Read a non-streaming chat or FIM response body."""
    try:
        body = json.loads(raw)
        choice = body["choices"][0]
        content = choice["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise ProtocolError(
            "The server's answer was not a chat completion; check that baseUrl points at the "
            "API (it usually ends in /v1)."
        ) from exc
    if isinstance(content, list):  # content chunks: keep the text ones
        content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return Completion(str(content or ""), choice.get("finish_reason"), _usage_from(body.get("usage")))


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
                timeout=httpx.Timeout(connect=connect, read=None, write=connect, pool=connect),
                follow_redirects=False,
                trust_env=True,
                limits=httpx.Limits(max_connections=32, max_keepalive_connections=KEEPALIVE_CONNECTIONS),
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

    def stream_fim(
        self, request: FimRequest, on_retry: RetryCallback | None = None
    ) -> AsyncGenerator[StreamItem, None]:
        """Stream a fill-in-the-middle answer, like :meth:`stream_chat`."""
        return self._stream("fim/completions", request.body(stream=True), request.model, on_retry)

    async def chat(self, request: ChatRequest, on_retry: RetryCallback | None = None) -> Completion:
        """Ask for a whole chat answer at once (no streaming)."""
        return await self._complete("chat/completions", request.body(stream=False), request.model, on_retry)

    async def fim(self, request: FimRequest, on_retry: RetryCallback | None = None) -> Completion:
        """Ask for a whole fill-in-the-middle answer at once (no streaming)."""
        return await self._complete("fim/completions", request.body(stream=False), request.model, on_retry)

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
        response = await self._open("GET", "models", None, None, None)
        try:
            raw = await self._read_body(response)
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
        context = entry.get("max_context_length")
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
        response = await self._open("POST", path, body, model, on_retry)
        try:
            raw = await self._read_body(response)
        finally:
            await response.aclose()
        log_body(log, f"← {response.status_code} {response.url}", raw)
        return parse(raw)

    async def _read_body(self, response: httpx.Response) -> bytes:
        try:
            async with asyncio.timeout(self.timeouts.idle):
                return await response.aread()
        except TimeoutError as exc:
            raise StreamStalled(self._stalled_message()) from exc
        except httpx.HTTPError as exc:
            raise StreamInterrupted(self._cut_message(0)) from exc

    def _stalled_message(self) -> str:
        return (
            f"{self.endpoint.host} stopped sending for {self.timeouts.idle:g} s, so the request "
            f"was ended. Try again; raise timeouts.idle if your server is slow."
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
        response = await self._open("POST", path, body, model, on_retry)
        try:
            content_type = response.headers.get("content-type", "")
            if "text/event-stream" not in content_type:
                completion = self._non_stream_answer(await self._read_body(response), content_type)
                yield TextDelta(completion.text)
                yield completion
                return
            async for item in self._read_stream(response):
                yield item
        finally:
            await response.aclose()

    def _non_stream_answer(self, raw: bytes, content_type: str) -> Completion:
        """Some OpenAI-compatible servers ignore ``stream``: accept a JSON answer, refuse others."""
        if "json" in content_type:
            return completion_from_json(raw)
        raise ProtocolError(
            f"{self.endpoint.host} answered {content_type or 'an unknown content type'} instead "
            f"of an event stream: check that baseUrl points at the API (it usually ends in /v1)."
        )

    async def _read_stream(self, response: httpx.Response) -> AsyncGenerator[StreamItem, None]:
        parts: list[str] = []
        received = 0
        finish_reason: str | None = None
        usage: Usage | None = None
        done = False
        try:
            async for event in iter_sse_events(response.aiter_lines(), self.timeouts.idle):
                if done:
                    continue  # read to the end so the connection can be reused
                if event.data.strip() == "[DONE]":
                    done = True
                    continue
                try:
                    chunk = json.loads(event.data)
                except ValueError as exc:
                    raise ProtocolError(
                        f"{self.endpoint.host} sent a malformed event in the stream "
                        f"({event.data[:80]!r}); nothing was applied. Try again."
                    ) from exc
                if not isinstance(chunk, dict):
                    raise ProtocolError(f"{self.endpoint.host} sent an unexpected event in the stream.")
                error_message = _error_object_message(chunk)
                if error_message is not None:
                    raise StreamFailed(
                        f"{self.endpoint.host} reported an error while answering: {error_message}. "
                        f"Nothing was applied; try again."
                    )
                usage = _usage_from(chunk.get("usage")) or usage
                for choice in chunk.get("choices") or []:
                    if not isinstance(choice, dict):
                        continue
                    delta = choice.get("delta") or {}
                    text = delta.get("content") if isinstance(delta, dict) else None
                    if isinstance(text, str) and text:
                        parts.append(text)
                        received += len(text)
                        yield TextDelta(text)
                    finish_reason = choice.get("finish_reason") or finish_reason
        except IdleTimeout as exc:
            raise StreamStalled(self._stalled_message()) from exc
        except (httpx.ReadError, httpx.RemoteProtocolError, httpx.ReadTimeout) as exc:
            raise StreamInterrupted(self._cut_message(received)) from exc
        if finish_reason == "error":
            raise StreamFailed(
                f"{self.endpoint.host} ended the answer with an error; nothing was applied. Try again."
            )
        if not done and finish_reason is None:
            raise StreamInterrupted(self._cut_message(received))
        yield Completion("".join(parts), finish_reason, usage)

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
                    f"{self.timeouts.first_byte:g} s. Try again, or raise timeouts.firstByte."
                ) from exc
            else:
                if response.status_code < 400:
                    return response
                try:
                    raw = await self._read_body(response)
                finally:
                    await response.aclose()
                log_body(log, f"← {response.status_code} {request.url}", raw)
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
