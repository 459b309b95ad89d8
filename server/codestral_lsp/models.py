"""What the endpoint serves (``GET /models``) against the models the settings name.

Pure: :func:`model_problems` turns the settings and the endpoint's model list into one sentence
per problem, each naming the setting to change; :func:`models_json` is ``codestral.models``'s
answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from codestral_lsp.api.types import ModelInfo
from codestral_lsp.settings import Settings


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
