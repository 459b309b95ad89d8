"""Request bodies for ``chat/completions`` and the three fill-in-the-middle dialects.

For Mistral's endpoints only fields the OpenAPI schemas (``ChatCompletionRequest``,
``FIMCompletionRequest``) define are ever sent, and unset ones are left out: the API answers 422
to anything else. :meth:`FimRequest.openai_body` and :meth:`FimRequest.infill_body` are the same
request for OpenAI-style ``/v1/completions`` (Ollama, vLLM) and llama.cpp's ``/infill``.
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
    response_format: dict[str, Any] | None = None  # e.g. {"type": "json_object"} (JSON mode)

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
        if self.response_format is not None:
            body["response_format"] = dict(self.response_format)
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

    def openai_body(self, stream: bool) -> dict[str, Any]:
        """The body for OpenAI-style ``POST /v1/completions`` with ``suffix`` (Ollama, vLLM)."""
        body: dict[str, Any] = {"model": self.model, "prompt": self.prompt, "stream": stream}
        if self.suffix is not None:
            body["suffix"] = self.suffix
        if self.temperature is not None:
            body["temperature"] = self.temperature
        if self.max_tokens is not None:
            body["max_tokens"] = self.max_tokens
        if self.stop:
            body["stop"] = list(self.stop)
        if self.random_seed is not None:
            body["seed"] = self.random_seed
        return body

    def infill_body(self, stream: bool) -> dict[str, Any]:
        """The body for llama.cpp's ``POST /infill``: ``input_prefix``/``input_suffix``, ``n_predict``."""
        body: dict[str, Any] = {
            "input_prefix": self.prompt,
            "input_suffix": self.suffix or "",
            "stream": stream,
            "cache_prompt": True,
        }
        if self.model:
            body["model"] = self.model
        if self.temperature is not None:
            body["temperature"] = self.temperature
        if self.max_tokens is not None:
            body["n_predict"] = self.max_tokens
        if self.stop:
            body["stop"] = list(self.stop)
        if self.random_seed is not None:
            body["seed"] = self.random_seed
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
