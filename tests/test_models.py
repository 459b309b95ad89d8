"""Models per action, built-in prices, usage per model, and what the endpoint serves."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from codestral_lsp.api.types import Usage
from codestral_lsp.settings import DEFAULT_PRICES, Price, parse_settings
from codestral_lsp.usage import UsageTotals, describe_tokens
from lsprotocol import types

from fake_codestral import FakeCodestral, Script
from tests.editor import Editor, lsp_range

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


def test_model_problems_name_the_setting_to_change() -> None:
    from codestral_lsp.api.types import ModelInfo
    from codestral_lsp.models import model_problems

    served = [
        ModelInfo("codestral-2508", ("codestral-latest",), chat=True, fim=True, max_context_length=128000),
        ModelInfo("mistral-medium-latest", chat=True, fim=False),
        ModelInfo("local", chat=None, fim=None),
    ]
    ok, _ = parse_settings({"models": {"review": "mistral-medium-latest"}, "completion": {"model": "local"}})
    assert model_problems(ok, served) == []  # unknown capabilities are not held against a model
    bad, _ = parse_settings(
        {
            "model": "mistral-medium-latest",
            "models": {"explain": "gone-model"},
            "actions": [{"id": "x", "prompt": "p", "model": "other"}],
        }
    )
    problems = model_problems(bad, served)
    assert len(problems) == 3
    assert "codestral.models.explain" in problems[0] and "'gone-model'" in problems[0]
    assert "codestral.actions[x].model" in problems[1]
    assert "codestral.completion.model" in problems[2] and "e.g. codestral-2508" in problems[2]
    off, _ = parse_settings({"model": "mistral-medium-latest", "completion": {"enabled": False}})
    assert model_problems(off, served) == []
    assert model_problems(bad, []) == []


async def test_models_lists_the_endpoint_once_and_warns_once_at_start(
    start_session: Callable[..., Awaitable[Editor]], fake: FakeCodestral
) -> None:
    editor = await start_session(settings={"models": {"explain": "mistral-large-3000"},
                                           "completion": {"model": "mistral-medium-latest"}})  # fmt: skip
    first = await editor.run("codestral.models")
    second = await editor.run("codestral.models")

    assert first == second and first["status"] == "shown"
    codestral = next(m for m in first["models"] if m["id"] == "codestral-2508")
    assert codestral == {
        "id": "codestral-2508",
        "aliases": ["codestral-latest"],
        "contextLength": 128000,
        "chat": True,
        "fim": True,
    }
    assert len([r for r in fake.requests if r.path == "/v1/models"]) == 1  # cached
    warnings = editor.message_texts(types.MessageType.Warning)
    assert len(warnings) == 2
    assert "codestral.models.explain" in warnings[0] and "'mistral-large-3000'" in warnings[0]
    assert "codestral.completion.model" in warnings[1] and "cannot fill in the middle" in warnings[1]

    editor.client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    await editor.sync()
    await editor.run("codestral.models")
    assert len(editor.message_texts(types.MessageType.Warning)) == 2  # said once, not at every reload


async def test_models_without_a_models_endpoint_is_one_sentence(
    start_session: Callable[..., Awaitable[Editor]], fake: FakeCodestral
) -> None:
    fake.serve_models = False
    editor = await start_session(settings={"model": "anything"})
    result = await editor.run("codestral.models")
    assert result["status"] == "failed" and "could not be listed" in result["message"]
    assert editor.message_texts(types.MessageType.Warning) == []  # no list: no false alarm at start


def test_models_names_only_actions_that_exist() -> None:
    from codestral_lsp.actions import BUILTIN_ACTIONS
    from codestral_lsp.settings import BUILTIN_ACTION_IDS

    assert set(BUILTIN_ACTION_IDS) == set(BUILTIN_ACTIONS)
    settings, problems = parse_settings(
        {
            "models": {"explian": "mistral-large-latest", "mine": "devstral-latest", "fix": " "},
            "actions": [{"id": "mine", "prompt": "p"}],
        }
    )
    assert settings.models == {"mine": "devstral-latest"}
    assert len(problems) == 2
    assert "codestral.models.explian" in problems[0] and "no action 'explian'" in problems[0]
    assert "codestral.models.fix" in problems[1]
