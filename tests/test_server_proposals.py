"""Review before apply (issue #13), end to end: proposals, accept, reject, retry, expiry, and
what clients that cannot show a proposal get."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from fake_codestral import FakeCodestral, Gate, Script
from tests.editor import CAPABILITIES, Editor, lsp_range

PYTHON = """import os


def greet(name):
    message = "Hello, " + name
    print(message)
    return message


def other():
    return 1
"""
NEW_GREET = (
    'def greet(name):\n    message = f"Hello, {name}"\n    print(message.upper())\n    return message\n'
)
REWRITTEN = PYTHON.replace('"Hello, " + name', 'f"Hello, {name}"').replace(
    "print(message)", "print(message.upper())"
)
GREET = lsp_range(3, 0, 7, 0)


def reviewing(**flags: Any) -> types.ClientCapabilities:
    """The test editor's capabilities, declaring ``experimental.codestral`` flags."""
    return types.ClientCapabilities(
        workspace=CAPABILITIES.workspace,
        window=CAPABILITIES.window,
        text_document=CAPABILITIES.text_document,
        experimental={"codestral": flags},
    )


def annotating() -> types.ClientCapabilities:
    """A client that confirms annotated edits (as VS Code without our extension)."""
    workspace = CAPABILITIES.workspace
    assert workspace is not None and workspace.workspace_edit is not None
    return types.ClientCapabilities(
        workspace=types.WorkspaceClientCapabilities(
            apply_edit=True,
            configuration=True,
            workspace_edit=types.WorkspaceEditClientCapabilities(
                document_changes=True,
                change_annotation_support=types.ChangeAnnotationsSupportOptions(groups_on_label=True),
            ),
            did_change_configuration=workspace.did_change_configuration,
        ),
        window=CAPABILITIES.window,
        text_document=CAPABILITIES.text_document,
    )


def fenced(code: str) -> str:
    return f"Here it is:\n\n```python\n{code}```\n"


@pytest.fixture
async def editor(start_session: Callable[..., Awaitable[Editor]]) -> Editor:
    return await start_session(capabilities=reviewing(reviewsEdits=True))


async def propose(editor: Editor, fake: FakeCodestral, answer: str = NEW_GREET) -> tuple[str, dict[str, Any]]:
    uri = editor.open("greeter.py", PYTHON)
    fake.enqueue(Script(text=fenced(answer)))
    result = await editor.run("codestral.refactor", {"uri": uri, "range": GREET})
    return uri, result


async def open_proposals(editor: Editor) -> int:
    status = await editor.run("codestral.status")
    return int(status["openProposals"])


async def test_a_rewrite_under_review_is_proposed_and_nothing_changes(
    editor: Editor, fake: FakeCodestral
) -> None:
    uri, result = await propose(editor, fake)
    assert result["status"] == "proposed"
    assert editor.text(uri) == PYTHON and editor.edits == []
    assert result["uri"] == uri
    assert result["range"] == GREET
    assert result["message"] == "Refactor proposes 1 change (2 lines): accept or reject."
    assert result["usage"]["completionTokens"] > 0
    assert result["diff"] == (
        "--- a/greeter.py\n"
        "+++ b/greeter.py\n"
        "@@ -4,4 +4,4 @@\n"
        " def greet(name):\n"
        '-    message = "Hello, " + name\n'
        "-    print(message)\n"
        '+    message = f"Hello, {name}"\n'
        "+    print(message.upper())\n"
        "     return message\n"
    )
    [change] = result["edit"]["documentChanges"]
    assert change["textDocument"] == {"uri": uri, "version": 1}
    assert await open_proposals(editor) == 1


async def test_accept_applies_exactly_the_edit_shown(editor: Editor, fake: FakeCodestral) -> None:
    uri, proposed = await propose(editor, fake)
    result = await editor.run("codestral.accept", {"jobId": proposed["jobId"]})
    assert result["status"] == "applied"
    assert editor.text(uri) == REWRITTEN
    [applied] = editor.edits
    sent = editor.client.protocol._converter.unstructure(applied.edit)
    assert sent == proposed["edit"]
    assert await open_proposals(editor) == 0


async def test_accept_after_an_edit_above_the_range_lands_right(editor: Editor, fake: FakeCodestral) -> None:
    uri, proposed = await propose(editor, fake)
    editor.replace(uri, 0, 0, "import sys\n")  # a line above the proposal
    result = await editor.run("codestral.accept", {"jobId": proposed["jobId"]})
    assert result["status"] == "applied"
    assert editor.text(uri) == "import sys\n" + REWRITTEN


async def test_accept_after_an_edit_inside_the_range_is_refused_and_kept(
    editor: Editor, fake: FakeCodestral
) -> None:
    uri, proposed = await propose(editor, fake)
    at = PYTHON.index("print(message)")
    editor.replace(uri, at, at, "# mine\n    ")
    typed = editor.text(uri)
    result = await editor.run("codestral.accept", {"jobId": proposed["jobId"]})
    assert result["status"] == "kept"
    assert editor.text(uri) == typed
    assert "after Codestral proposed its change" in result["message"]
    assert 'f"Hello, {name}"' in result["answer"]
    assert await open_proposals(editor) == 0


async def test_reject_changes_nothing_and_closes_the_proposal(editor: Editor, fake: FakeCodestral) -> None:
    uri, proposed = await propose(editor, fake)
    result = await editor.run("codestral.reject", {"jobId": proposed["jobId"]})
    assert result == {
        "status": "rejected",
        "message": "Refactor's proposal was rejected; nothing was changed.",
    }
    assert editor.text(uri) == PYTHON and editor.edits == []
    with pytest.raises(JsonRpcInvalidParams, match="no longer open"):
        await editor.run("codestral.accept", {"jobId": proposed["jobId"]})


async def test_an_unknown_job_id_is_invalid_params_with_a_sentence(editor: Editor) -> None:
    for command in ("codestral.accept", "codestral.reject"):
        with pytest.raises(JsonRpcInvalidParams) as caught:
            await editor.run(command, {"jobId": "no-such-proposal"})
        assert "That Codestral proposal is no longer open" in str(caught.value)


async def test_retry_sends_the_previous_answer_and_the_instruction_and_proposes_again(
    editor: Editor, fake: FakeCodestral
) -> None:
    uri, first = await propose(editor, fake)
    editor.replace(uri, 0, 0, "import sys\n")  # the retry runs where the code is now
    again = NEW_GREET.replace("message.upper()", "message.title()")
    fake.enqueue(Script(text=fenced(again)))
    second = await editor.run(
        "codestral.accept", {"jobId": first["jobId"], "instruction": "use title() instead of upper()"}
    )
    assert second["status"] == "proposed" and second["jobId"] != first["jobId"]
    assert "+    print(message.title())" in second["diff"]
    assert editor.text(uri) == "import sys\n" + PYTHON
    assert second["range"] == lsp_range(4, 0, 8, 0)
    _, retried = fake.completion_requests()
    messages = retried.body["messages"]
    assert messages[-2] == {"role": "assistant", "content": fenced(NEW_GREET)}
    assert messages[-1]["role"] == "user"
    assert "use title() instead of upper()" in messages[-1]["content"]
    with pytest.raises(JsonRpcInvalidParams):  # the first proposal was dropped
        await editor.run("codestral.reject", {"jobId": first["jobId"]})
    await editor.run("codestral.accept", {"jobId": second["jobId"]})
    assert editor.text(uri) == "import sys\n" + REWRITTEN.replace("message.upper()", "message.title()")


async def test_closing_the_document_expires_its_proposal(editor: Editor, fake: FakeCodestral) -> None:
    uri, proposed = await propose(editor, fake)
    editor.client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    assert await open_proposals(editor) == 0
    with pytest.raises(JsonRpcInvalidParams, match="no longer open"):
        await editor.run("codestral.accept", {"jobId": proposed["jobId"]})


async def test_a_new_rewrite_on_the_range_expires_the_proposal(editor: Editor, fake: FakeCodestral) -> None:
    uri, proposed = await propose(editor, fake)
    fake.enqueue(Script(text=fenced(NEW_GREET)))
    newer = await editor.run("codestral.document", {"uri": uri, "range": lsp_range(4, 0, 6, 0)})
    assert newer["status"] in ("proposed", "applied")
    with pytest.raises(JsonRpcInvalidParams, match="no longer open"):
        await editor.run("codestral.accept", {"jobId": proposed["jobId"]})


async def test_a_proposal_expires_after_review_expiry_seconds(
    start_session: Callable[..., Awaitable[Editor]], fake: FakeCodestral
) -> None:
    editor = await start_session(
        capabilities=reviewing(reviewsEdits=True), settings={"reviewExpirySeconds": 1}
    )
    uri, proposed = await propose(editor, fake)
    assert proposed["status"] == "proposed"

    def told() -> bool:
        return any("proposal for greeter.py expired" in m for m in editor.message_texts(types.MessageType.Info))

    async def until_told() -> None:  # the server says so when the proposal's time is up
        while not told():
            await editor.client.wait_for_notification("window/showMessage")

    await asyncio.wait_for(until_told(), timeout=10)
    assert await open_proposals(editor) == 0
    with pytest.raises(JsonRpcInvalidParams, match="no longer open"):
        await editor.run("codestral.accept", {"jobId": proposed["jobId"]})
    assert editor.text(uri) == PYTHON


async def test_auto_applies_a_one_line_change_without_review(editor: Editor, fake: FakeCodestral) -> None:
    one_line = NEW_GREET.replace("print(message.upper())", "print(message)")
    uri, result = await propose(editor, fake, one_line)
    assert result["status"] == "applied"
    assert editor.text(uri) == PYTHON.replace('"Hello, " + name', 'f"Hello, {name}"')


async def test_review_never_applies_at_once(
    start_session: Callable[..., Awaitable[Editor]], fake: FakeCodestral
) -> None:
    editor = await start_session(capabilities=reviewing(reviewsEdits=True), settings={"review": "never"})
    uri, result = await propose(editor, fake)
    assert result["status"] == "applied"
    assert editor.text(uri) == REWRITTEN


async def test_a_change_annotation_client_confirms_an_annotated_edit(
    start_session: Callable[..., Awaitable[Editor]], fake: FakeCodestral
) -> None:
    editor = await start_session(capabilities=annotating())
    uri, result = await propose(editor, fake)
    assert result["status"] == "applied"
    [applied] = editor.edits
    edit = applied.edit
    assert edit.change_annotations == {
        "codestral-review": types.ChangeAnnotation(
            label="Codestral: Refactor",
            needs_confirmation=True,
            description="Codestral's answer to Refactor",
        )
    }
    assert edit.document_changes is not None
    [document_edit] = edit.document_changes
    assert isinstance(document_edit, types.TextDocumentEdit)
    assert document_edit.edits and all(
        isinstance(e, types.AnnotatedTextEdit) and e.annotation_id == "codestral-review"
        for e in document_edit.edits
    )
    assert editor.text(uri) == REWRITTEN


async def test_a_declined_annotated_edit_keeps_the_answer(
    start_session: Callable[..., Awaitable[Editor]], fake: FakeCodestral
) -> None:
    editor = await start_session(capabilities=annotating())
    editor.refuse_edits = True
    uri, result = await propose(editor, fake)
    assert result["status"] == "kept"
    assert editor.text(uri) == PYTHON


async def test_review_always_on_a_plain_client_keeps_the_answer_with_a_sentence(
    start_session: Callable[..., Awaitable[Editor]], fake: FakeCodestral
) -> None:
    editor = await start_session(settings={"review": "always"})
    uri, result = await propose(editor, fake)
    assert result["status"] == "kept"
    assert result["message"].startswith(
        'The review setting is "always" and this editor cannot show a proposal, so Refactor\'s answer was not applied.'
    )
    assert editor.text(uri) == PYTHON and editor.edits == []


async def test_a_plain_client_under_auto_applies_as_before(
    start_session: Callable[..., Awaitable[Editor]], fake: FakeCodestral
) -> None:
    editor = await start_session()
    uri, result = await propose(editor, fake)
    assert result["status"] == "applied"
    assert editor.text(uri) == REWRITTEN


async def test_a_retry_without_an_instruction_is_refused_and_the_proposal_stays_open(
    editor: Editor, fake: FakeCodestral
) -> None:
    uri, proposed = await propose(editor, fake)
    with pytest.raises(JsonRpcInvalidParams, match='A retry needs an "instruction"'):
        await editor.run("codestral.accept", {"jobId": proposed["jobId"], "instruction": "  "})
    assert editor.text(uri) == PYTHON and len(fake.completion_requests()) == 1
    assert await open_proposals(editor) == 1


async def test_two_proposals_in_one_document_both_land_when_accepted_in_turn(
    editor: Editor, fake: FakeCodestral
) -> None:
    uri, first = await propose(editor, fake)
    other = "def other():\n    value = 1\n    return value\n"
    fake.enqueue(Script(text=fenced(other)))
    second = await editor.run("codestral.refactor", {"uri": uri, "range": lsp_range(9, 0, 11, 0)})
    assert second["status"] == "proposed" and await open_proposals(editor) == 2
    assert second["diff"].splitlines()[2] == "@@ -10,2 +10,3 @@"
    await editor.run("codestral.accept", {"jobId": first["jobId"]})  # moves the second one's lines
    result = await editor.run("codestral.accept", {"jobId": second["jobId"]})
    assert result["status"] == "applied"
    assert editor.text(uri) == REWRITTEN.replace("def other():\n    return 1\n", other)


async def test_an_insert_after_action_is_proposed_too(
    start_session: Callable[..., Awaitable[Editor]], fake: FakeCodestral
) -> None:
    action = {
        "id": "logit",
        "title": "Log it",
        "prompt": "Add logging after {selection}",
        "mode": "insertAfter",
    }
    editor = await start_session(capabilities=reviewing(reviewsEdits=True), settings={"actions": [action]})
    uri = editor.open("greeter.py", PYTHON)
    fake.enqueue(Script(text=fenced('log("one")\nlog("two")\n')))
    result = await editor.run(
        "codestral.custom", {"uri": uri, "range": lsp_range(9, 0, 11, 0), "action": "logit"}
    )
    assert result["status"] == "proposed"
    assert result["diff"].endswith('     return 1\n+log("one")\n+log("two")\n')
    await editor.run("codestral.accept", {"jobId": result["jobId"]})
    assert editor.text(uri) == PYTHON + 'log("one")\nlog("two")\n'


async def test_auto_on_a_change_annotation_client_applies_a_one_line_change_plainly(
    start_session: Callable[..., Awaitable[Editor]], fake: FakeCodestral
) -> None:
    editor = await start_session(capabilities=annotating())
    one_line = NEW_GREET.replace("print(message.upper())", "print(message)")
    uri, result = await propose(editor, fake, one_line)
    assert result["status"] == "applied"
    [applied] = editor.edits
    assert applied.edit.change_annotations is None
    assert editor.text(uri) == PYTHON.replace('"Hello, " + name', 'f"Hello, {name}"')


async def test_a_retry_after_an_edit_inside_the_range_keeps_the_answer_and_asks_nothing(
    editor: Editor, fake: FakeCodestral
) -> None:
    uri, proposed = await propose(editor, fake)
    at = PYTHON.index("print(message)")
    editor.replace(uri, at, at + len("print"), "log")
    result = await editor.run("codestral.accept", {"jobId": proposed["jobId"], "instruction": "shorter"})
    assert result["status"] == "kept"
    assert result["message"].startswith("You edited the proposed code after Codestral proposed its change")
    assert len(fake.completion_requests()) == 1
    assert editor.text(uri) == PYTHON.replace("print(message)", "log(message)")


async def test_a_crlf_document_is_proposed_without_carriage_returns_and_keeps_them(
    editor: Editor, fake: FakeCodestral
) -> None:
    text = PYTHON.replace("\n", "\r\n")
    uri = editor.open("crlf.py", text)
    fake.enqueue(Script(text=fenced(NEW_GREET)))
    result = await editor.run("codestral.refactor", {"uri": uri, "range": GREET})
    assert result["status"] == "proposed"
    assert "\r" not in result["diff"] and '+    message = f"Hello, {name}"\n' in result["diff"]
    await editor.run("codestral.accept", {"jobId": result["jobId"]})
    assert editor.text(uri) == REWRITTEN.replace("\n", "\r\n")


async def test_a_proposal_made_after_an_edit_above_shows_where_the_code_is_now(
    editor: Editor, fake: FakeCodestral
) -> None:
    uri = editor.open("greeter.py", PYTHON)
    gate = Gate()
    fake.enqueue(Script(text=fenced(NEW_GREET), chunk_size=5, hold_after_chunks=2, gate=gate))
    running = asyncio.create_task(editor.run("codestral.refactor", {"uri": uri, "range": GREET}))
    assert await asyncio.to_thread(gate.reached.wait, 10), "the answer never started"
    editor.replace(uri, 0, 0, "import sys\n")  # while the answer streams
    await editor.sync()  # the server has the edit before the answer ends
    gate.open()
    result = await running
    assert result["status"] == "proposed"
    assert result["range"] == lsp_range(4, 0, 8, 0)
    [change] = result["edit"]["documentChanges"]
    assert change["textDocument"]["version"] == 2
    assert all(e["range"]["start"]["line"] >= 4 for e in change["edits"])
    await editor.run("codestral.accept", {"jobId": result["jobId"]})
    assert editor.text(uri) == "import sys\n" + REWRITTEN
