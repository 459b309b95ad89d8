"""Models per action, built-in prices, usage per model, and what the endpoint serves."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from codestral_lsp.api.types import Usage
from codestral_lsp.settings import DEFAULT_PRICES, Price, parse_settings
from codestral_lsp.usage import UsageTotals, describe_tokens
from lsprotocol import types

from tests.editor import Editor, lsp_range
from tests.fake_codestral import FakeCodestral, Script

CODE = "def f(x):\n    return x + 1\n"
ALL = lsp_range(0, 0, 2, 0)


def test_model_for_an_action_falls_back_to_the_default() -> None:
    settings, problems = parse_settings(
        {"model": "codestral-2508", "models": {"explain": "mistral-large-latest"}}
    )
    assert problems == []
    assert settings.model_for("explain") == "mistral-large-latest"
    assert settings.model_for("refactor") == "codestral-2508"
    assert settings.model_for("mine", "devstral-latest") == "devstral-latest"
    _, problems = parse_settings({"models": {"explain": 3}})
    assert problems and "models.explain" in problems[0]


def test_built_in_prices_cover_the_models_a_user_picks_and_settings_override_them() -> None:
    for model in ("codestral-latest", "devstral-latest", "mistral-large-latest",
                  "mistral-medium-latest", "mistral-small-latest"):  # fmt: skip
        assert DEFAULT_PRICES[model].input > 0 and DEFAULT_PRICES[model].output > 0
    settings, _ = parse_settings({"prices": {"mistral-large-latest": {"input": 1, "output": 2}}})
    assert settings.price_for("mistral-large-latest") == Price(1.0, 2.0)
    assert settings.price_for("mistral-small-latest") == DEFAULT_PRICES["mistral-small-latest"]
    assert settings.price_for("my-local-model") is None


def test_usage_is_broken_down_by_model() -> None:
    totals = UsageTotals()
    totals.add(Usage(1000, 100), Price(0.3, 0.9), False, model="codestral-latest")
    totals.add(Usage(2000, 200), Price(0.5, 1.5), False, model="mistral-large-latest")
    totals.add(Usage(10, 1), None, True, kind="completion", model="local")
    by_model: Any = totals.as_result()["byModel"]
    assert by_model["mistral-large-latest"]["estimatedCostUsd"] == pytest.approx(0.0013)
    assert by_model["codestral-latest"]["totalTokens"] == 1100
    assert by_model["local"]["estimatedCostUsd"] is None  # no price known: not a false $0
    assert describe_tokens(Usage(1000, 234), 0.0012, False, "codestral-latest") == (
        "1,234 tokens, $0.0012 with codestral-latest"
    )


@pytest.mark.parametrize(
    ("command", "extra", "model"),
    [
        ("codestral.explain", {}, "mistral-large-latest"),
        ("codestral.review", {}, "mistral-medium-latest"),
        ("codestral.refactor", {}, "codestral-2508"),
        ("codestral.custom", {"action": "mine"}, "devstral-latest"),
    ],
)
async def test_each_action_asks_its_configured_model(
    start_session: Callable[..., Awaitable[Editor]],
    fake: FakeCodestral,
    command: str,
    extra: dict[str, Any],
    model: str,
) -> None:
    settings = {
        "model": "codestral-2508",
        "models": {"explain": "mistral-large-latest", "review": "mistral-medium-latest"},
        "actions": [{"id": "mine", "prompt": "Shorten {selection}", "mode": "explain", "model": "devstral-latest"}],
    }
    editor = await start_session(settings=settings)
    uri = editor.open("f.py", CODE)
    text = {
        "codestral.review": '{"findings": []}',
        "codestral.refactor": "```python\ndef f(x):\n    return 1 + x\n```",
    }.get(command, "It adds one.")
    fake.enqueue(Script(text=text, usage=(1000, 100)))
    result = await editor.run(command, {"uri": uri, "range": ALL, **extra})

    [request] = fake.completion_requests()
    assert request.body["model"] == model
    assert result["usage"]["model"] == model
    price = DEFAULT_PRICES[model]
    cost = (1000 * price.input + 100 * price.output) / 1e6
    assert result["usage"]["estimatedCostUsd"] == pytest.approx(cost)
    [values] = editor.progress_values()
    assert values[-1].message.endswith(f"${cost:.4f} with {model})")  # the job's cost, at its model's price
    usage = await editor.run("codestral.usage")
    assert usage["byModel"][model]["requests"] == 1
    assert usage["byModel"][model]["estimatedCostUsd"] == pytest.approx(cost)
    assert not editor.message_texts(types.MessageType.Warning)
