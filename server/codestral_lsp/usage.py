"""Tokens and estimated cost, per job and for the session.

Every request that spent tokens counts: finished actions, inline completions, and actions that
were cancelled or failed after the answer had started (their tokens are estimated from the
characters sent and received, since the API reports usage only at the end of an answer).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from codestral_lsp.api.types import Usage
from codestral_lsp.settings import Price

RequestKind = Literal["action", "completion", "unfinished"]


@dataclass
class ModelTotals:
    """Requests, tokens and cost counted together: for the session, and for each model."""

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    estimated_cost_usd: float = 0.0
    priced: bool = True

    def add(self, usage: Usage, cost: float, priced: bool) -> None:
        """Count one request."""
        self.requests += 1
        self.prompt_tokens += usage.prompt_tokens
        self.completion_tokens += usage.completion_tokens
        self.estimated_cost_usd += cost
        self.priced = self.priced and priced

    def as_result(self) -> dict[str, object]:
        """The JSON shape of one entry of ``codestral.usage``'s ``byModel``."""
        return {
            "requests": self.requests,
            "promptTokens": self.prompt_tokens,
            "completionTokens": self.completion_tokens,
            "totalTokens": self.prompt_tokens + self.completion_tokens,
            "estimatedCostUsd": round(self.estimated_cost_usd, 6) if self.priced else None,
        }


@dataclass
class UsageTotals:
    """Running totals for the session (what ``codestral.usage`` returns)."""

    total: ModelTotals = field(default_factory=ModelTotals)
    by_model: dict[str, ModelTotals] = field(default_factory=dict)
    by_kind: dict[RequestKind, int] = field(default_factory=dict)
    estimated_requests: int = 0

    def add(
        self,
        usage: Usage,
        price: Price | None,
        estimated: bool,
        kind: RequestKind = "action",
        model: str = "",
    ) -> float:
        """Count one request of ``kind`` made to ``model``; return its estimated cost."""
        cost = 0.0
        if price is not None:
            cost = (usage.prompt_tokens * price.input + usage.completion_tokens * price.output) / 1e6
        self.total.add(usage, cost, priced=True)  # the session's cost counts the priced models
        self.by_model.setdefault(model or "(unnamed)", ModelTotals()).add(usage, cost, price is not None)
        self.by_kind[kind] = self.by_kind.get(kind, 0) + 1
        self.estimated_requests += int(estimated)
        return cost

    def as_result(self) -> dict[str, object]:
        """The JSON shape of ``codestral.usage``."""
        return {
            **self.total.as_result(),
            "tokensEstimated": self.estimated_requests > 0,
            "actions": self.by_kind.get("action", 0),
            "inlineCompletions": self.by_kind.get("completion", 0),
            "unfinishedActions": self.by_kind.get("unfinished", 0),
            "estimatedRequests": self.estimated_requests,
            "byModel": {name: totals.as_result() for name, totals in sorted(self.by_model.items())},
        }


def usage_or_estimate(
    usage: Usage | None, prompt_chars: int, answer_chars: int, chars_per_token: float
) -> tuple[Usage, bool]:
    """The API's count when it gave one, else an estimate from character counts."""
    if usage is not None:
        return usage, False
    return Usage(int(prompt_chars / chars_per_token), int(answer_chars / chars_per_token)), True


def describe_tokens(usage: Usage, cost: float, estimated: bool, model: str | None = None) -> str:
    """``1,234 tokens, $0.0012``; ``about 1,234 tokens, estimated`` when counted by us; with
    ``model``: ``1,234 tokens, $0.0012 with codestral-latest``."""
    total = usage.total_tokens
    words = f"{total:,} token{'' if total == 1 else 's'}"
    if estimated:
        words = f"about {words}, estimated"
    words += f", ${cost:.4f}" if cost else ""
    return words + (f" with {model}" if model else "")
