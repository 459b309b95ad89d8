"""Review end to end: JSON mode → findings → diagnostics that follow edits, and their quick fix."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from lsprotocol import types

from fake_codestral import FakeCodestral, Script
from tests.editor import CAPABILITIES, Editor, lines_of, lsp_range, utf16_position

# CRLF, a tab, and an emoji before the code a finding points at: columns must be UTF-16.
CODE = (
    "import os\r\n"
    "\r\n"
    "def load(path):\r\n"
    '\tname = "😀" + path\r\n'
    "\tdata = open(name).read()\r\n"
    "\treturn eval(data)\r\n"
    "\r\n"
    "print(load('x'))\r\n"
)


def answer(*findings: dict[str, Any]) -> Script:
    return Script(text=json.dumps({"findings": list(findings)}), chunk_size=9)


def expected_range(text: str, line: int, end_line: int) -> types.Range:
    """From the first non-blank character of ``line`` to the end of ``end_line`` (0-based),
    counted by the test's own UTF-16 code."""
    lines = lines_of(text)
    start = sum(len(x) for x in lines[:line])
    first = lines[line]
    start += len(first) - len(first.lstrip())
    last_start = sum(len(x) for x in lines[:end_line])
    last_end = last_start + len(lines[end_line].rstrip("\r\n"))
    return types.Range(start=utf16_position(text, start), end=utf16_position(text, last_end))


@pytest.fixture
async def editor(start_session: Callable[..., Awaitable[Editor]]) -> Editor:
    return await start_session()


async def review(editor: Editor, uri: str, first: int = 2, last: int = 6) -> Any:
    return await editor.run("codestral.review", {"uri": uri, "range": lsp_range(first, 0, last, 0)})


async def test_review_asks_in_json_mode_and_publishes_findings_on_their_lines(
    editor: Editor, fake: FakeCodestral
) -> None:
    uri = editor.open("load.py", CODE)
    fake.enqueue(
        answer(
            {"line": 4, "severity": "warning", "message": "The file is never closed.", "suggestion": "Use with."},
            {"line": 5, "endLine": 6, "severity": "error", "message": "eval runs whatever the file says."},
        )
    )
    result = await review(editor, uri)

    assert result["status"] == "shown" and result["findings"] == 2
    assert "2 problems" in result["message"]
    [request] = fake.completion_requests()
    assert request.body["response_format"] == {"type": "json_object"}
    prompt = request.prompt_text()
    assert "3 | def load(path):" in prompt and "6 | \treturn eval(data)" in prompt
    published = editor.client.diagnostics[uri]
    assert [d.source for d in published] == ["codestral", "codestral"]
    assert [d.severity for d in published] == [types.DiagnosticSeverity.Warning, types.DiagnosticSeverity.Error]
    assert published[0].message == "The file is never closed.\nSuggestion: Use with."
    assert published[0].range == expected_range(CODE, 3, 3)  # line 4 as the prompt numbered it
    assert published[0].range.end.character == 19  # the emoji counts two UTF-16 units
    assert published[1].range == expected_range(CODE, 4, 5)
    assert editor.text(uri) == CODE  # a review changes nothing


async def test_progress_counts_the_findings_as_they_stream(editor: Editor, fake: FakeCodestral) -> None:
    uri = editor.open("load.py", CODE)
    findings = [{"line": n, "severity": "info", "message": f"Finding on line {n}."} for n in (3, 4, 5)]
    fake.enqueue(Script(text=json.dumps({"findings": findings}), chunk_size=3, chunk_delay=0.01))
    await review(editor, uri)

    [values] = editor.progress_values()
    messages = [getattr(v, "message", None) or "" for v in values]
    so_far = [m for m in messages if m.endswith("so far")]
    assert so_far[-1] == "3 findings so far"
    assert "1 finding so far" in so_far
    assert "3 problems" in messages[-1]  # the end says the outcome


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("The code looks fine to me.", "not valid JSON"),
        (json.dumps({"issues": []}), "not {\"findings\": [...]}"),
        (json.dumps({"findings": [{"line": 1, "severity": "error", "message": "x"}]}), "outside the reviewed"),
        (json.dumps({"findings": [{"line": 4, "severity": "fatal", "message": "x"}]}), "severity 'fatal'"),
        (json.dumps({"findings": [{"line": "4", "severity": "info", "message": "x"}]}), "whole line"),
    ],
)
async def test_an_unusable_answer_is_one_sentence_and_publishes_nothing(
    editor: Editor, fake: FakeCodestral, text: str, said: str
) -> None:
    uri = editor.open("load.py", CODE)
    fake.enqueue(Script(text=text))
    result = await review(editor, uri)

    assert result["status"] == "failed" and said in result["message"]
    assert any(said in m for m in editor.message_texts(types.MessageType.Warning))
    assert not editor.client.diagnostics.get(uri)
    fake.enqueue(answer({"line": 4, "severity": "hint", "message": "Still serving."}))
    assert (await review(editor, uri))["findings"] == 1  # the server keeps serving


async def test_findings_follow_edits_and_go_when_their_code_changes(editor: Editor, fake: FakeCodestral) -> None:
    uri = editor.open("load.py", CODE)
    fake.enqueue(
        answer(
            {"line": 4, "severity": "warning", "message": "Never closed."},
            {"line": 6, "severity": "error", "message": "eval."},
        )
    )
    await review(editor, uri)

    editor.replace(uri, 0, 0, "import sys\r\n")  # a line inserted above: both move down
    await editor.sync()
    text = editor.text(uri)
    moved = editor.client.diagnostics[uri]
    assert [d.range for d in moved] == [expected_range(text, 4, 4), expected_range(text, 6, 6)]

    at = text.index("eval(data)")
    editor.replace(uri, at, at + 4, "json.loads")  # the code of the second finding changed
    await editor.sync()
    assert [d.message for d in editor.client.diagnostics[uri]] == ["Never closed."]

    assert await editor.run("codestral.clearReview", {"uri": uri}) == {"cleared": 1}
    assert not editor.client.diagnostics[uri]


async def test_a_new_review_replaces_the_findings_on_its_lines_only(editor: Editor, fake: FakeCodestral) -> None:
    uri = editor.open("load.py", CODE)
    fake.enqueue(answer({"line": 8, "severity": "info", "message": "Top-level call."}))
    await review(editor, uri, 7, 8)
    fake.enqueue(answer({"line": 5, "severity": "warning", "message": "Never closed."}))
    await review(editor, uri)
    assert [d.message for d in editor.client.diagnostics[uri]] == ["Never closed.", "Top-level call."]
    fake.enqueue(answer())
    result = await review(editor, uri)
    assert result["findings"] == 0 and "nothing to report" in result["message"]
    assert [d.message for d in editor.client.diagnostics[uri]] == ["Top-level call."]


async def test_each_finding_offers_fix_this_which_runs_fix_with_it(editor: Editor, fake: FakeCodestral) -> None:
    uri = editor.open("load.py", CODE)
    fake.enqueue(answer({"line": 5, "severity": "warning", "message": "The file is never closed."}))
    await review(editor, uri)
    [diagnostic] = editor.client.diagnostics[uri]

    actions = await editor.code_actions(uri, diagnostic.range, diagnostics=[diagnostic])
    [fix] = [a for a in actions if a.title == "Codestral: Fix this"]
    assert fix.kind == types.CodeActionKind.QuickFix and fix.command is not None
    assert fix.command.command == "codestral.fix"
    assert not [a for a in actions if a.title.startswith("Codestral: Fix “")]  # no second fix for it

    fixed = "\twith open(name) as f:\r\n\t\tdata = f.read()\r\n"
    fake.enqueue(Script(text=f"```python\n{fixed.replace(chr(13), '')}```"))
    result = await editor.run(fix.command.command, *(fix.command.arguments or []))
    assert result["status"] == "applied"
    assert editor.text(uri) == CODE.replace("\tdata = open(name).read()\r\n", fixed)
    assert "The file is never closed." in fake.completion_requests()[-1].prompt_text()
    assert not editor.client.diagnostics[uri]  # its code changed: the finding is gone


async def test_review_is_in_the_code_action_menu(editor: Editor) -> None:
    uri = editor.open("load.py", CODE)
    actions = await editor.code_actions(uri, types.Range(start=types.Position(line=2, character=0),
                                                         end=types.Position(line=6, character=0)))
    [item] = [a for a in actions if a.title == "Codestral: Review"]
    assert item.command is not None and item.command.command == "codestral.review"


async def test_clients_that_pull_diagnostics_get_them_by_pull(
    start_session: Callable[..., Awaitable[Editor]], fake: FakeCodestral
) -> None:
    capabilities = types.ClientCapabilities(
        workspace=types.WorkspaceClientCapabilities(
            apply_edit=True,
            configuration=True,
            diagnostics=types.DiagnosticWorkspaceClientCapabilities(refresh_support=True),
        ),
        window=CAPABILITIES.window,
        text_document=types.TextDocumentClientCapabilities(
            diagnostic=types.DiagnosticClientCapabilities(), code_action=CAPABILITIES.text_document.code_action
        ),
    )
    editor = await start_session(capabilities=capabilities)
    uri = editor.open("load.py", CODE)
    fake.enqueue(answer({"line": 5, "severity": "warning", "message": "Never closed."}))
    await review(editor, uri)

    assert editor.client.diagnostic_refresh_count >= 1
    assert uri not in editor.client.diagnostics  # nothing pushed: no duplicates
    report = await editor.client.text_document_diagnostic_async(
        types.DocumentDiagnosticParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    assert [(d.message, d.source) for d in report.items] == [("Never closed.", "codestral")]


async def test_review_without_a_selection_is_refused_plainly(editor: Editor) -> None:
    uri = editor.open("load.py", CODE)
    with pytest.raises(Exception, match="needs a selection"):
        await editor.run("codestral.review", {"uri": uri, "range": lsp_range(1, 0, 2, 0)})


@pytest.mark.allow_schema_errors
def test_the_fake_holds_json_mode_to_the_api_description(fake: FakeCodestral) -> None:
    """JSON mode needs the messages to ask for JSON (the API description's MUST); the fake's own
    JSON-mode answer is one JSON object."""
    import httpx

    ask = {"model": "codestral-latest", "response_format": {"type": "json_object"}, "stream": False}
    with httpx.Client(base_url=fake.base_url) as client:
        silent = client.post("/chat/completions", json={**ask, "messages": [{"role": "user", "content": "x"}]})
        said = client.post(
            "/chat/completions",
            json={**ask, "messages": [{"role": "user", "content": "Answer in JSON.\n 7 | x = 1\n"}]},
        )
    assert silent.status_code == 422
    assert silent.json()["detail"][0]["loc"] == ["body", "response_format"]
    content = said.json()["choices"][0]["message"]["content"]
    assert json.loads(content)["findings"][0]["line"] == 7


async def test_a_review_does_not_cancel_a_rewrite_running_on_the_same_code(
    editor: Editor, fake: FakeCodestral
) -> None:
    from tests.test_server_jobs import start_held_refactor

    code = "def first():\n    return 1\n\n\ndef second():\n    return 2\n"
    uri = editor.open("m.py", code)
    running, gate = await start_held_refactor(editor, uri)
    fake.enqueue(answer({"line": 6, "severity": "info", "message": "Magic number."}))
    reviewed = await review(editor, uri, 4, 6)
    gate.open()
    refactored = await running

    assert reviewed["findings"] == 1
    assert refactored["status"] != "cancelled"
    assert not [m for m in editor.message_texts(types.MessageType.Info) if "cancelled the earlier" in m]
