"""What the endpoint serves (``GET /models``) against the models the settings name.

Pure: :func:`model_problems` turns the settings and the endpoint's model list into one sentence
per problem, each naming the setting to change; :func:`models_json` is ``codestral.models``'s
answer; :func:`context_budget` sizes an action's context from the model's context window.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from codestral_lsp.api.types import ModelInfo
from codestral_lsp.settings import DEFAULT_BUDGET_TOKENS, Settings

MAX_BUDGET_TOKENS = 1_000_000  # the most a window-sized budget may be (as context.budgetTokens)


def find_model(models: Sequence[ModelInfo], name: str) -> ModelInfo | None:
    """The entry serving ``name`` (its id or an alias)."""
    return next((m for m in models if m.answers_to(name)), None)


def configured_models(settings: Settings) -> list[tuple[str, str]]:
    """Every (setting, model) pair the settings name for chat, in the order a user reads them."""
    pairs = [("codestral.model", settings.model)]
    pairs += [(f"codestral.models.{action}", model) for action, model in sorted(settings.models.items())]
    pairs += [(f"codestral.actions[{a.id}].model", a.model) for a in settings.actions if a.model]
    return pairs


def model_problems(settings: Settings, models: Sequence[ModelInfo]) -> list[str]:
    """One sentence per configured model the endpoint does not serve, and for a completion
    model that cannot fill in the middle; empty when all is well (or the list is empty)."""
    if not models:
        return []
    served = ", ".join(sorted(m.id for m in models)[:8])
    problems: list[str] = []
    for setting, name in configured_models(settings):
        if find_model(models, name) is None:
            problems.append(
                f"Setting {setting}: the endpoint does not serve {name!r} (it serves {served}); "
                f"change {setting}."
            )
    if settings.completion.enabled:
        name = settings.completion.model or settings.model
        model = find_model(models, name)
        if settings.completion.model and model is None:
            problems.append(
                f"Setting codestral.completion.model: the endpoint does not serve {name!r} "
                f"(it serves {served}); change codestral.completion.model."
            )
        elif model is not None and model.fim is False:
            able = [m.id for m in models if m.fim]
            hint = f", e.g. {able[0]}" if able else ""
            problems.append(
                f"Setting codestral.completion.model: {name!r} cannot fill in the middle, so inline "
                f"completion will fail; set codestral.completion.model to a model that can{hint}."
            )
    return problems


def models_json(models: Sequence[ModelInfo]) -> list[dict[str, Any]]:
    """``codestral.models``'s list: id, aliases, context length, capabilities (null: unknown)."""
    return [
        {
            "id": m.id,
            "aliases": list(m.aliases),
            "contextLength": m.max_context_length,
            "chat": m.chat,
            "fim": m.fim,
        }
        for m in models
    ]


def context_budget(settings: Settings, model: str, models: Sequence[ModelInfo] | None) -> tuple[int, str]:
    """The context budget, in tokens, of an action asking ``model``, and why (for the log).

    ``context.budgetTokens`` when the user set it; else ``context.windowFraction`` of the model's
    context window from the endpoint's ``GET /models`` (``models``; ``None`` when not known yet),
    at least :data:`~codestral_lsp.settings.DEFAULT_BUDGET_TOKENS` and at most
    :data:`MAX_BUDGET_TOKENS`; else that default. Either way never more than half of what the
    window leaves once the answer (``maxTokens``) is reserved (the other half is for the selection
    and the instructions): a prompt the model cannot read only fails. A window that is not a
    positive integer (a server's mistake: 0, negative, a boolean) counts as not known.
    """
    context = settings.context
    info = find_model(models, model) if models else None
    window = info.max_context_length if info is not None else None
    if isinstance(window, bool) or not isinstance(window, int) or window <= 0:
        window = None
    if context.budget_tokens is not None:
        tokens, why = context.budget_tokens, "context.budgetTokens"
    elif window:
        share = int(window * context.window_fraction)
        tokens = min(MAX_BUDGET_TOKENS, max(DEFAULT_BUDGET_TOKENS, share))
        why = f"{context.window_fraction:g} of {model}'s {window:,}-token window"
        if share < DEFAULT_BUDGET_TOKENS:
            why += f", raised to {DEFAULT_BUDGET_TOKENS:,}"
        elif share > MAX_BUDGET_TOKENS:
            why += f", limited to {MAX_BUDGET_TOKENS:,}"
    else:
        tokens, why = DEFAULT_BUDGET_TOKENS, "the default (the model's window is not known)"
    if window:
        ceiling = max(0, window - settings.max_tokens) // 2
        if tokens > ceiling:
            tokens, why = ceiling, f"{why}, cut to half of what {model}'s {window:,}-token window leaves"
    return tokens, why


def file_budget_tokens(settings: Settings) -> int:
    """The most the file's own part of the context (enclosing scope, imports, nearby lines) may
    take: ``context.budgetTokens`` when the user set it, else the fixed default — a budget that
    grows with the model's window is for context from other files (at 25,600 tokens, a method's
    enclosing class would be sent whole, tripling prompts without finding more definitions)."""
    tokens = settings.context.budget_tokens
    return tokens if tokens is not None else DEFAULT_BUDGET_TOKENS


def with_context_budget(settings: Settings, tokens: int) -> Settings:
    """``settings`` (a job's snapshot) with its context budget set to ``tokens``."""
    return dataclasses.replace(settings, context=dataclasses.replace(settings.context, budget_tokens=tokens))
