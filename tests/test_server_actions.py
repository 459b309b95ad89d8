"""The language server end to end: a real LSP client, the server process, the fake Codestral."""

from __future__ import annotations

import stat
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from lsprotocol import types

from fake_codestral import FakeCodestral, Script
from tests.editor import Editor, lsp_range, range_of

PYTHON = """import os
from pathlib import Path


class Greeter:
    def greet(self, name):
        message = "Hello, " + name
        print(message)
        return message

    def part(self):
        return 1
"""


@pytest.fixture
async def editor(start_session: Callable[..., Awaitable[Editor]]) -> Editor:
    # The fake stands in for Mistral's API, so predicted outputs are on as they are there.
    return await start_session(settings={"predictedOutputs": True})


def fenced(code: str, prose: bool = True) -> str:
    if not prose:
        return f"```python\n{code}```"
    return f"Here is the refactored code:\n\n```python\n{code}```\n\nThis keeps the behaviour the same."


async def test_server_advertises_its_commands_and_action_kinds(editor: Editor) -> None:
    result = editor.server_capabilities
    assert result is not None
    commands = set(result.execute_command_provider.commands)
    assert {
        "codestral.explain",
        "codestral.refactor",
        "codestral.fix",
        "codestral.document",
        "codestral.tests",
        "codestral.edit",
        "codestral.custom",
        "codestral.cancel",
        "codestral.usage",
    } <= commands
    kinds = result.code_action_provider.code_action_kinds
    assert kinds is not None
    assert "quickfix" in kinds and "refactor.rewrite" in kinds


async def test_refactor_rewrites_exactly_the_selection(editor: Editor, fake: FakeCodestral) -> None:
    uri = editor.open("greeter.py", PYTHON)
    new_body = (
        "    def greet(self, name):\n"
        '        message = f"Hello, {name}"\n'
        "        print(message)\n"
        "        return message\n"
    )
    fake.enqueue(Script(text=fenced(new_body), chunk_size=7))
    result = await editor.run("codestral.refactor", {"uri": uri, "range": lsp_range(5, 0, 9, 0)})

    assert result["status"] == "applied"
    assert editor.text(uri) == PYTHON.replace('"Hello, " + name', 'f"Hello, {name}"')
    [applied] = editor.edits
    assert applied.edit.document_changes is not None
    [document_edit] = applied.edit.document_changes
    assert document_edit.text_document.version == 1
    assert applied.label == "Codestral: Refactor"
    for edit in document_edit.edits:  # every edit inside the selected lines
        assert edit.range.start.line >= 5 and edit.range.end.line <= 9
    [request] = fake.completion_requests()
    assert request.body["prediction"]["content"] == "".join(PYTHON.splitlines(keepends=True)[5:9])
    prompt = request.prompt_text()
    assert "class Greeter:" in prompt and "import os" in prompt and "greeter.py" in prompt


async def test_a_one_line_change_in_a_long_selection_is_a_one_line_edit(
    editor: Editor, fake: FakeCodestral
) -> None:
    lines = [f"    value_{i} = compute({i})\n" for i in range(40)]
    text = "def big():\n" + "".join(lines)
    uri = editor.open("big.py", text)
    changed = list(lines)
    changed[20] = "    value_20 = compute(20) * 2\n"
    fake.enqueue(Script(text=fenced("".join(changed)), chunk_size=50))
    await editor.run("codestral.refactor", {"uri": uri, "range": lsp_range(1, 0, 41, 0)})
    changes = editor.edits[0].edit.document_changes
    assert changes is not None
    [document_edit] = changes
    [edit] = document_edit.edits
    assert edit.range.start.line == edit.range.end.line == 21
    assert edit.new_text == " * 2"
    assert editor.text(uri) == "def big():\n" + "".join(changed)


async def test_progress_begins_reports_and_ends_with_the_outcome(editor: Editor, fake: FakeCodestral) -> None:
    uri = editor.open("greeter.py", PYTHON)
    fake.enqueue(
        Script(text=fenced("    def part(self):\n        return 2\n"), chunk_size=3, chunk_delay=0.03)
    )
    await editor.run("codestral.refactor", {"uri": uri, "range": lsp_range(10, 0, 12, 0)})
    [sequence] = editor.progress_values()
    begin, *reports, end = sequence
    assert isinstance(begin, types.WorkDoneProgressBegin)
    assert begin.title == "Codestral: Refactor" and begin.cancellable is True
    assert reports and all(isinstance(r, types.WorkDoneProgressReport) for r in reports)
    assert any("characters" in (r.message or "") for r in reports)
    assert isinstance(end, types.WorkDoneProgressEnd)
    assert end.message is not None and end.message.startswith("applied") and "tokens" in end.message


async def test_explain_returns_markdown_and_opens_a_private_document(
    editor: Editor, fake: FakeCodestral
) -> None:
    uri = editor.open("greeter.py", PYTHON)
    explanation = "`greet` builds a greeting and **prints** it.\n"
    fake.enqueue(Script(text=explanation))
    result = await editor.run("codestral.explain", {"uri": uri, "range": lsp_range(5, 0, 9, 0)})
    assert result["markdown"] == explanation
    assert editor.text(uri) == PYTHON and editor.edits == []
    [shown] = editor.client.shown_documents
    path = Path(shown.uri.removeprefix("file://"))
    assert path.read_text() == explanation
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    [request] = fake.completion_requests()
    assert "prediction" not in request.body


async def test_emoji_before_the_selection_does_not_shift_the_edit(
    editor: Editor, fake: FakeCodestral
) -> None:
    text = 'label = "😀😀"; total = price * qty\nnext_line = 1\n'
    uri = editor.open("u.py", text)
    # Select `price * qty`: after two astral characters, each two UTF-16 units.
    start = len('label = "😀😀"; total = ') + 2
    fake.enqueue(Script(text="```python\nprice * quantity\n```"))
    await editor.run(
        "codestral.refactor", {"uri": uri, "range": lsp_range(0, start, 0, start + len("price * qty"))}
    )
    assert editor.text(uri) == 'label = "😀😀"; total = price * quantity\nnext_line = 1\n'


async def test_crlf_documents_keep_crlf(editor: Editor, fake: FakeCodestral) -> None:
    text = "def f():\r\n    a = 1\r\n    return a\r\n"
    uri = editor.open("crlf.py", text)
    fake.enqueue(Script(text="```python\n    a = 2\n    return a + 1\n```"))
    await editor.run("codestral.refactor", {"uri": uri, "range": lsp_range(1, 0, 3, 0)})
    assert editor.text(uri) == "def f():\r\n    a = 2\r\n    return a + 1\r\n"


async def test_a_dedented_answer_is_reindented_with_the_files_tabs(
    editor: Editor, fake: FakeCodestral
) -> None:
    text = "func main() {\n\tif ok {\n\t\trun()\n\t}\n}\n"
    uri = editor.open("main.go", text, language="go")
    fake.enqueue(Script(text="```go\nif ok {\n    run()\n    log()\n}\n```"))
    await editor.run("codestral.refactor", {"uri": uri, "range": lsp_range(1, 0, 4, 0)})
    assert editor.text(uri) == "func main() {\n\tif ok {\n\t\trun()\n\t\tlog()\n\t}\n}\n"


async def test_an_unfenced_answer_is_used_as_code(editor: Editor, fake: FakeCodestral) -> None:
    uri = editor.open("greeter.py", PYTHON)
    fake.enqueue(Script(text="    def part(self):\n        return 3\n"))
    await editor.run("codestral.refactor", {"uri": uri, "range": lsp_range(10, 0, 12, 0)})
    assert editor.text(uri).endswith("    def part(self):\n        return 3\n")


async def test_fix_sends_the_diagnostics_and_is_offered_as_a_quick_fix(
    editor: Editor, fake: FakeCodestral
) -> None:
    uri = editor.open("greeter.py", PYTHON)
    diagnostic = types.Diagnostic(
        range=range_of(7, 8, 7, 13),
        message="print found",
        code="T201",
        source="ruff",
        severity=types.DiagnosticSeverity.Warning,
    )
    [fix] = await editor.code_actions(uri, range_of(7, 0, 7, 0), diagnostics=[diagnostic])
    assert fix.kind == types.CodeActionKind.QuickFix and fix.command.command == "codestral.fix"
    fake.enqueue(Script(text=fenced("        log.info(message)\n")))
    assert fix.command is not None and fix.command.arguments is not None
    result = await editor.run(fix.command.command, *fix.command.arguments)
    assert result["status"] == "applied"
    assert "        log.info(message)\n" in editor.text(uri) and "print(" not in editor.text(uri)
    prompt = fake.completion_requests()[0].prompt_text()
    assert "line 8: warning T201 (ruff): print found" in prompt


async def test_fix_without_diagnostics_never_mentions_diagnostics_listed(
    editor: Editor, fake: FakeCodestral
) -> None:
    uri = editor.open("greeter.py", PYTHON)
    fake.enqueue(Script(text=fenced("        log.info(message)\n")))
    result = await editor.run("codestral.fix", {"uri": uri, "range": lsp_range(7, 0, 8, 0)})
    assert result["status"] == "applied"
    prompt = fake.completion_requests()[0].prompt_text()
    assert "diagnostics listed" not in prompt and "diagnostics are listed" not in prompt
    assert "no diagnostics were reported" in prompt


async def test_code_actions_respect_only_and_need_a_selection(editor: Editor) -> None:
    uri = editor.open("greeter.py", PYTHON)

    async def titles(only: list[str] | None, empty: bool = False) -> list[str]:
        actions = await editor.code_actions(uri, range_of(5, 0, 5 if empty else 9, 0), only=only)
        return [a.title for a in actions]

    assert await titles(None) == [
        "Codestral: Explain",
        "Codestral: Review",
        "Codestral: Refactor",
        "Codestral: Document",
        "Codestral: Generate tests",
    ]
    assert await titles(["refactor.rewrite"]) == ["Codestral: Refactor", "Codestral: Document"]
    assert await titles(["quickfix"]) == []
    assert await titles(None, empty=True) == []


MINIMAL = types.ClientCapabilities(workspace=types.WorkspaceClientCapabilities(apply_edit=True))


async def test_a_client_without_progress_or_document_changes_still_gets_the_edit(
    start_session: Callable[..., Awaitable[Editor]], fake: FakeCodestral
) -> None:
    editor = await start_session(capabilities=MINIMAL)
    uri = editor.open("greeter.py", PYTHON)
    fake.enqueue(Script(text=fenced("    def part(self):\n        return 2\n")))
    result = await editor.run("codestral.refactor", {"uri": uri, "range": lsp_range(10, 0, 12, 0)})
    assert result["status"] == "applied"
    assert editor.text(uri).endswith("        return 2\n")
    [applied] = editor.edits
    assert applied.edit.document_changes is None and list(applied.edit.changes or {}) == [uri]
    assert editor.client.progress_reports == {}


async def test_explain_without_show_document_only_returns_the_markdown(
    start_session: Callable[..., Awaitable[Editor]], fake: FakeCodestral, tmp_path: Path
) -> None:
    editor = await start_session(capabilities=MINIMAL)
    uri = editor.open("greeter.py", PYTHON)
    fake.enqueue(Script(text="It greets."))
    result = await editor.run("codestral.explain", {"uri": uri, "range": lsp_range(5, 0, 9, 0)})
    assert result == {
        "status": "shown",
        "message": "explanation ready",
        "markdown": "It greets.",
        "truncated": False,
        "usage": result["usage"],
    }
    assert editor.client.shown_documents == []
    assert not (tmp_path / "state").exists()  # nothing written when nothing will show it


async def test_plugins_that_show_explanations_themselves_get_no_extra_document(
    start_session: Callable[..., Awaitable[Editor]], fake: FakeCodestral
) -> None:
    from tests.editor import CAPABILITIES

    capabilities = types.ClientCapabilities(
        workspace=CAPABILITIES.workspace,
        window=CAPABILITIES.window,
        experimental={"codestral": {"showsExplanations": True}},
    )
    editor = await start_session(capabilities=capabilities)
    uri = editor.open("greeter.py", PYTHON)
    fake.enqueue(Script(text="It greets."))
    result = await editor.run("codestral.explain", {"uri": uri, "range": lsp_range(5, 0, 9, 0)})
    assert result["markdown"] == "It greets." and "documentUri" not in result
    assert editor.client.shown_documents == []


async def test_form_feeds_and_unicode_line_separators_do_not_shift_lines(
    editor: Editor, fake: FakeCodestral
) -> None:
    # LSP ends lines only at \n, \r\n and \r; a form feed or U+2028 inside a line is just a character.
    text = "x = 1\x0c\ns = 'a\u2028b'\nw = 3\nlast = 4\n"
    uri = editor.open("ff.py", text)
    fake.enqueue(Script(text="```python\nw = 33\n```"))
    await editor.run("codestral.refactor", {"uri": uri, "range": lsp_range(2, 0, 3, 0)})
    assert editor.text(uri) == text.replace("w = 3\n", "w = 33\n")
