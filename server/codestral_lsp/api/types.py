"""Plain data passed between the API client and its callers."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Timeouts:
    """How long to wait, in seconds, at each stage of a request.

    ``connect``: to open the connection (TCP and TLS). ``first_byte``: from sending the request
    to the response headers. ``idle``: between two pieces of a streamed answer; a stream silent
    for longer is ended as stalled.
    """

    connect: float = 10.0
    first_byte: float = 60.0
    idle: float = 30.0


@dataclass(frozen=True)
class RetryPolicy:
    """When and how often to retry 429, 5xx and connection failures.

    At most ``max_attempts`` requests in all, within ``total_seconds`` from the first one. The
    wait before attempt n is ``initial_delay * 2**(n-2)`` with jitter, at most ``max_delay``; a
    ``Retry-After`` or ``retry-after-ms`` header replaces the computed wait (also capped).
    """

    max_attempts: int = 4
    initial_delay: float = 0.5
    max_delay: float = 20.0
    total_seconds: float = 60.0


@dataclass(frozen=True)
class Usage:
    """Tokens counted by the API for one request."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """Prompt and completion tokens together."""
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class TextDelta:
    """A piece of the answer, as it arrived."""

    text: str


@dataclass(frozen=True)
class Completion:
    """A finished answer: all of its text, why it ended, and the tokens used (when reported)."""

    text: str
    finish_reason: str | None
    usage: Usage | None = None

    @property
    def truncated(self) -> bool:
        """True when the answer stopped because it reached ``max_tokens``."""
        return self.finish_reason == "length"


@dataclass(frozen=True)
class ModelInfo:
    """One entry of ``GET /models``; capabilities are ``None`` when the server does not say."""

    id: str
    aliases: tuple[str, ...] = ()
    chat: bool | None = None
    fim: bool | None = None
    max_context_length: int | None = None

    def answers_to(self, name: str) -> bool:
        """True when ``name`` is this model's id or one of its aliases."""
        return name == self.id or name in self.aliases
