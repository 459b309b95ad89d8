"""Every way the API can fail, through the real server: the user gets one plain sentence, nothing
is applied that should not be, no job is left running, and the server keeps serving. And every
odd but legal way it can answer: the answer lands whole and exactly once."""

from __future__ import annotations

import asyncio
import email.utils
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from fake_codestral import FakeCodestral, Gate, Script
from tests.conftest import CANARY_KEY
from tests.editor import Editor, OpenDocument, lsp_range

CODE = "def total(items):\n    s = 0\n    for i in items:\n        s += i\n    return s\n"
BODY = lsp_range(1, 0, 5, 0)
NEW_BODY = "    return sum(items)\n"
ANSWER = f"```python\n{NEW_BODY}```"
FAST = {
    "retry": {"maxAttempts": 3, "initialDelay": 0.01, "maxDelay": 2, "totalSeconds": 5},
    "timeouts": {"connect": 2, "firstByte": 2, "idle": 0.5},
}
LONGEST_MESSAGE = 800  # characters: whatever the server sent, the user reads a sentence


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def past_date() -> str:
    return email.utils.formatdate(time.time() - 60, usegmt=True)


FAILURES: list[tuple[str, list[Script], str]] = [
    ("400 context too long", [Script(status=400)], "context window"),
    ("401", [Script(status=401, body={"message": "Unauthorized", "request_id": "x"})], "CODESTRAL_API_KEY"),
    ("403", [Script(status=403)], "refused access (403)"),
    (
        "400 echoing the key",
        [Script(status=400, body={"message": f"invalid header 'Authorization: Bearer {CANARY_KEY}'"})],
        "Bearer [redacted]",
    ),
    (
        "404 unknown model",
        [
            Script(
                status=404,
                body={
                    "object": "error",
                    "message": "Invalid model: codestral-latest",
                    "type": "invalid_model",
                    "param": None,
                    "code": "1500",
                },
            )
        ],
        "does not know model",
    ),
    (
        "422 detail list",
        [
            Script(
                status=422,
                body={
                    "detail": [
                        {
                            "type": "extra_forbidden",
                            "loc": ["body", "store"],
                            "msg": "Extra inputs are not permitted",
                        }
                    ]
                },
            )
        ],
        "'store'",
    ),
    (
        "422 nested detail",
        [
            Script(
                status=422,
                body={
                    "object": "error",
                    "message": {
                        "detail": [
                            {"type": "less_than_equal", "loc": ["body", "temperature"], "msg": "too hot"}
                        ]
                    },
                    "type": "invalid_request_error",
                    "param": None,
                    "code": None,
                },
            )
        ],
        "'temperature'",
    ),
    (
        "422 plain message",
        [
            Script(
                status=422,
                body={
                    "object": "error",
                    "message": "Invalid prediction",
                    "type": "invalid_request_error",
                    "param": "prediction",
                    "code": None,
                },
            )
        ],
        "'prediction'",
    ),
    ("persistent 503", [Script(status=503) for _ in range(5)], "server error (503)"),
    ("slow headers", [Script(header_delay=8)], "did not start answering within 2 s"),
    (
        "stall mid-stream",
        [Script(text=ANSWER, chunk_size=3, stall_after_chunks=2)],
        "stopped sending for 0.5 s",
    ),
    (
        "cut mid-stream",
        [Script(text=ANSWER, chunk_size=3, cut_after_chunks=2)],
        "cut before the answer was complete",
    ),
    ("malformed SSE line", [Script(text=ANSWER, chunk_size=3, malformed_after_chunks=2)], "malformed event"),
    (
        "error object mid-stream",
        [Script(text=ANSWER, chunk_size=3, error_after_chunks=2)],
        "reported an error while answering",
    ),
    (
        "no [DONE]",
        [Script(text=ANSWER, omit_done=True, omit_finish_reason=True)],
        "cut before the answer was complete",
    ),
    ("200 that is not SSE", [Script(non_sse_body="<html>captive portal</html>")], "text/html"),
    (
        "3xx with an answer as its body",
        [Script(text=ANSWER, redirect_to="https://elsewhere.example/v1/chat/completions")],
        "redirects are not followed",
    ),
    (
        "keep-alives forever, no answer",
        [Script(text=ANSWER, keepalives=10**6, keepalive_interval=0.1)],
        "sent no answer within 2 s",
    ),
    ("answer that never ends", [Script(text=ANSWER, endless=True)], "4096-token answer can hold"),
    (
        "line that never ends",
        [Script(text=ANSWER, endless=True, endless_line=True)],
        "4096-token answer can hold",
    ),
    (
        "10 MB error message",
        [
            Script(
                status=400,
                body={"object": "error", "message": "y" * 10_000_000, "type": "invalid_request_error"},
            )
        ],
        "rejected the request (400)",
    ),
]

# Answers that ended for another reason than "stop": kept for the user, never applied.
INCOMPLETE: list[tuple[str | None, dict[str, Any], str]] = [
    ("length", {}, "cut off at maxTokens"),
    ("model_length", {}, "cut off at the model's context length"),
    ("content_filter", {}, "content filter"),
    ("tool_calls", {}, "call a tool"),
    ("a_reason_from_the_future", {}, "unexpected reason"),
    (None, {}, "did not say that it was complete"),
]

# Odd but legal answers: each must land exactly as a plain one would.
ODD_ANSWERS: list[tuple[str, Script]] = [
    ("leading BOM", Script(text=ANSWER, chunk_size=1000, bom=True, role_chunk=False)),
    ("content as a list of chunks", Script(text=ANSWER, chunk_size=3, list_content=True)),
    (
        "content chunks, not streamed",
        Script(text=ANSWER, list_content=True, json_instead_of_stream=True),
    ),
    (
        "a second choice alongside",
        Script(text=ANSWER, chunk_size=3, second_choice="```python\n    pass\n```"),
    ),
    ("a trickle slower per line than the idle limit", Script(text=ANSWER, chunk_size=100, trickle=(16, 0.1))),
    (
        "keep-alives further apart than the idle limit before the first token",
        Script(text=ANSWER, keepalives=2, keepalive_interval=0.8),
    ),
    ("[DONE], then the connection held open", Script(text=ANSWER, hold_after_done=True)),
    ("CRLF framing and comments", Script(text=ANSWER, crlf=True, comments=True)),
]

RECOVERIES: list[tuple[str, list[Script], str | None]] = [
    (
        "429 Retry-After seconds",
        [Script(status=429, headers={"retry-after": "0"}), Script(text=ANSWER)],
        "retrying in 0 s (rate limited)",
    ),
    (
        "429 Retry-After date",
        [Script(status=429, headers={"retry-after": past_date()}), Script(text=ANSWER)],
        "retrying in 0 s (rate limited)",
    ),
    (
        "429 retry-after-ms",
        [Script(status=429, headers={"retry-after-ms": "20"}), Script(text=ANSWER)],
        "retrying in 0 s (rate limited)",
    ),
    ("429 without Retry-After", [Script(status=429), Script(text=ANSWER)], "(rate limited)"),
    *[
        (f"{s} then success", [Script(status=s), Script(text=ANSWER)], f"(server error {s})")
        for s in (500, 502, 503, 504)
    ],
]


@pytest.fixture
async def editor(start_session: Callable[..., Awaitable[Editor]]) -> Editor:
    return await start_session(settings=FAST)


async def nothing_left_running(editor: Editor) -> None:
    """Nothing leaks: no job, no task. A background task the action started (the model list,
    fetched once for the context budget) may still be finishing its own retries, so the tasks
    are given a bounded time to end — a leaked one never does."""
    idle = {"runningJobs": 0, "backgroundTasks": 0, "completionsInFlight": 0, "openProposals": 0}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    status = await editor.run("codestral.status")
    while status != idle and status["runningJobs"] == 0 and loop.time() < deadline:  # a bounded poll
        await asyncio.sleep(0.05)
        status = await editor.run("codestral.status")
    assert status == idle


async def still_serving(editor: Editor, uri: str) -> None:
    if editor.text(uri) != CODE:  # the document has its answer already: use a fresh one
        uri = editor.open("again.py", CODE)
    editor.fake.enqueue(Script(text=ANSWER))
    assert (await editor.run("codestral.refactor", {"uri": uri, "range": BODY}))["status"] == "applied"
    assert editor.text(uri) == "def total(items):\n" + NEW_BODY


@pytest.mark.parametrize(("name", "scripts", "words"), FAILURES, ids=[f[0] for f in FAILURES])
async def test_failures(
    editor: Editor, fake: FakeCodestral, name: str, scripts: list[Script], words: str
) -> None:
    uri = editor.open("t.py", CODE)
    fake.enqueue(*scripts)
    started = time.monotonic()
    result = await editor.run("codestral.refactor", {"uri": uri, "range": BODY})
    assert time.monotonic() - started < 10  # gives up within a bounded time
    assert result["status"] == "failed" and words in result["message"]
    assert len(result["message"]) < LONGEST_MESSAGE
    [error] = editor.message_texts(types.MessageType.Error)
    assert words in error and "Traceback" not in error and len(error) < LONGEST_MESSAGE
    assert editor.text(uri) == CODE and editor.edits == []
    if name == "persistent 503":
        assert len(fake.completion_requests()) == FAST["retry"]["maxAttempts"]
    await nothing_left_running(editor)
    await still_serving(editor, uri)


@pytest.mark.parametrize(("reason", "options", "words"), INCOMPLETE, ids=[str(i[0]) for i in INCOMPLETE])
async def test_an_answer_that_did_not_stop_is_kept_not_applied(
    editor: Editor, fake: FakeCodestral, reason: str | None, options: dict[str, Any], words: str
) -> None:
    uri = editor.open("t.py", CODE)
    fake.enqueue(Script(text=ANSWER, finish_reason=reason, **options))
    result = await editor.run("codestral.refactor", {"uri": uri, "range": BODY})
    assert result["status"] == "kept" and words in result["message"]
    assert result["answer"] == ANSWER  # the paid-for answer is not lost
    [warning] = editor.message_texts(types.MessageType.Warning)
    assert words in warning
    assert editor.text(uri) == CODE and editor.edits == []
    await nothing_left_running(editor)
    await still_serving(editor, uri)


@pytest.mark.parametrize(("name", "script"), ODD_ANSWERS, ids=[o[0] for o in ODD_ANSWERS])
async def test_odd_but_legal_answers_land_whole(
    start_session: Callable[..., Awaitable[Editor]], fake: FakeCodestral, name: str, script: Script
) -> None:
    # Limits as FAST, but time enough for the slow shapes to reach their first text.
    editor = await start_session(settings={**FAST, "timeouts": {**FAST["timeouts"], "firstByte": 6}})
    uri = editor.open("t.py", CODE)
    fake.enqueue(script)
    result = await editor.run("codestral.refactor", {"uri": uri, "range": BODY})
    assert result["status"] == "applied", result
    assert editor.text(uri) == "def total(items):\n" + NEW_BODY
    assert editor.message_texts(types.MessageType.Error) == []
    await nothing_left_running(editor)
    await still_serving(editor, uri)


async def test_more_actions_than_connections_wait_their_turn(editor: Editor, fake: FakeCodestral) -> None:
    count = 40
    gates = [Gate() for _ in range(count)]
    fake.enqueue(*[Script(text=ANSWER, chunk_size=3, hold_after_chunks=1, gate=g) for g in gates])
    uris = [editor.open(f"t{i}.py", CODE) for i in range(count)]
    runs = [
        asyncio.create_task(editor.run("codestral.refactor", {"uri": uri, "range": BODY})) for uri in uris
    ]
    assert await asyncio.to_thread(fake.wait_for_completion_requests, 32)

    def waiting() -> int:
        reports = editor.progress_values()
        return sum(any("already running" in (getattr(v, "message", "") or "") for v in r) for r in reports)

    deadline = time.monotonic() + 30
    while waiting() < count - 32 and time.monotonic() < deadline:
        await editor.sync()  # a round trip: the server's notifications so far have arrived
    # (one more may have waited briefly behind the start-up's models request)
    assert count - 32 <= waiting() <= count - 32 + 1
    assert len(fake.completion_requests()) == 32  # the others wait, they do not fail
    for gate in gates:
        gate.open()
    results = await asyncio.gather(*runs)
    assert [r["status"] for r in results] == ["applied"] * count
    assert all(editor.text(uri) == "def total(items):\n" + NEW_BODY for uri in uris)
    assert editor.message_texts(types.MessageType.Error) == []
    await nothing_left_running(editor)


@pytest.mark.parametrize(("name", "scripts", "progress"), RECOVERIES, ids=[r[0] for r in RECOVERIES])
async def test_transient_failures_recover(
    editor: Editor, fake: FakeCodestral, name: str, scripts: list[Script], progress: str
) -> None:
    uri = editor.open("t.py", CODE)
    fake.enqueue(*scripts)
    result = await editor.run("codestral.refactor", {"uri": uri, "range": BODY})
    assert result["status"] == "applied"
    assert editor.text(uri) == "def total(items):\n" + NEW_BODY
    reports = [getattr(v, "message", "") or "" for v in editor.progress_values()[0]]
    assert any(progress in r for r in reports), reports
    assert editor.message_texts(types.MessageType.Error) == []
    await nothing_left_running(editor)


async def test_connection_refused(start_session: Callable[..., Awaitable[Editor]]) -> None:
    editor = await start_session(settings={**FAST, "baseUrl": f"http://127.0.0.1:{closed_port()}/v1"})
    uri = editor.open("t.py", CODE)
    result = await editor.run("codestral.refactor", {"uri": uri, "range": BODY})
    assert result["status"] == "failed" and "connection refused" in result["message"]
    assert editor.text(uri) == CODE
    await nothing_left_running(editor)


async def test_a_one_megabyte_answer_lands_when_max_tokens_allows_it(
    start_session: Callable[..., Awaitable[Editor]], fake: FakeCodestral
) -> None:
    editor = await start_session(settings={**FAST, "maxTokens": 65536})
    uri = editor.open("t.py", CODE)
    big = "".join(f"    value_{i} = {i}  # a generated line of code\n" for i in range(25000))
    assert len(big) > 1_000_000
    fake.enqueue(Script(text=f"```python\n{big}```", chunk_size=8192))
    result = await editor.run("codestral.refactor", {"uri": uri, "range": BODY})
    assert result["status"] == "applied"
    assert editor.text(uri) == "def total(items):\n" + big
    await nothing_left_running(editor)


# -- bad input that used to end in an internal error ("Please report it") -----------------------


def no_internal_error(editor: Editor) -> None:
    assert not any("Please report it" in m for m in editor.message_texts()), editor.message_texts()


@pytest.mark.parametrize("line", [2**31, 2**63, 10**30])
async def test_a_line_number_beyond_lsp_integers_is_a_plain_invalid_params(editor: Editor, line: int) -> None:
    uri = editor.open("t.py", CODE)
    with pytest.raises(JsonRpcException) as caught:
        await editor.run("codestral.refactor", {"uri": uri, "range": lsp_range(line, 0, line, 1)})
    assert caught.value.code == types.ErrorCodes.InvalidParams
    assert str(line) in str(caught.value) and "Please report it" not in str(caught.value)
    no_internal_error(editor)
    await still_serving(editor, uri)


@pytest.mark.parametrize(
    "base_url",
    [
        "https://api.mistral.ai/v1\nX-Injected: yes",
        "http://127.0.0.1:1/v1\r\nHost: evil",
        "https://api .mistral.ai/v1",
    ],
)
async def test_a_base_url_with_a_line_break_is_a_plain_sentence(
    start_session: Callable[..., Awaitable[Editor]], fake: FakeCodestral, base_url: str
) -> None:
    editor = await start_session(settings={**FAST, "baseUrl": base_url})
    uri = editor.open("t.py", CODE)
    result = await editor.run("codestral.refactor", {"uri": uri, "range": BODY})
    assert result["status"] == "failed" and "line break" in result["message"]
    assert fake.requests == [] and editor.text(uri) == CODE
    no_internal_error(editor)


@pytest.mark.parametrize("uri", ["file:t.py", "file:./src/t.py"])
async def test_a_relative_file_uri_is_served(editor: Editor, fake: FakeCodestral, uri: str) -> None:
    editor.documents[uri] = OpenDocument(CODE, 1, "python")
    editor.client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=CODE)
        )
    )
    fake.enqueue(Script(text=ANSWER))
    result = await editor.run("codestral.refactor", {"uri": uri, "range": BODY})
    assert result["status"] == "applied" and editor.text(uri) == "def total(items):\n" + NEW_BODY
    assert uri.removeprefix("file:") in fake.completion_requests()[0].prompt_text()
    no_internal_error(editor)
    await nothing_left_running(editor)
