"""Settings precedence and reload, user-defined actions, and generated tests, end to end."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from codestral_lsp.settings import Settings
from lsprotocol import types

from fake_codestral import FakeCodestral, Script
from tests.editor import CAPABILITIES, Editor, lsp_range, range_of

CODE = "def add(a, b):\n    return a + b\n"
ALL = lsp_range(0, 0, 2, 0)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "project"
    path.mkdir()
    return path


async def test_configuration_wins_over_initialization_options(
    fake: FakeCodestral, folder: Path, start_session: Callable[..., Awaitable[Editor]]
) -> None:
    editor = await start_session(
        initialization_options={"model": "codestral-2508", "temperature": 0.7, "maxTokens": 100},
        settings={"model": "mistral-medium-latest"},
    )
    uri = editor.open("a.py", CODE)
    await editor.run("codestral.explain", {"uri": uri, "range": ALL})
    body = fake.completion_requests()[0].body
    assert (body["model"], body["temperature"], body["max_tokens"]) == ("mistral-medium-latest", 0.7, 100)


async def test_settings_reload_on_did_change_configuration(
    fake: FakeCodestral, folder: Path, start_session: Callable[..., Awaitable[Editor]]
) -> None:
    editor = await start_session()
    uri = editor.open("a.py", CODE)
    await editor.run("codestral.explain", {"uri": uri, "range": ALL})
    editor.client.set_configuration({"model": "codestral-2508", "temperature": 0.0}, section="codestral")
    editor.client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    await editor.sync()
    await editor.run("codestral.explain", {"uri": uri, "range": ALL})
    before, after = fake.completion_requests()
    assert before.body["model"] == "codestral-latest" and before.body["temperature"] == 0.2
    assert after.body["model"] == "codestral-2508" and after.body["temperature"] == 0.0


async def test_bad_settings_are_named_and_fall_back_to_defaults(
    fake: FakeCodestral, folder: Path, start_session: Callable[..., Awaitable[Editor]]
) -> None:
    editor = await start_session(
        settings={
            "temperature": "hot",
            "timeouts": {"idle": -3},
            "maxTokenz": 5,
            "actions": [{"title": "no id"}],
        },
    )
    uri = editor.open("a.py", CODE)
    await editor.run("codestral.explain", {"uri": uri, "range": ALL})
    warnings = editor.message_texts(types.MessageType.Warning)
    assert any("codestral.temperature" in w and "'hot'" in w and "default (0.2)" in w for w in warnings)
    assert any("codestral.timeouts.idle" in w for w in warnings)
    assert any("codestral.maxTokenz is not a known setting" in w for w in warnings)
    assert any("codestral.actions" in w for w in warnings)
    assert fake.completion_requests()[0].body["temperature"] == 0.2


async def test_an_insecure_base_url_is_refused_without_a_request(
    fake: FakeCodestral, folder: Path, start_session: Callable[..., Awaitable[Editor]]
) -> None:
    editor = await start_session(settings={"baseUrl": "http://codestral.example.com/v1"})
    uri = editor.open("a.py", CODE)
    result = await editor.run("codestral.refactor", {"uri": uri, "range": ALL})
    assert result["status"] == "failed" and "Refusing plain http://" in result["message"]
    assert fake.requests == []


CUSTOM = [
    {
        "id": "typehints",
        "title": "Codestral: Add type hints",
        "prompt": "Add type hints to this {language} code from {path}:\n{selection}",
    },
    {
        "id": "example",
        "title": "Codestral: Usage example",
        "prompt": "Write a usage example. {instruction}",
        "mode": "insertAfter",
    },
    {
        "id": "review",
        "title": "Codestral: Review",
        "prompt": "Review {selection} for bugs.",
        "mode": "explain",
    },
]


async def test_user_defined_actions_are_offered_and_run(
    fake: FakeCodestral, folder: Path, start_session: Callable[..., Awaitable[Editor]]
) -> None:
    editor = await start_session(settings={"actions": CUSTOM})
    uri = editor.open("a.py", CODE)
    actions = await editor.code_actions(uri, range_of(0, 0, 2, 0))
    by_title = {a.title: a for a in actions}
    assert {"Codestral: Add type hints", "Codestral: Usage example", "Codestral: Review"} <= set(by_title)
    hints = by_title["Codestral: Add type hints"].command
    assert hints is not None and hints.arguments is not None
    argument = hints.arguments[0]
    assert isinstance(argument, dict)
    assert hints.command == "codestral.custom" and argument["action"] == "typehints"

    fake.enqueue(Script(text="```python\ndef add(a: int, b: int) -> int:\n    return a + b\n```"))
    await editor.run(hints.command, *hints.arguments)
    assert editor.text(uri) == "def add(a: int, b: int) -> int:\n    return a + b\n"
    prompt = fake.completion_requests()[0].prompt_text()
    assert "Add type hints to this python code from a.py:\ndef add(a, b):" in prompt

    fake.enqueue(Script(text="```python\nprint(add(1, 2))\n```"))
    await editor.run(
        "codestral.custom",
        {"uri": uri, "range": lsp_range(0, 0, 2, 0), "action": "example", "instruction": "Keep it short."},
    )
    assert editor.text(uri).endswith("    return a + b\nprint(add(1, 2))\n")
    assert "Write a usage example. Keep it short." in fake.completion_requests()[1].prompt_text()

    fake.enqueue(Script(text="No bugs found."))
    review = await editor.run("codestral.custom", {"uri": uri, "range": ALL, "action": "review"})
    assert review["markdown"] == "No bugs found."


async def test_generated_tests_go_to_the_projects_tests_folder(
    fake: FakeCodestral, folder: Path, start_session: Callable[..., Awaitable[Editor]]
) -> None:
    (folder / "tests").mkdir()
    editor = await start_session()
    uri = editor.open("src/calc.py", CODE)
    tests = "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"
    fake.enqueue(Script(text=f"Here are tests:\n```python\n{tests}```"))
    result = await editor.run("codestral.tests", {"uri": uri, "range": ALL})
    target = folder / "tests" / "test_calc.py"
    assert result["status"] == "applied" and result["testUri"] == target.as_uri()
    assert target.read_text() == tests
    assert editor.text(uri) == CODE

    fake.enqueue(Script(text="```python\ndef test_add_negative():\n    assert add(-1, -2) == -3\n```"))
    await editor.run("codestral.tests", {"uri": uri, "range": ALL})
    assert target.read_text() == tests + "\n\ndef test_add_negative():\n    assert add(-1, -2) == -3\n"


async def test_edit_is_offered_to_clients_that_prompt_for_the_instruction(
    fake: FakeCodestral, folder: Path, start_session: Callable[..., Awaitable[Editor]]
) -> None:

    capabilities = types.ClientCapabilities(
        workspace=CAPABILITIES.workspace,
        window=CAPABILITIES.window,
        text_document=CAPABILITIES.text_document,
        experimental={"codestral": {"promptForInstruction": True}},
    )
    editor = await start_session(capabilities=capabilities)
    uri = editor.open("a.py", CODE)
    actions = await editor.code_actions(uri, range_of(0, 0, 2, 0))
    assert "Codestral: Edit with instruction…" in [a.title for a in actions]


async def test_a_workspace_base_url_to_an_untrusted_host_gets_neither_code_nor_key(
    fake: FakeCodestral, folder: Path, start_session: Callable[..., Awaitable[Editor]]
) -> None:
    editor = await start_session(
        settings={"baseUrl": "https://collector.example.net/v1", "apiKeyEnv": "CODESTRAL_API_KEY"},
    )
    uri = editor.open("a.py", CODE)
    result = await editor.run("codestral.refactor", {"uri": uri, "range": ALL})
    assert result["status"] == "failed"
    assert "collector.example.net" in result["message"] and "CODESTRAL_TRUSTED_HOSTS" in result["message"]
    assert fake.requests == []


async def test_non_finite_numbers_in_settings_are_named_and_replaced_by_defaults(
    fake: FakeCodestral, folder: Path, start_session: Callable[..., Awaitable[Editor]]
) -> None:
    # JSON as Python (and several editors) write it allows NaN and Infinity.
    editor = await start_session(
        settings={
            "timeouts": {"idle": math.nan, "connect": math.inf},
            "temperature": -math.inf,
            "prices": {"codestral-latest": {"input": math.inf, "output": 1e300}},  # overflows a cost
            "retry": {"totalSeconds": 10**400},
        }
    )
    uri = editor.open("a.py", CODE)
    fake.enqueue(Script(text="Adds.", usage=(1000, 10)))
    assert (await editor.run("codestral.explain", {"uri": uri, "range": ALL}))["status"] == "shown"
    warnings = "\n".join(editor.message_texts(types.MessageType.Warning))
    for key, default in [
        ("timeouts.idle", str(Settings().timeouts.idle)),
        ("timeouts.connect", str(Settings().timeouts.connect)),
        ("temperature", "0.2"),
        ("prices.codestral-latest.input", "0.0"),
        ("prices.codestral-latest.output", "0.0"),
        ("retry.totalSeconds", "60.0"),
    ]:
        assert f"codestral.{key}:" in warnings and f"default ({default})" in warnings, key
    assert "nan" in warnings and "(401 characters)" in warnings  # the value, cut short
    assert fake.completion_requests()[0].body["temperature"] == 0.2
    usage = await editor.run("codestral.usage")
    assert math.isfinite(usage["estimatedCostUsd"])


SECTIONED = {
    "codestral": {"model": "codestral-2508", "temperature": 0.0},
    "python": {"analysis": {"typeCheckingMode": "strict"}},
    "rust-analyzer": {"check": {"command": "clippy"}},
}


@pytest.mark.parametrize("where", ["initializationOptions", "didChangeConfiguration"])
async def test_settings_sent_with_several_sections_read_the_codestral_one(
    fake: FakeCodestral, folder: Path, start_session: Callable[..., Awaitable[Editor]], where: str
) -> None:
    no_configuration = types.ClientCapabilities(  # a client that pushes settings instead
        workspace=types.WorkspaceClientCapabilities(
            apply_edit=True, workspace_edit=CAPABILITIES.workspace.workspace_edit
        ),
        window=CAPABILITIES.window,
        text_document=CAPABILITIES.text_document,
    )
    pushed = where == "didChangeConfiguration"
    editor = await start_session(
        capabilities=no_configuration, initialization_options=None if pushed else SECTIONED
    )
    uri = editor.open("a.py", CODE)
    if pushed:
        editor.client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings=SECTIONED)
        )
        await editor.sync()
    await editor.run("codestral.explain", {"uri": uri, "range": ALL})
    # Settings for other servers only: nothing for us, and nothing to complain about.
    editor.client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"python": SECTIONED["python"]})
    )
    await editor.sync()
    assert editor.message_texts(types.MessageType.Warning) == []
    body = fake.completion_requests()[0].body
    assert (body["model"], body["temperature"]) == ("codestral-2508", 0.0)


async def test_empty_lua_tables_count_as_no_settings(
    fake: FakeCodestral, folder: Path, start_session: Callable[..., Awaitable[Editor]]
) -> None:
    """Neovim encodes an empty Lua table as []: as settings, or inside them, it means "none"."""
    editor = await start_session(initialization_options=[], settings={"completion": [], "prices": []})
    uri = editor.open("a.py", CODE)
    await editor.run("codestral.explain", {"uri": uri, "range": ALL})
    assert editor.message_texts(types.MessageType.Warning) == []
    assert fake.completion_requests()[0].body["model"] == "codestral-latest"


async def test_inline_completion_for_a_document_never_opened_is_invalid_params(
    fake: FakeCodestral, folder: Path, start_session: Callable[..., Awaitable[Editor]]
) -> None:
    from pygls.exceptions import JsonRpcException

    editor = await start_session()
    uri = editor.open("a.py", CODE)
    for target, position in (((folder / "never.py").as_uri(), (0, 0)), (uri, (40, 0))):
        with pytest.raises(JsonRpcException) as raised:
            await editor.client.text_document_inline_completion_async(
                types.InlineCompletionParams(
                    text_document=types.TextDocumentIdentifier(uri=target),
                    position=types.Position(line=position[0], character=position[1]),
                    context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
                )
            )
        assert raised.value.code == types.ErrorCodes.InvalidParams
    assert fake.completion_requests() == []
