"""Answers in real shapes, through the real server: the edit lands exactly, or it is kept with its
reason — never wrong code applied. And one firmer retry when an answer leaves code out."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from lsprotocol import types

from fake_codestral import FakeCodestral, Script
from tests.answer_shapes import CASES, Case, Kept
from tests.editor import Editor, lsp_range

END_TO_END = [
    "py-echo-header",
    "py-echo-header-changed",
    "py-code-then-longer-tests",
    "py-unfenced-prose-after",
    "py-unfenced-prose-between",
    "py-existing-code-comment",
    "py-whole-file",
    "py-whole-file-with-change-outside",
    "py-diff-hunk",
    "py-docstring-with-fence",
    "ts-crlf-echo-header",
    "go-tabs-answer-in-spaces",
    "js-echo-closing-brace-only",
    "java-whole-class-for-method",
    "mid-line-whole-line-echoed",
]
EXTENSIONS = {"python": "py", "typescript": "ts", "go": "go", "javascript": "js", "java": "java"}


def _range_of(case: Case) -> dict[str, object]:
    before, selection, _ = case.parts()
    start_line, start_char = before.count("\n"), len(before) - (before.rfind("\n") + 1)
    upto = before + selection
    end_line, end_char = upto.count("\n"), len(upto) - (upto.rfind("\n") + 1)
    return lsp_range(start_line, start_char, end_line, end_char)


async def test_answer_shapes_land_exactly_or_are_kept_through_the_server(
    start_session: Callable[..., Awaitable[Editor]], fake: FakeCodestral
) -> None:
    editor = await start_session(settings={"retryOnElision": False})
    cases = [c for c in CASES if c.id in END_TO_END]
    assert len(cases) == len(END_TO_END)
    for case in cases:
        uri = editor.open(f"{case.id}.{EXTENSIONS[case.language]}", case.original(), language=case.language)
        fake.enqueue(Script(text=case.answer, chunk_size=9))
        result = await editor.run(f"codestral.{case.action}", {"uri": uri, "range": _range_of(case)})
        if isinstance(case.expected, Kept):
            assert result["status"] == "kept", case.id
            assert result["reason"] == case.expected.reason, case.id
            assert result["message"].startswith(f"Not applied: {case.expected.reason}"), case.id
            assert editor.text(uri) == case.original(), case.id
        else:
            assert result["status"] == "applied", (case.id, result["message"])
            assert editor.text(uri) == case.expected, case.id
    warnings = editor.message_texts(types.MessageType.Warning)
    assert any(w.startswith("Not applied: the answer left out code (it writes") for w in warnings)


DOC = "def total(items):\n    result = 0\n    for item in items:\n        result += item\n    return result\n"
ELIDED = (
    "```python\ndef total(items):\n    result = sum(items)\n    # ... rest of the function unchanged ...\n```"
)
COMPLETE = "```python\ndef total(items):\n    result = sum(items)\n    return result\n```"


async def test_an_answer_that_leaves_code_out_is_asked_again_once_and_the_full_one_applied(
    start_session: Callable[..., Awaitable[Editor]], fake: FakeCodestral
) -> None:
    editor = await start_session()
    uri = editor.open("total.py", DOC)
    fake.enqueue(Script(text=ELIDED, usage=(100, 20)), Script(text=COMPLETE, usage=(150, 25)))
    result = await editor.run("codestral.refactor", {"uri": uri, "range": lsp_range(0, 0, 5, 0)})

    assert result["status"] == "applied"
    assert editor.text(uri) == "def total(items):\n    result = sum(items)\n    return result\n"
    first, second = fake.completion_requests()
    messages = second.body["messages"]
    assert messages[: len(first.body["messages"])] == first.body["messages"]
    assert messages[-2] == {"role": "assistant", "content": ELIDED}
    assert messages[-1]["role"] == "user" and "left out code" in messages[-1]["content"]
    assert "# ... rest of the function unchanged ..." in messages[-1]["content"]
    assert result["usage"]["promptTokens"] == 250 and result["usage"]["completionTokens"] == 45
    [sequence] = editor.progress_values()
    assert any("asking again" in (getattr(v, "message", None) or "") for v in sequence)


async def test_a_second_answer_that_still_leaves_code_out_is_kept(
    start_session: Callable[..., Awaitable[Editor]], fake: FakeCodestral
) -> None:
    editor = await start_session()
    uri = editor.open("total.py", DOC)
    fake.enqueue(Script(text=ELIDED), Script(text=ELIDED.replace("rest of", "remainder of")))
    result = await editor.run("codestral.refactor", {"uri": uri, "range": lsp_range(0, 0, 5, 0)})
    assert result["status"] == "kept" and result["reason"] == "the answer left out code"
    assert editor.text(uri) == DOC
    assert len(fake.completion_requests()) == 2  # asked again once, not more


@pytest.mark.parametrize("retry", [False, True])
async def test_with_retry_on_elision_off_the_answer_is_kept_after_one_request(
    start_session: Callable[..., Awaitable[Editor]], fake: FakeCodestral, retry: bool
) -> None:
    editor = await start_session(settings={"retryOnElision": retry})
    uri = editor.open("total.py", DOC)
    fake.enqueue(Script(text=ELIDED), Script(text=COMPLETE))
    result = await editor.run("codestral.refactor", {"uri": uri, "range": lsp_range(0, 0, 5, 0)})
    if retry:
        assert result["status"] == "applied" and len(fake.completion_requests()) == 2
        return
    assert result["status"] == "kept"
    assert result["message"].startswith(
        "Not applied: the answer left out code (it writes “# ... rest of the function unchanged ...” instead)."
    )
    assert editor.text(uri) == DOC and editor.edits == []
    assert len(fake.completion_requests()) == 1
    assert editor.client.shown_documents  # the kept answer is opened for the user


async def test_the_rewrite_prompt_asks_for_one_complete_block(
    start_session: Callable[..., Awaitable[Editor]], fake: FakeCodestral
) -> None:
    editor = await start_session()
    uri = editor.open("total.py", DOC)
    fake.enqueue(Script(text=COMPLETE))
    await editor.run("codestral.refactor", {"uri": uri, "range": lsp_range(0, 0, 5, 0)})
    system = fake.completion_requests()[0].body["messages"][0]["content"]
    assert "exactly one fenced code block" in system
    assert "complete replacement of the selected lines" in system
    assert "never a placeholder comment or `...`" in system


async def test_a_line_of_backticks_inside_the_code_does_not_cut_the_edit(
    start_session: Callable[..., Awaitable[Editor]], fake: FakeCodestral
) -> None:
    # Issue 10: an indented Markdown example in a docstring ended the extracted block early, the
    # rest of the selection was deleted and the result said "applied".
    [case] = [c for c in CASES if c.id == "py-docstring-with-fence"]
    editor = await start_session()
    uri = editor.open("render.py", case.original())
    fake.enqueue(Script(text=case.answer, chunk_size=5))
    result = await editor.run("codestral.refactor", {"uri": uri, "range": _range_of(case)})
    assert result["status"] == "applied"
    assert editor.text(uri) == case.expected
