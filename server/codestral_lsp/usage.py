"""Tokens and estimated cost, per job and for the session."""

from __future__ import annotations

from dataclasses import dataclass

from codestral_lsp.api.types import Usage
from codestral_lsp.settings import Price


@dataclass
class UsageTotals:
    """Running totals for the session (what ``codestral.usage`` returns)."""

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    estimated_cost_usd: float = 0.0
    estimated_tokens: bool = False

    def add(self, usage: Usage, price: Price | None, estimated: bool) -> float:
        """Count one request; return its estimated cost."""
        cost = 0.0
        if price is not None:
            cost = (usage.prompt_tokens * price.input + usage.completion_tokens * price.output) / 1e6
        self.requests += 1
        self.prompt_tokens += usage.prompt_tokens
        self.completion_tokens += usage.completion_tokens
        self.estimated_cost_usd += cost
        self.estimated_tokens = self.estimated_tokens or estimated
        return cost

    def as_result(self) -> dict[str, object]:
        """The JSON shape of ``codestral.usage``."""
        return {
            "requests": self.requests,
            "promptTokens": self.prompt_tokens,
            "completionTokens": self.completion_tokens,
            "totalTokens": self.prompt_tokens + self.completion_tokens,
            "estimatedCostUsd": round(self.estimated_cost_usd, 6),
            "tokensEstimated": self.estimated_tokens,
        }


def usage_or_estimate(
    usage: Usage | None, prompt_chars: int, answer_chars: int, chars_per_token: float
) -> tuple[Usage, bool]:
    """The API's count when it gave one, else an estimate from character counts."""
    if usage is not None:
        return usage, False
    return Usage(int(prompt_chars / chars_per_token), int(answer_chars / chars_per_token)), True
