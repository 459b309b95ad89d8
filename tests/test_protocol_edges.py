"""The edges of the protocol, through the real server: URIs, didChange shapes, concurrent edits,
editors that answer oddly or never, very large documents, and what pygls gets wrong."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcInternalError

from fake_codestral import FakeCodestral, Gate, Script
from tests.editor import CAPABILITIES, Editor, lsp_range, start_editor, utf16_position
from tests.test_completion import INLINE, inline, texts

CODE = "def first():\n    return 1\n\n\ndef second():\n    return 2\n"
SECOND = lsp_range(4, 0, 6, 0)
NEW_SECOND = "```python\ndef second():\n    return 22\n```"
AFTER = CODE.replace("return 2\n", "return 22\n")
Start = Callable[..., Awaitable[Editor]]


async def wait_for(event: Any) -> None:
    assert await asyncio.to_thread(event.wait, 20), "timed out"


def replace_handler(editor: Editor, method: str, handler: Callable[..., Any]) -> None:
    """Make the scripted editor answer ``method`` with ``handler`` instead."""
    features = editor.client.protocol.fm.features
    features[method] = handler


def change(editor: Editor, uri: str, new_text: str, *changes: types.TextDocumentContentChangeEvent) -> None:
    """Send raw content changes; ``new_text`` is what the editor holds after them."""
    document = editor.documents[uri]
    document.text = new_text
    document.version += 1
    editor.client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=document.version),
            content_changes=list(changes),
        )
    )


async def held_refactor(editor: Editor, uri: str) -> tuple[asyncio.Task[Any], Gate]:
    gate = Gate()
    editor.fake.enqueue(Script(text=NEW_SECOND, chunk_size=5, hold_after_chunks=2, gate=gate))
    running = asyncio.create_task(editor.run("codestral.refactor", {"uri": uri, "range": SECOND}))
    await wait_for(gate.reached)
    return running, gate


# -- URIs ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["with space/m.py", "naïve/ünï.py", "issue #12/m.py", "100%/a b#c.py"])
async def test_percent_encoded_uris_are_found_for_actions_and_completion(
    start_session: Start, fake: FakeCodestral, name: str
) -> None:
    editor = await start_session(capabilities=INLINE, settings={"completion": {"debounceMs": 0}})
    uri = editor.open(name, CODE)
    assert "%" in uri  # the editor percent-encodes, as editors do
    fake.enqueue(Script(text=NEW_SECOND))
    result = await editor.run("codestral.refactor", {"uri": uri, "range": SECOND})
    assert result["status"] == "applied" and editor.text(uri) == AFTER
    fake.enqueue(Script(text="0"))
    assert texts(await inline(editor, uri, AFTER.index("return 1") + len("return 1"))) == ["0"]
    running, gate = await held_refactor(editor, uri)
    unencoded = "file://" + str(editor.folder / name)  # the same document, spelt differently
    assert await editor.run("codestral.cancel", {"uri": unencoded}) == {"cancelled": 1}
    gate.open()
    assert (await running)["status"] == "cancelled"


# -- didChange shapes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "inserted", "expected"),
    [
        ("a = 1\nb = 2\n", 0, "  # one", "a = 1  # one\nb = 2\n"),
        ("a = 1\r\nb = 2\r\n", 0, "  # one", "a = 1  # one\r\nb = 2\r\n"),
        ("a = 1\nb = 2", 1, "  # two", "a = 1\nb = 2  # two"),
    ],
)
@pytest.mark.parametrize("overshoot", [1, 40])
async def test_a_change_past_the_end_of_a_line_lands_at_its_end(
    start_session: Start,
    fake: FakeCodestral,
    text: str,
    line: int,
    inserted: str,
    expected: str,
    overshoot: int,
) -> None:
    editor = await start_session()
    uri = editor.open("m.py", text)
    beyond = types.Position(line=line, character=len("a = 1") + overshoot)
    change(
        editor,
        uri,
        expected,
        types.TextDocumentContentChangePartial(range=types.Range(start=beyond, end=beyond), text=inserted),
    )
    # The server's copy is what the model sees: the whole file, as the selection.
    end = utf16_position(expected, len(expected))
    fake.enqueue(Script(text="```python\nx = 0\n```"))
    await editor.run("codestral.refactor", {"uri": uri, "range": lsp_range(0, 0, end.line, end.character)})
    [request] = fake.completion_requests()
    assert expected.replace("\r\n", "\n") in request.prompt_text().replace("\r\n", "\n")
    assert editor.text(uri).startswith("x = 0")


async def test_a_whole_document_change_above_the_selection_is_followed(
    start_session: Start, fake: FakeCodestral
) -> None:
    editor = await start_session()
    uri = editor.open("m.py", CODE)
    running, gate = await held_refactor(editor, uri)
    edited = "import sys\n\n" + CODE.replace("first", "initial")
    change(editor, uri, edited, types.TextDocumentContentChangeWholeDocument(text=edited))
    await editor.sync()
    gate.open()
    result = await running
    assert result["status"] == "applied"
    assert editor.text(uri) == edited.replace("return 2\n", "return 22\n")


async def test_a_whole_document_change_inside_the_selection_keeps_the_answer(
    start_session: Start, fake: FakeCodestral
) -> None:
    editor = await start_session()
    uri = editor.open("m.py", CODE)
    running, gate = await held_refactor(editor, uri)
    edited = CODE.replace("return 2", "return 2  # mine")
    change(editor, uri, edited, types.TextDocumentContentChangeWholeDocument(text=edited))
    await editor.sync()
    gate.open()
    result = await running
    assert result["status"] == "kept" and editor.text(uri) == edited


# -- concurrent edits ------------------------------------------------------------------------


async def test_twenty_concurrent_actions_without_versioned_edits_all_land_right(
    start_session: Start, fake: FakeCodestral
) -> None:
    plain = types.ClientCapabilities(
        workspace=types.WorkspaceClientCapabilities(apply_edit=True, configuration=True),
        window=CAPABILITIES.window,
    )
    editor = await start_session(capabilities=plain)
    functions = [f"def f{i}():\n    return {i}\n\n" for i in range(20)]
    uri = editor.open("many.py", "".join(functions))
    ranges = [lsp_range(3 * i, 0, 3 * i + 2, 0) for i in range(20)]
    # The fake's default answer: the selection with a comment line on top (each edit adds a line).
    results = await asyncio.gather(
        *(editor.run("codestral.refactor", {"uri": uri, "range": r}) for r in ranges)
    )
    assert [r["status"] for r in results] == ["applied"] * 20
    assert all(e.edit.document_changes is None for e in editor.edits)  # unversioned edits
    expected = "".join(f"# reviewed by the fake Codestral\n{f}" for f in functions)
    assert editor.text(uri) == expected


# -- custom-action placeholders --------------------------------------------------------------


async def test_placeholders_are_filled_in_the_template_only(
    start_session: Start, fake: FakeCodestral
) -> None:
    action = {"id": "shout", "title": "Shout", "prompt": "In {language} ({path}), shout:\n{selection}"}
    editor = await start_session(settings={"actions": [action]})
    code = 'print("{path} and {language} and {instruction}")\n'
    uri = editor.open("s.py", code)
    fake.enqueue(Script(text="```python\nprint('x')\n```"))
    result = await editor.run(
        "codestral.custom", {"uri": uri, "range": lsp_range(0, 0, 1, 0), "action": "shout"}
    )
    assert result["status"] == "applied"
    [request] = fake.completion_requests()
    prompt = request.prompt_text()
    assert "In python (s.py), shout:" in prompt
    assert "shout:\n" + code.strip() in prompt  # the user's code is inserted untouched


# -- editors that answer oddly or never ------------------------------------------------------


def _raise(params: Any) -> Any:
    raise JsonRpcInternalError(message="the editor broke")


def _null(params: Any) -> Any:
    return None


@pytest.mark.parametrize(
    ("handler", "words"), [(_raise, "the editor broke"), (_null, "could not be read: null")]
)
async def test_an_apply_answered_with_an_error_or_null_keeps_the_answer(
    start_session: Start, fake: FakeCodestral, handler: Callable[..., Any], words: str
) -> None:
    editor = await start_session()
    uri = editor.open("m.py", CODE)
    replace_handler(editor, types.WORKSPACE_APPLY_EDIT, handler)
    fake.enqueue(Script(text=NEW_SECOND))
    result = await editor.run("codestral.refactor", {"uri": uri, "range": SECOND})
    assert result["status"] == "kept" and words in result["message"]
    assert Path(result["answerUri"].removeprefix("file://")).read_text() == "def second():\n    return 22\n"  # the code, without the fences
    end = editor.progress_values()[-1][-1]
    assert isinstance(end, types.WorkDoneProgressEnd)
    assert (await editor.run("codestral.status"))["runningJobs"] == 0


async def test_an_apply_never_answered_ends_and_keeps_the_answer(
    start_session: Start, fake: FakeCodestral
) -> None:
    editor = await start_session(env={"CODESTRAL_LSP_CLIENT_TIMEOUT": "1"})
    uri = editor.open("m.py", CODE)
    never = asyncio.Event()

    async def silent(params: Any) -> Any:
        await never.wait()

    replace_handler(editor, types.WORKSPACE_APPLY_EDIT, silent)
    fake.enqueue(Script(text=NEW_SECOND))
    result = await editor.run("codestral.refactor", {"uri": uri, "range": SECOND})
    assert result["status"] == "kept" and "did not confirm" in result["message"]
    assert isinstance(editor.progress_values()[-1][-1], types.WorkDoneProgressEnd)
    never.set()


async def test_cancel_ends_a_job_waiting_for_the_editor(start_session: Start, fake: FakeCodestral) -> None:
    editor = await start_session()
    uri = editor.open("m.py", CODE)
    asked = asyncio.Event()
    never = asyncio.Event()

    async def silent(params: Any) -> Any:
        asked.set()
        await never.wait()

    replace_handler(editor, types.WORKSPACE_APPLY_EDIT, silent)
    fake.enqueue(Script(text=NEW_SECOND))
    running = asyncio.create_task(editor.run("codestral.refactor", {"uri": uri, "range": SECOND}))
    await asyncio.wait_for(asked.wait(), 20)
    assert await editor.run("codestral.cancel", {}) == {"cancelled": 1}
    result = await asyncio.wait_for(running, 20)
    assert result["status"] == "cancelled" and "not confirmed" not in result["message"]
    assert Path(result["answerUri"].removeprefix("file://")).read_text() == "def second():\n    return 22\n"  # the code, without the fences
    assert isinstance(editor.progress_values()[-1][-1], types.WorkDoneProgressEnd)
    assert (await editor.run("codestral.status"))["runningJobs"] == 0
    never.set()


async def test_a_progress_token_never_accepted_delays_nothing(
    start_session: Start, fake: FakeCodestral
) -> None:
    editor = await start_session(env={"CODESTRAL_LSP_CLIENT_TIMEOUT": "600"})
    uri = editor.open("m.py", CODE)
    never = asyncio.Event()

    async def silent(params: Any) -> Any:
        await never.wait()

    replace_handler(editor, types.WINDOW_WORK_DONE_PROGRESS_CREATE, silent)
    fake.enqueue(Script(text=NEW_SECOND))
    result = await asyncio.wait_for(editor.run("codestral.refactor", {"uri": uri, "range": SECOND}), 30)
    assert result["status"] == "applied" and editor.text(uri) == AFTER
    never.set()


# -- large documents -------------------------------------------------------------------------


async def test_keystrokes_in_a_25_mb_document_stay_cheap(start_session: Start, fake: FakeCodestral) -> None:
    editor = await start_session()
    line_text = "x = 1  # padding padding padding padding padding padding\n"
    text = line_text * 450_000  # ~25 MB
    uri = editor.open("big.py", text)
    await editor.sync()
    line = 225_000
    began = time.monotonic()
    for index in range(50):  # typing "y" fifty times at the end of one line (positions computed here:
        at = types.Position(line=line, character=len(line_text) - 1 + index)  # the test editor is slow)
        editor.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2 + index),
                content_changes=[
                    types.TextDocumentContentChangePartial(range=types.Range(start=at, end=at), text="y")
                ],
            )
        )
    await editor.sync()
    elapsed = time.monotonic() - began
    assert elapsed < 5, f"50 keystrokes took {elapsed:.1f} s"  # pygls alone: ~17 s
    fake.enqueue(Script(text="explained"))
    await editor.run("codestral.explain", {"uri": uri, "range": lsp_range(line, 0, line + 1, 0)})
    [request] = fake.completion_requests()
    assert line_text.rstrip("\n") + "y" * 50 + "\n" in request.prompt_text()


async def test_an_action_ending_on_a_10_mb_line_is_quick(start_session: Start, fake: FakeCodestral) -> None:
    editor = await start_session()
    long_line = "s = '" + "é" * 10_000_000 + "'\n"
    text = "def f():\n    return 1\n" + long_line
    uri = editor.open("long.py", text)
    fake.enqueue(Script(text="```python\ndef f():\n    return 2\n```"))
    began = time.monotonic()
    result = await editor.run("codestral.refactor", {"uri": uri, "range": lsp_range(0, 0, 2, 3)})
    elapsed = time.monotonic() - began
    assert result["status"] in ("applied", "unchanged"), result
    assert elapsed < 10, f"the action took {elapsed:.1f} s"  # pygls's codec alone: ~5 s per position


# -- what pygls gets wrong (raw protocol) ----------------------------------------------------


class RawServer:
    """The server process, driven over its stdio without a client library."""

    def __init__(self, fake: FakeCodestral, tmp: Path) -> None:
        from tests.editor import server_env

        self.process = subprocess.Popen(
            [sys.executable, "-m", "codestral_lsp"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=server_env(fake, tmp),
        )

    def send_bytes(self, data: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        self.send_bytes(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def receive(self, message_id: int) -> dict[str, Any]:
        """The next response with this id (notifications and requests in between are skipped)."""
        assert self.process.stdout is not None
        while True:
            length = 0
            while True:
                line = self.process.stdout.readline()
                assert line, "the server closed its output"
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
                if line == b"\r\n":
                    break
            message = json.loads(self.process.stdout.read(length))
            if message.get("id") == message_id and "method" not in message:
                return dict(message)

    def initialize(self) -> None:
        self.send({"id": 1, "method": "initialize", "params": {"capabilities": {}}})
        assert "result" in self.receive(1)
        self.send({"method": "initialized", "params": {}})

    def wait(self) -> int:
        return self.process.wait(20)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def raw(fake: FakeCodestral, tmp_path: Path) -> Any:
    server = RawServer(fake, tmp_path)
    yield server
    server.stop()


async def _in_thread(function: Callable[[], Any]) -> Any:
    return await asyncio.wait_for(asyncio.to_thread(function), 30)


async def test_a_request_with_ill_typed_params_is_answered(raw: RawServer) -> None:
    def run() -> dict[str, Any]:
        raw.initialize()
        raw.send({"id": 2, "method": "textDocument/codeAction", "params": {"textDocument": 5}})
        return raw.receive(2)

    answer = await _in_thread(run)
    assert answer["error"]["code"] == -32602 and "textDocument/codeAction" in answer["error"]["message"]


@pytest.mark.parametrize("length", [b"99999999999999999999999", b"9" * 5000, b"%d" % (300 * 1024 * 1024)])
async def test_a_huge_content_length_is_skipped_and_the_server_keeps_serving(
    raw: RawServer, length: bytes
) -> None:
    def run() -> dict[str, Any]:
        raw.initialize()
        raw.send_bytes(b"Content-Length: " + length + b'\r\n\r\n{"jsonrpc": "2.0", "id": 7, ')
        raw.send({"id": 3, "method": "workspace/executeCommand", "params": {"command": "codestral.usage"}})
        return raw.receive(3)

    answer = await _in_thread(run)
    assert "result" in answer and raw.process.poll() is None


async def test_shutdown_during_a_request_is_answered_normally(fake: FakeCodestral, tmp_path: Path) -> None:
    (tmp_path / "project").mkdir()
    editor = await start_editor(fake, tmp_path / "project", tmp_path / "state")
    try:
        uri = editor.open("m.py", CODE)
        running, gate = await held_refactor(editor, uri)
        await asyncio.wait_for(editor.client.shutdown_async(None), 20)  # answered in time
        gate.open()
        with pytest.raises(Exception, match="cancel"):
            await asyncio.wait_for(running, 20)
        editor.client.exit(None)
    finally:
        await editor.client.stop()


@pytest.mark.parametrize(("shutdown_first", "code"), [(True, 0), (False, 1)])
async def test_exit_code_follows_the_spec(raw: RawServer, shutdown_first: bool, code: int) -> None:
    def run() -> int:
        raw.initialize()
        if shutdown_first:
            raw.send({"id": 2, "method": "shutdown"})
            raw.receive(2)
        raw.send({"method": "exit"})
        return raw.wait()

    assert await _in_thread(run) == code


async def test_a_crafted_import_like_line_does_not_freeze_the_server(
    start_session: Start, fake: FakeCodestral
) -> None:
    editor = await start_session()
    crafted = "const" + " " * 150_000 + "x\n" + "const " + "= " * 75_000 + "\n"
    uri = editor.open("app.js", crafted + CODE, language="javascript")
    fake.enqueue(Script(text=NEW_SECOND))
    began = time.monotonic()
    result = await editor.run("codestral.refactor", {"uri": uri, "range": lsp_range(6, 0, 8, 0)})
    elapsed = time.monotonic() - began
    assert result["status"] == "applied" and editor.text(uri) == crafted + AFTER
    assert elapsed < 5, f"the action took {elapsed:.1f} s"  # the old pattern: ~21 s
