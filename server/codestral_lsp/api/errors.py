"""Typed errors, each carrying one plain sentence a user can act on (``str(error)``), and the
reading of the API's error bodies. Which error and sentence an HTTP status becomes is
:mod:`codestral_lsp.api.status` (it needs the endpoint, which itself raises these errors).

No error message ever contains the API key: messages name the variable it came from instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


class CodestralError(Exception):
    """Base of every error the client raises; ``str()`` is the sentence to show the user."""


class InvalidEndpointError(CodestralError):
    """The configured base URL cannot be used."""


class InsecureEndpointError(CodestralError):
    """Plain HTTP to a host other than this machine was refused before any request."""


class UntrustedEndpointError(CodestralError):
    """A ``baseUrl`` setting names a host the user's environment does not trust."""


class UntrustedKeyVariableError(CodestralError):
    """An ``apiKeyEnv`` setting names a variable the user's environment does not allow."""


class InvalidKeyError(CodestralError):
    """The key variable's value cannot be sent in a header (a line break, a space inside…)."""


class NetworkError(CodestralError):
    """The server could not be reached (DNS, refused, reset before any answer)."""


class TlsError(CodestralError):
    """The TLS handshake failed (certificate, proxy, clock)."""


class RequestTimeout(CodestralError):
    """A request took longer than one of its time limits."""


class ConnectTimeout(RequestTimeout):
    """Connecting took longer than ``timeouts.connect``."""


class FirstByteTimeout(RequestTimeout):
    """No answer text within ``timeouts.firstByte`` (no headers, or only silence and keep-alives)."""


class StreamStalled(RequestTimeout):
    """The stream went silent for longer than ``timeouts.idle``."""


class StreamInterrupted(CodestralError):
    """The stream ended before the answer was complete."""


class StreamFailed(CodestralError):
    """The server reported an error in the middle of the stream."""


class ProtocolError(CodestralError):
    """The server answered something that is not the API's format."""


class AnswerTooLong(ProtocolError):
    """The server sent more than ``max_tokens`` can produce, or a line longer than any answer."""


class RedirectRefused(ProtocolError):
    """A 3xx answer: redirects are never followed (the key goes only to the base URL)."""


class TooManyRequests(CodestralError):
    """Too many requests were waiting for a connection at once."""


class ApiError(CodestralError):
    """The API answered with an HTTP error status."""

    def __init__(self, message: str, status: int, detail: ErrorBody | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail or ErrorBody()


class AuthenticationError(ApiError):
    """401: the key is missing, wrong, or belongs to the other endpoint."""


class PermissionDeniedError(ApiError):
    """403: the key's plan or workspace may not use this model or endpoint."""


class ModelNotFoundError(ApiError):
    """404: unknown model (or path)."""


class ContextTooLongError(ApiError):
    """400: the prompt and ``max_tokens`` do not fit in the model's context window."""


class BadRequestError(ApiError):
    """400 for another reason."""


class RequestValidationError(ApiError):
    """422: the API rejected a field of the request."""


class RateLimitedError(ApiError):
    """429, still after the retries allowed."""


class ServerError(ApiError):
    """5xx, still after the retries allowed."""


@dataclass(frozen=True)
class ErrorBody:
    """What could be read from an error body, whatever its variant."""

    message: str | None = None
    type: str | None = None
    code: str | None = None
    field: str | None = None


MESSAGE_CHARS = 300  # the longest server-supplied text quoted to the user


def shorten(text: str, limit: int = MESSAGE_CHARS) -> str:
    """``text`` on one line, cut to ``limit`` characters (with "…" when cut)."""
    flat = " ".join(text[: limit * 4].split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return shorten(value) or None
    return shorten(json.dumps(value, ensure_ascii=False))


def _from_detail_list(items: list[Any]) -> ErrorBody:
    """Read FastAPI-style ``[{"loc": [...], "msg": ..., "type": ...}]`` validation details."""
    first = next((item for item in items if isinstance(item, dict)), None)
    if first is None:
        return ErrorBody(message=_text(items))
    loc = first.get("loc")
    field = None
    if isinstance(loc, list):
        names = [str(part) for part in loc if part not in ("body", "query", "header")]
        field = ".".join(names) or None
    return ErrorBody(message=_text(first.get("msg")), type=_text(first.get("type")), field=field)


def parse_error_body(raw: bytes | str) -> ErrorBody:
    """Read any of the error-body variants the API is known to send (see the API notes).

    Unknown shapes give an :class:`ErrorBody` with the raw text (shortened) as message.
    """
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    try:
        body = json.loads(text)
    except (ValueError, RecursionError):
        return ErrorBody(message=shorten(text, 200) or None)
    if isinstance(body, list):
        return _from_detail_list(body)
    if not isinstance(body, dict):
        return ErrorBody(message=_text(body))
    if isinstance(body.get("error"), dict):  # OpenAI-compatible servers: {"error": {...}}
        body = body["error"]
    message = body.get("message")
    detail = body.get("detail")
    if isinstance(message, dict) and isinstance(message.get("detail"), list):
        inner = _from_detail_list(message["detail"])
        return ErrorBody(
            inner.message, inner.type or _text(body.get("type")), _text(body.get("code")), inner.field
        )
    if isinstance(message, list):
        inner = _from_detail_list(message)
        return ErrorBody(
            inner.message, inner.type or _text(body.get("type")), _text(body.get("code")), inner.field
        )
    if message is None and isinstance(detail, list):
        return _from_detail_list(detail)
    if message is None and detail is not None:
        message = detail
    return ErrorBody(
        message=_text(message),
        type=_text(body.get("type")),
        code=_text(body.get("code")),
        field=_text(body.get("param")),
    )
