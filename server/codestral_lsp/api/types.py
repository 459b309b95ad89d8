"""Plain data passed between the API client and its callers."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Timeouts:
    """How long to wait, in seconds, at each stage of a request.

    ``connect``: to open the connection (TCP and TLS). ``first_byte``: from sending the request
    to the first piece of the answer's text — the response headers, queueing, loading the model
    and reading the prompt all fall in it, whether the server stays silent meanwhile (Ollama,
    vLLM) or sends keep-alive comments (llama.cpp); it also bounds any later wait for more text
    while only keep-alives arrive, so a server that never answers is always ended. ``idle``:
    once the answer has started, the longest silence (no byte at all: keep-alive comments are
    activity); a stream silent for longer is ended as stalled.
    """

    connect: float = 10.0
    first_byte: float = 300.0
    idle: float = 60.0


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


CUT_OFF_REASONS = frozenset({"length", "model_length"})


@dataclass(frozen=True)
class Completion:
    """A finished answer: all of its text, why it ended, and the tokens used (when reported).

    Only ``finish_reason == "stop"`` means the model finished: anything else (cut off at
    ``max_tokens`` or the model's context, a content filter, a tool call, a reason this client
    does not know, or none at all) is an answer that must not be applied as if complete.
    """

    text: str
    finish_reason: str | None
    usage: Usage | None = None

    @property
    def complete(self) -> bool:
        """True when the model said it finished (``stop``)."""
        return self.finish_reason == "stop"

    @property
    def truncated(self) -> bool:
        """True when the answer was cut off at ``max_tokens`` or at the model's context length."""
        return self.finish_reason in CUT_OFF_REASONS

    def why_incomplete(self) -> str | None:
        """``None`` when complete; otherwise why not, as a clause ("it was cut off …")."""
        reason = self.finish_reason
        if reason == "stop":
            return None
        if reason == "length":
            return "it was cut off at the length limit (maxTokens)"
        if reason == "model_length":
            return "it was cut off at the model's context length"
        if reason == "content_filter":
            return "the server's content filter stopped it"
        if reason == "tool_calls":
            return "the model asked to call a tool instead of finishing"
        if reason is None:
            return "the server did not say that it was complete"
        return f"it ended for an unexpected reason ({reason[:40]!r})"


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
