"""The context budget follows the model's context window (``GET /models``), capped by an
explicit ``context.budgetTokens``, and falls back to the fixed default when the window is not
known — unit by unit, then through the real server against the fake."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from codestral_lsp.api.types import ModelInfo
from codestral_lsp.context import CodeContext
from codestral_lsp.crossfile import RelatedPiece, assemble
from codestral_lsp.models import context_budget, with_context_budget
from codestral_lsp.positions import lsp_lines
from codestral_lsp.settings import DEFAULT_BUDGET_TOKENS, parse_settings

from fake_codestral import FakeCodestral, Script
from fake_codestral.server import Gate
from tests.editor import Editor, lsp_range

CODESTRAL = ModelInfo("codestral-2508", ("codestral-latest",), chat=True, fim=True, max_context_length=256000)


def budget(raw: dict[str, object], models: list[ModelInfo] | None, model: str = "codestral-latest") -> int:
    settings, problems = parse_settings(raw)
    assert problems == []
    return context_budget(settings, model, models)[0]


@pytest.mark.parametrize(
    ("raw", "models", "expected"),
    [
        ({}, [CODESTRAL], 25600),  # 0.1 of 256K, found through the alias
        ({}, None, DEFAULT_BUDGET_TOKENS),  # not known (yet): never waited for
        ({}, [], DEFAULT_BUDGET_TOKENS),  # a server without the list
        ({}, [ModelInfo("other")], DEFAULT_BUDGET_TOKENS),  # the model is not in the list
        ({}, [ModelInfo("codestral-latest", max_context_length=32000)], DEFAULT_BUDGET_TOKENS),  # floor
        ({"context": {"windowFraction": 0.25}}, [CODESTRAL], 64000),
        ({"context": {"budgetTokens": 3000}}, [CODESTRAL], 3000),  # explicit: the user's number
        ({"context": {"budgetTokens": 3000}}, None, 3000),
        # never more than half of what the window leaves after the answer
        ({"context": {"budgetTokens": 200000}}, [CODESTRAL], (256000 - 4096) // 2),
        ({}, [ModelInfo("codestral-latest", max_context_length=8192)], (8192 - 4096) // 2),
    ],
)
def test_the_budget_follows_the_window_unless_set(
    raw: dict[str, object], models: list[ModelInfo] | None, expected: int
) -> None:
    assert budget(raw, models) == expected


def test_a_jobs_snapshot_carries_the_budget_it_was_given() -> None:
    settings, _ = parse_settings({})
    assert settings.context.budget_tokens is None
    assert settings.context.budget_chars == int(DEFAULT_BUDGET_TOKENS * settings.context.chars_per_token)
    sized = with_context_budget(settings, 25600)
    assert sized.context.budget_tokens == 25600 and sized.context.budget_chars == int(25600 * 3.5)
    assert settings.context.budget_tokens is None  # the shared settings are untouched


# -- through the server ----------------------------------------------------------------------

STEPS = 40


def step_module(i: int) -> str:
    """A definition of ~800 characters (its docstring is shown with its signature)."""
    doc = "\n".join(
        f"    Stage {i} rule {j}: keep column_{i}_{j} within bounds, log anomalies." for j in range(10)
    )
    return f'def step_{i}(row):\n    """Apply stage {i}.\n\n{doc}\n    """\n    return row\n'


MAIN = (
    "".join(f"from pkg.m{i} import step_{i}\n" for i in range(STEPS))
    + "\n\ndef pipeline(row):\n"
    + "".join(f"    row = step_{i}(row)\n" for i in range(STEPS))
    + "    return row\n"
)
FIRST, LAST = STEPS + 2, STEPS + 2 + STEPS + 1  # the lines of pipeline()


def set_window(fake: FakeCodestral, tokens: int) -> None:
    for model in fake.models:
        if model["id"] == "codestral-2508":
            model["max_context_length"] = tokens


async def start_with_steps(
    start_session: Callable[..., Awaitable[Editor]], tmp_path: Path, settings: dict[str, object] | None = None
) -> Editor:
    """A fresh session on a workspace of STEPS modules, indexed."""
    files = {f"pkg/m{i}.py": step_module(i) for i in range(STEPS)}
    for name, text in {"pkg/__init__.py": "", **files}.items():
        path = tmp_path / "project" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    editor = await start_session(settings=settings or {})
    assert (await editor.run("codestral.index", {"wait": True}))["ready"] is True
    return editor


async def explain(editor: Editor, fake: FakeCodestral) -> str:
    """Explain pipeline() in main.py; the prompt the fake received."""
    uri = (editor.folder / "main.py").as_uri()
    if uri not in editor.documents:
        uri = editor.open("main.py", MAIN)
    fake.enqueue(Script(text="It runs every stage."))
    result = await editor.run("codestral.explain", {"uri": uri, "range": lsp_range(FIRST, 0, LAST + 1, 0)})
    assert result["status"] == "shown"
    return fake.completion_requests()[-1].prompt_text()


async def explain_pipeline(
    start_session: Callable[..., Awaitable[Editor]],
    fake: FakeCodestral,
    tmp_path: Path,
    settings: dict[str, object] | None = None,
    window: int | None = None,
) -> str:
    """Open main.py in a fresh session, Explain pipeline(); the prompt the fake received."""
    editor = await start_with_steps(start_session, tmp_path, settings)
    if window is not None:  # the model list is known (codestral.models waits for it)
        set_window(fake, window)
        listed = await editor.run("codestral.models", {"refresh": True})
        assert listed["status"] == "shown"
    return await explain(editor, fake)


def definitions(prompt: str) -> int:
    return prompt.count("Definition of `step_")


async def test_a_larger_window_gives_a_larger_prompt(
    start_session: Callable[..., Awaitable[Editor]], fake: FakeCodestral, tmp_path: Path
) -> None:
    small = await explain_pipeline(start_session, fake, tmp_path, window=32000)
    large = await explain_pipeline(start_session, fake, tmp_path, window=256000)
    assert 0 < definitions(small) < STEPS  # 6,000 tokens (the floor) hold some of them
    assert definitions(large) == STEPS  # 25,600 tokens hold them all
    assert len(small) <= DEFAULT_BUDGET_TOKENS * 3.5 + len(MAIN) + 2000 < len(large)


async def test_an_explicit_budget_caps_the_prompt_whatever_the_window(
    start_session: Callable[..., Awaitable[Editor]], fake: FakeCodestral, tmp_path: Path
) -> None:
    default = await explain_pipeline(start_session, fake, tmp_path, window=32000)
    capped = await explain_pipeline(
        start_session, fake, tmp_path, settings={"context": {"budgetTokens": 3000}}, window=256000
    )
    assert 0 < definitions(capped) < definitions(default)
    assert len(capped) < len(default)


async def test_without_a_model_list_the_fixed_default_holds(
    start_session: Callable[..., Awaitable[Editor]], fake: FakeCodestral, tmp_path: Path
) -> None:
    known = await explain_pipeline(start_session, fake, tmp_path, window=32000)  # → the 6,000 floor
    fake.serve_models = False  # GET /v1/models answers 404, as llama.cpp and many proxies do
    unknown = await explain_pipeline(start_session, fake, tmp_path)
    assert definitions(unknown) == definitions(known) and len(unknown) == len(known)


async def test_an_action_never_waits_for_the_model_list(
    start_session: Callable[..., Awaitable[Editor]], fake: FakeCodestral, tmp_path: Path
) -> None:
    set_window(fake, 256000)
    fake.models_gate = gate = Gate()  # the list is slow to come
    editor = await start_with_steps(start_session, tmp_path)
    assert await asyncio.to_thread(gate.reached.wait, 10)  # asked for in the background
    before = await explain(editor, fake)  # answered meanwhile, at the fixed default
    assert 0 < definitions(before) < STEPS
    gate.open()
    assert (await editor.run("codestral.models"))["status"] == "shown"
    after = await explain(editor, fake)  # the window is known now
    assert definitions(after) == STEPS


def test_a_budget_grown_from_the_window_goes_to_other_files_not_the_files_own_part() -> None:
    methods = "".join(f"    def method_{i}(self):\n        return self.value_{i}\n\n" for i in range(400))
    lines = lsp_lines(f"class Big:\n{methods}")
    first = 3 * 200 + 1  # method_200
    selection = "".join(lines[first : first + 2])
    related = [
        RelatedPiece("definition", f"pkg/m{i}.py", 0, step_module(i), f"step_{i}") for i in range(STEPS)
    ]
    small = int(DEFAULT_BUDGET_TOKENS * 3.5)
    large = 25600 * 35 // 10

    def build(budget: int, file_budget: int | None = None) -> tuple[CodeContext, list[RelatedPiece]]:
        return assemble(
            lines, first, first + 1, selection, related, language="python", path="big.py",
            budget_chars=budget, nearby_lines=30, file_budget_chars=file_budget,
        )  # fmt: skip

    before, kept_before = build(small)
    grown, kept = build(large, small)
    whole, _ = build(large)
    assert grown == before  # the file's own part as at 6,000 tokens…
    assert len(kept) == STEPS > len(kept_before)  # …and room for every definition
    assert whole.context_chars() > 2 * grown.context_chars()  # (an explicit budget: the whole class)


# -- a server that lies in GET /models ---------------------------------------------------------


@pytest.mark.parametrize(
    "window",
    [
        -256000,  # negative
        True,  # a JSON boolean (an int to Python)
        10**12,  # absurdly large
        2**70,  # larger than any machine integer
    ],
)
def test_a_lying_window_leaves_the_budget_sane(window: int) -> None:
    tokens = budget({}, [ModelInfo("codestral-latest", max_context_length=window)])
    assert DEFAULT_BUDGET_TOKENS <= tokens <= 1_000_000  # the most context.budgetTokens may be


@pytest.mark.parametrize("window", [-256000, True, "256000", 10**12])
async def test_a_lying_model_list_still_gets_the_context_the_default_would(
    start_session: Callable[..., Awaitable[Editor]], fake: FakeCodestral, tmp_path: Path, window: object
) -> None:
    known = await explain_pipeline(start_session, fake, tmp_path, window=32000)  # → the 6,000 floor
    lied = await explain_pipeline(start_session, fake, tmp_path, window=window)  # type: ignore[arg-type]
    assert definitions(lied) >= definitions(known) > 0
