"""Cancellation, edits made while the model writes, overlapping jobs, failures, usage."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from fake_codestral import FakeCodestral, Gate, Script
from tests.editor import CAPABILITIES, Editor, lsp_range

CODE = "def first():\n    return 1\n\n\ndef second():\n    return 2\n"
SECOND = lsp_range(4, 0, 6, 0)
NEW_SECOND = "```python\ndef second():\n    return 22\n```"


@pytest.fixture
async def editor(start_session: Callable[..., Awaitable[Editor]]) -> Editor:
    return await start_session()


async def wait_for(event: Any) -> None:
    assert await asyncio.to_thread(event.wait, 10), "timed out"


def held(text: str = NEW_SECOND) -> tuple[Script, Gate]:
    gate = Gate()
    return Script(text=text, chunk_size=5, hold_after_chunks=2, gate=gate), gate


async def start_held_refactor(editor: Editor, uri: str) -> tuple[asyncio.Task[Any], Gate]:
    """Start a refactor whose answer stops mid-stream until the gate opens."""
    script, gate = held()
    editor.fake.enqueue(script)
    running = asyncio.create_task(editor.run("codestral.refactor", {"uri": uri, "range": SECOND}))
    await wait_for(gate.reached)
    return running, gate


async def test_cancel_through_the_progress_token_stops_the_stream(
    editor: Editor, fake: FakeCodestral
) -> None:
    uri = editor.open("m.py", CODE)
    running, gate = await start_held_refactor(editor, uri)
    [token] = list(editor.client.progress_reports)
    editor.client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
    result = await running
    [request] = fake.completion_requests()
    await wait_for(request.disconnected)
    gate.open()
    assert result["status"] == "cancelled"
    assert editor.text(uri) == CODE and editor.edits == []
    end = editor.client.progress_reports[token][-1]
    assert isinstance(end, types.WorkDoneProgressEnd) and "cancelled" in (end.message or "")


async def test_cancel_request_stops_the_stream(editor: Editor, fake: FakeCodestral) -> None:
    uri = editor.open("m.py", CODE)
    script, gate = held()
    fake.enqueue(script)
    protocol = editor.client.protocol
    future = protocol.send_request(
        types.WORKSPACE_EXECUTE_COMMAND,
        types.ExecuteCommandParams(command="codestral.refactor", arguments=[{"uri": uri, "range": SECOND}]),
    )
    await wait_for(gate.reached)
    [msg_id] = [key for key, value in protocol._request_futures.items() if value is future]
    protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))
    [request] = fake.completion_requests()
    await wait_for(request.disconnected)
    gate.open()
    with pytest.raises(Exception, match="cancel"):
        await asyncio.wrap_future(future)
    await editor.sync()
    assert editor.text(uri) == CODE and editor.edits == []


async def test_the_cancel_command_stops_running_jobs(editor: Editor, fake: FakeCodestral) -> None:
    uri = editor.open("m.py", CODE)
    running, gate = await start_held_refactor(editor, uri)
    assert await editor.run("codestral.cancel", {"uri": uri}) == {"cancelled": 1}
    result = await running
    await wait_for(fake.completion_requests()[0].disconnected)
    gate.open()
    assert result["status"] == "cancelled" and editor.text(uri) == CODE


async def test_typing_above_the_selection_moves_the_edit_with_it(editor: Editor, fake: FakeCodestral) -> None:
    uri = editor.open("m.py", CODE)
    running, gate = await start_held_refactor(editor, uri)
    editor.replace(uri, 0, 0, "import sys\n\n")  # two new lines above
    editor.replace(uri, len("import sys\n\ndef "), len("import sys\n\ndef first"), "initial")
    await editor.sync()
    gate.open()
    result = await running
    assert result["status"] == "applied"
    assert (
        editor.text(uri) == "import sys\n\ndef initial():\n    return 1\n\n\ndef second():\n    return 22\n"
    )


async def test_typing_inside_the_selection_keeps_the_answer_and_applies_nothing(
    editor: Editor, fake: FakeCodestral
) -> None:
    uri = editor.open("m.py", CODE)
    running, gate = await start_held_refactor(editor, uri)
    at = CODE.index("return 2") + len("return 2")
    editor.replace(uri, at, at, "0")
    await editor.sync()
    gate.open()
    result = await running
    assert result["status"] == "kept"
    assert editor.text(uri) == CODE.replace("return 2", "return 20")
    assert editor.edits == []
    [warning] = editor.message_texts(types.MessageType.Warning)
    assert "edited the selected code" in warning
    kept = Path(result["answerUri"].removeprefix("file://"))
    assert kept.read_text() == "def second():\n    return 22\n"  # the code, without the fences
    assert [d.uri for d in editor.client.shown_documents] == [result["answerUri"]]


async def test_an_edit_the_editor_refuses_is_reported_and_kept(editor: Editor, fake: FakeCodestral) -> None:
    uri = editor.open("m.py", CODE)
    editor.refuse_edits = True
    fake.enqueue(Script(text=NEW_SECOND))
    result = await editor.run("codestral.refactor", {"uri": uri, "range": SECOND})
    assert result["status"] == "kept"
    assert "did not apply" in editor.message_texts(types.MessageType.Warning)[0]
    assert editor.text(uri) == CODE


async def test_a_newer_job_on_the_same_code_replaces_the_older(editor: Editor, fake: FakeCodestral) -> None:
    uri = editor.open("m.py", CODE)
    first, gate = await start_held_refactor(editor, uri)
    fake.enqueue(Script(text="```python\n    return 'new'\n```"))
    second = await editor.run("codestral.document", {"uri": uri, "range": lsp_range(5, 0, 6, 0)})
    first_result = await first
    gate.open()
    assert first_result["status"] == "cancelled"
    assert second["status"] == "applied"
    assert editor.text(uri).endswith("def second():\n    return 'new'\n")
    assert any(
        "Codestral cancelled the earlier Refactor: a Document was started on the same code." in m
        for m in editor.message_texts(types.MessageType.Info)
    )
    assert len(editor.edits) == 1


async def test_jobs_on_separate_code_run_side_by_side(editor: Editor, fake: FakeCodestral) -> None:
    uri = editor.open("m.py", CODE)
    slow, gate = await start_held_refactor(editor, uri)
    fake.enqueue(Script(text="```python\ndef first():\n    return 11\n```"))
    quick = await editor.run("codestral.refactor", {"uri": uri, "range": lsp_range(0, 0, 2, 0)})
    gate.open()
    assert quick["status"] == "applied" and (await slow)["status"] == "applied"
    assert editor.text(uri) == "def first():\n    return 11\n\n\ndef second():\n    return 22\n"


@pytest.mark.parametrize(
    ("scripts", "words"),
    [
        ([Script(status=401, body={"detail": "Unauthorized"})], "CODESTRAL_API_KEY"),
        ([Script(status=500) for _ in range(4)], "server error (500)"),
        (
            [Script(text="```python\nabcdefghijkl", chunk_size=2, cut_after_chunks=3)],
            "cut before the answer was complete",
        ),
        (
            [
                Script(
                    status=404,
                    body={
                        "object": "error",
                        "message": "Invalid model",
                        "type": "invalid_model",
                        "param": None,
                        "code": "1500",
                    },
                )
            ],
            "codestral-latest",
        ),
    ],
)
async def test_api_failures_are_told_plainly_and_the_server_keeps_serving(
    editor: Editor, fake: FakeCodestral, scripts: list[Script], words: str
) -> None:
    uri = editor.open("m.py", CODE)
    fake.enqueue(*scripts)
    result = await editor.run("codestral.refactor", {"uri": uri, "range": SECOND})
    assert result["status"] == "failed" and words in result["message"]
    [error] = editor.message_texts(types.MessageType.Error)
    assert error.startswith("Codestral: Refactor failed:") and words in error and "Traceback" not in error
    end = editor.progress_values()[-1][-1]
    assert isinstance(end, types.WorkDoneProgressEnd) and (end.message or "").startswith("failed")
    assert editor.text(uri) == CODE
    fake.enqueue(Script(text=NEW_SECOND))
    assert (await editor.run("codestral.refactor", {"uri": uri, "range": SECOND}))["status"] == "applied"


async def test_rate_limit_is_shown_as_a_retry_then_succeeds(editor: Editor, fake: FakeCodestral) -> None:
    uri = editor.open("m.py", CODE)
    fake.enqueue(Script(status=429, headers={"retry-after": "1"}), Script(text=NEW_SECOND))
    result = await editor.run("codestral.refactor", {"uri": uri, "range": SECOND})
    assert result["status"] == "applied"
    messages = [getattr(v, "message", None) or "" for v in editor.progress_values()[0]]
    assert "retrying in 1 s (rate limited)" in messages


async def test_a_truncated_answer_is_not_applied(editor: Editor, fake: FakeCodestral) -> None:
    uri = editor.open("m.py", CODE)
    fake.enqueue(Script(text="```python\ndef second():\n", finish_reason="length"))
    result = await editor.run("codestral.refactor", {"uri": uri, "range": SECOND})
    assert result["status"] == "kept" and "maxTokens" in result["message"]
    assert editor.text(uri) == CODE


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        ([], "one argument object"),
        (["file:///x.py"], "one argument object"),
        ([{"range": SECOND}], '"uri"'),
        ([{"uri": "file:///nowhere.py", "range": SECOND}], "not open"),
        ([{"uri": "URI", "range": lsp_range(40, 0, 41, 0)}], "line 41, but the document has 6 lines"),
        (
            [
                {
                    "uri": "URI",
                    "range": {"start": {"line": -1, "character": 0}, "end": {"line": 1, "character": 0}},
                }
            ],
            "negative",
        ),
        (
            [
                {
                    "uri": "URI",
                    "range": {"start": {"line": "a", "character": 0}, "end": {"line": 1, "character": 0}},
                }
            ],
            "whole number",
        ),
        ([{"uri": "URI", "range": lsp_range(1, 0, 1, 0)}], "needs a selection"),
        ([{"uri": "URI", "range": SECOND, "instruction": 5}], "instruction"),
    ],
)
async def test_bad_arguments_get_an_error_and_a_sentence(
    editor: Editor, fake: FakeCodestral, arguments: list[Any], words: str
) -> None:
    uri = editor.open("m.py", CODE)
    arguments = [{**a, "uri": uri} if isinstance(a, dict) and a.get("uri") == "URI" else a for a in arguments]
    with pytest.raises(JsonRpcInvalidParams) as caught:
        await editor.run("codestral.refactor", *arguments)
    assert words in str(caught.value)
    assert words in editor.message_texts(types.MessageType.Error)[0]
    assert fake.completion_requests() == []
    fake.enqueue(Script(text=NEW_SECOND))
    assert (await editor.run("codestral.refactor", {"uri": uri, "range": SECOND}))["status"] == "applied"


async def test_edit_needs_an_instruction_and_sends_it(editor: Editor, fake: FakeCodestral) -> None:
    uri = editor.open("m.py", CODE)
    with pytest.raises(JsonRpcInvalidParams, match="instruction"):
        await editor.run("codestral.edit", {"uri": uri, "range": SECOND})
    fake.enqueue(Script(text=NEW_SECOND))
    await editor.run("codestral.edit", {"uri": uri, "range": SECOND, "instruction": "return 22 instead"})
    assert "Instruction: return 22 instead" in fake.completion_requests()[0].prompt_text()
    assert editor.text(uri).endswith("return 22\n")


async def test_an_inverted_range_is_put_right(editor: Editor, fake: FakeCodestral) -> None:
    uri = editor.open("m.py", CODE)
    fake.enqueue(Script(text=NEW_SECOND))
    await editor.run("codestral.refactor", {"uri": uri, "range": lsp_range(6, 0, 4, 0)})
    assert editor.text(uri).endswith("return 22\n")


async def test_usage_is_counted_per_session(editor: Editor, fake: FakeCodestral) -> None:
    uri = editor.open("m.py", CODE)
    fake.enqueue(Script(text=NEW_SECOND, usage=(1000, 200)), Script(text="It returns 2.", usage=(500, 100)))
    first = await editor.run("codestral.refactor", {"uri": uri, "range": SECOND})
    await editor.run("codestral.explain", {"uri": uri, "range": SECOND})
    assert first["usage"] == {
        "model": "codestral-latest",
        "promptTokens": 1000,
        "completionTokens": 200,
        "estimatedCostUsd": 0.00048,
    }
    usage = await editor.run("codestral.usage")
    assert usage["requests"] == 2
    assert (usage["promptTokens"], usage["completionTokens"], usage["totalTokens"]) == (1500, 300, 1800)
    assert usage["estimatedCostUsd"] == pytest.approx((1500 * 0.3 + 300 * 0.9) / 1e6)


async def test_a_cancelled_job_says_so_in_plain_words(editor: Editor, fake: FakeCodestral) -> None:
    uri = editor.open("m.py", CODE)
    running, gate = await start_held_refactor(editor, uri)
    await editor.run("codestral.cancel", {"uri": uri})
    result = await running
    gate.open()
    # Editors put "Codestral: " before a result's message: it must not carry it twice.
    assert result["message"] == "Refactor cancelled; nothing was changed."
    end = editor.progress_values()[-1][-1]
    assert isinstance(end, types.WorkDoneProgressEnd)
    assert (end.message or "").startswith("cancelled; nothing was changed (about ")
    assert "cancelled: cancelled" not in (end.message or "")


async def test_progress_counts_tokens_in_plain_words(editor: Editor, fake: FakeCodestral) -> None:
    uri = editor.open("m.py", CODE)
    fake.enqueue(Script(text="abcd", chunk_size=4))
    await editor.run("codestral.explain", {"uri": uri, "range": SECOND})
    reports = [
        v.message or "" for v in editor.progress_values()[0] if isinstance(v, types.WorkDoneProgressReport)
    ]
    assert reports == ["4 characters received (about 1 token) — abcd"]


@pytest.mark.parametrize("reason", [None, "The user declined the edit."])
async def test_an_edit_the_editor_declines_is_kept_and_the_user_told_why(
    editor: Editor, fake: FakeCodestral, reason: str | None
) -> None:
    uri = editor.open("m.py", CODE)
    editor.refuse_edits, editor.refuse_reason = True, reason
    answer = f"Here you are:\n\n{NEW_SECOND}\n\nIt now returns 22."
    fake.enqueue(Script(text=answer))
    result = await editor.run("codestral.refactor", {"uri": uri, "range": SECOND})
    assert result["status"] == "kept" and editor.text(uri) == CODE
    why = ": The user declined the edit" if reason else ""
    [warning] = editor.message_texts(types.MessageType.Warning)
    assert warning.startswith(
        f"The editor did not apply the change{why}; nothing was changed. The proposed code is open beside yours"
    )
    assert editor.message_texts(types.MessageType.Error) == []  # no "failed unexpectedly"
    # What is kept is usable: the code as a Python file, and the whole answer beside it.
    code = Path(result["answerUri"].removeprefix("file://"))
    assert code.suffix == ".py" and code.read_text() == "def second():\n    return 22\n"
    assert Path(result["fullAnswerUri"].removeprefix("file://")).read_text() == answer
    assert result["reason"].startswith("The editor did not apply the change")


async def test_a_document_with_an_overlong_extension_still_keeps_the_answer(
    editor: Editor, fake: FakeCodestral
) -> None:
    uri = editor.open("m." + "x" * 240, CODE)
    editor.refuse_edits = True
    fake.enqueue(Script(text=NEW_SECOND))
    result = await editor.run("codestral.refactor", {"uri": uri, "range": SECOND})
    assert result["status"] == "kept"
    kept = Path(result["answerUri"].removeprefix("file://"))
    assert kept.read_text() == "def second():\n    return 22\n" and kept.suffix == ".py"  # the language's


async def test_an_explanation_cut_at_max_tokens_says_it_was_cut(
    start_session: Callable[..., Awaitable[Editor]], fake: FakeCodestral
) -> None:
    editor = await start_session(settings={"maxTokens": 50})
    uri = editor.open("m.py", CODE)
    fake.enqueue(Script(text="`second` returns 2, and", finish_reason="length"))
    result = await editor.run("codestral.explain", {"uri": uri, "range": SECOND})
    assert result["status"] == "shown" and result["truncated"] is True
    assert result["message"] == "explanation ready, but cut off at maxTokens (50)"
    assert result["markdown"].startswith("`second` returns 2, and")
    assert "cut off at maxTokens (50)" in result["markdown"]
    end = editor.progress_values()[-1][-1]
    assert "cut off at maxTokens (50)" in (end.message or "")


async def test_usage_counts_inline_completions_and_cancelled_jobs(
    start_session: Callable[..., Awaitable[Editor]], fake: FakeCodestral
) -> None:
    from tests.test_completion import INLINE, inline

    editor = await start_session(settings={"completion": {"debounceMs": 0}}, capabilities=INLINE)
    uri = editor.open("m.py", CODE)
    fake.enqueue(Script(text="22", usage=(40, 2)))
    assert (await inline(editor, uri, CODE.index("2\n", 40))).items
    running, gate = await start_held_refactor(editor, uri)
    await editor.run("codestral.cancel", {"uri": uri})
    cancelled = await running
    gate.open()
    usage = await editor.run("codestral.usage")
    assert usage["requests"] == 2
    assert (usage["inlineCompletions"], usage["unfinishedActions"], usage["actions"]) == (1, 1, 0)
    assert usage["tokensEstimated"] is True and usage["estimatedRequests"] == 1
    spent = cancelled["usage"]
    assert spent["estimated"] is True and spent["promptTokens"] > 0 and spent["completionTokens"] >= 1
    assert usage["promptTokens"] == 40 + spent["promptTokens"]
    assert usage["completionTokens"] == 2 + spent["completionTokens"]


async def test_an_answer_that_cannot_be_saved_is_still_returned_and_said(
    start_session: Callable[..., Awaitable[Editor]], fake: FakeCodestral, tmp_path: Path
) -> None:
    (tmp_path / "state").write_text("a file where the state folder should be")
    editor = await start_session()
    uri = editor.open("m.py", CODE)
    editor.refuse_edits = True
    fake.enqueue(Script(text=NEW_SECOND))
    result = await editor.run("codestral.refactor", {"uri": uri, "range": SECOND})
    assert result["status"] == "kept" and result["answer"] == NEW_SECOND
    [warning] = editor.message_texts(types.MessageType.Warning)
    assert "could not be saved to a file" in warning and "in the command result" in warning
    assert editor.message_texts(types.MessageType.Error) == []


async def test_a_settings_change_while_a_job_streams_does_not_change_that_job(
    fake: FakeCodestral, start_session: Callable[..., Awaitable[Editor]]
) -> None:
    """A job keeps the settings it started with: its cut-off message and its price."""
    started = {"maxTokens": 50, "prices": {"codestral-latest": {"input": 1.0, "output": 2.0}}}
    changed = {"maxTokens": 999, "prices": {"codestral-latest": {"input": 10.0, "output": 10.0}}}
    pushing = types.ClientCapabilities(  # settings pushed: applied as the notification is handled
        workspace=types.WorkspaceClientCapabilities(
            apply_edit=True, workspace_edit=CAPABILITIES.workspace.workspace_edit
        ),
        window=CAPABILITIES.window,
        text_document=CAPABILITIES.text_document,
    )
    editor = await start_session(capabilities=pushing, initialization_options=started)
    uri = editor.open("m.py", CODE)
    gate = Gate()
    fake.enqueue(
        Script(
            text=NEW_SECOND,
            chunk_size=5,
            hold_after_chunks=2,
            gate=gate,
            finish_reason="length",
            usage=(1000, 200),
        )
    )
    running = asyncio.create_task(editor.run("codestral.refactor", {"uri": uri, "range": SECOND}))
    await wait_for(gate.reached)
    editor.client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=changed))
    await editor.sync()
    gate.open()
    result = await running
    assert result["status"] == "kept" and editor.text(uri) == CODE
    assert result["message"].startswith("The answer was cut off at maxTokens (50), so it was not applied")
    assert any("maxTokens (50)" in text for text in editor.message_texts(types.MessageType.Warning))
    assert result["usage"]["estimatedCostUsd"] == pytest.approx((1000 * 1.0 + 200 * 2.0) / 1e6)
    session = await editor.run("codestral.usage")
    assert session["estimatedCostUsd"] == pytest.approx((1000 * 1.0 + 200 * 2.0) / 1e6)
    # The change did arrive: the next job asks with it.
    fake.enqueue(Script(text="It returns 2."))
    await editor.run("codestral.explain", {"uri": uri, "range": SECOND})
    assert fake.completion_requests()[-1].body["max_tokens"] == 999
