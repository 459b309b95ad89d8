"""Request bodies for ``chat/completions`` and ``fim/completions``.

Only fields the OpenAPI schemas (``ChatCompletionRequest``, ``FIMCompletionRequest``) define are
ever sent, and unset ones are left out: the API answers 422 to anything else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class Message:
    """One chat message."""

    role: Role
    content: str


@dataclass(frozen=True)
class ChatRequest:
    """What to ask the chat endpoint. ``prediction`` is the expected output (predicted outputs)."""

    model: str
    messages: list[Message]
    temperature: float | None = None
    max_tokens: int | None = None
    stop: list[str] = field(default_factory=list)
    prediction: str | None = None
    random_seed: int | None = None

    def body(self, stream: bool) -> dict[str, Any]:
        """The JSON body, streaming or not."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in self.messages],
            "stream": stream,
        }
        _put_sampling(body, self.temperature, self.max_tokens, self.stop, self.random_seed)
        if self.prediction is not None:
            body["prediction"] = {"type": "content", "content": self.prediction}
        return body


@dataclass(frozen=True)
class FimRequest:
    """What to ask the fill-in-the-middle endpoint: the code before and after the cursor."""

    model: str
    prompt: str
    suffix: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    min_tokens: int | None = None
    stop: list[str] = field(default_factory=list)
    random_seed: int | None = None

    def body(self, stream: bool) -> dict[str, Any]:
        """The JSON body, streaming or not."""
        body: dict[str, Any] = {"model": self.model, "prompt": self.prompt, "stream": stream}
        if self.suffix is not None:
            body["suffix"] = self.suffix
        if self.min_tokens is not None:
            body["min_tokens"] = self.min_tokens
        _put_sampling(body, self.temperature, self.max_tokens, self.stop, self.random_seed)
        return body


def _put_sampling(
    body: dict[str, Any],
    temperature: float | None,
    max_tokens: int | None,
    stop: list[str],
    random_seed: int | None,
) -> None:
    if temperature is not None:
        body["temperature"] = temperature
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    if stop:
        body["stop"] = list(stop)
    if random_seed is not None:
        body["random_seed"] = random_seed
