"""The command line: ``--version``, ``--help`` and the ``check`` doctor against the fake."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import signal
import socket
import subprocess
import sys
import tty
from typing import Any

import pytest

from fake_codestral import FakeCodestral, environment_without_keys
from tests.conftest import CANARY_KEY


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codestral_lsp", *args],
        env=environment_without_keys(**env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_version_and_help() -> None:
    assert run("--version").stdout.startswith("codestral-lsp ")
    help_text = run("--help").stdout
    assert "--tcp" in help_text and "--log-file" in help_text and "check" in help_text


def test_check_passes_on_a_good_setup(fake: FakeCodestral) -> None:
    fake.api_key = CANARY_KEY
    result = run("check", CODESTRAL_BASE_URL=fake.base_url, CODESTRAL_API_KEY=CANARY_KEY)
    assert result.returncode == 0, result.stdout
    out = result.stdout
    assert fake.base_url in out and "codestral-latest" in out
    assert f"from CODESTRAL_API_KEY ({CANARY_KEY[:3]}…{CANARY_KEY[-4:]})" in out
    assert "key accepted" in out and "fill-in-the-middle supported" in out and "All good." in out
    assert CANARY_KEY not in out + result.stderr
    assert [r.path for r in fake.requests] == ["/v1/models"]


def test_check_explains_a_rejected_key(fake: FakeCodestral) -> None:
    fake.api_key = "the-right-key-00000000"
    result = run("check", CODESTRAL_BASE_URL=fake.base_url, MISTRAL_API_KEY=CANARY_KEY)
    assert result.returncode == 1
    assert "key rejected" in result.stdout and "MISTRAL_API_KEY" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert CANARY_KEY not in result.stdout + result.stderr


def test_check_without_a_key_says_which_variable_to_set() -> None:
    result = run("check")
    assert result.returncode == 1
    assert "Set CODESTRAL_API_KEY" in result.stdout and "codestral.mistral.ai" in result.stdout


def test_check_says_when_the_key_belongs_to_the_other_endpoint() -> None:
    result = run("check", "--base-url", "https://codestral.mistral.ai/v1", MISTRAL_API_KEY=CANARY_KEY)
    assert result.returncode == 1
    assert "MISTRAL_API_KEY is set, but its keys belong to the other endpoint" in result.stdout


def test_check_refuses_plain_http_to_another_host() -> None:
    result = run("check", "--base-url", "http://llm.example.com/v1", CODESTRAL_API_KEY=CANARY_KEY)
    assert result.returncode == 1 and "Refusing plain http://" in result.stdout


def test_check_names_a_model_that_is_not_served(fake: FakeCodestral) -> None:
    result = run("check", "--model", "codestral-2405", CODESTRAL_BASE_URL=fake.base_url)
    assert result.returncode == 1
    assert "'codestral-2405' is not served here" in result.stdout and "codestral-2508" in result.stdout


def test_check_flags_a_completion_model_without_fim(fake: FakeCodestral) -> None:
    settings = json.dumps({"completion": {"model": "mistral-medium-latest"}})
    result = run("check", "--settings", settings, CODESTRAL_BASE_URL=fake.base_url)
    assert result.returncode == 1 and "has no fill-in-the-middle" in result.stdout


def test_check_reports_an_unreachable_server() -> None:
    result = run("check", CODESTRAL_BASE_URL="http://127.0.0.1:9/v1")
    assert result.returncode == 1 and "connection refused" in result.stdout


@pytest.mark.parametrize("flag", ["--log-file"])
def test_log_file_is_private(tmp_path, flag: str) -> None:  # type: ignore[no-untyped-def]
    log_file = tmp_path / "logs" / "server.log"
    process = subprocess.run(
        [sys.executable, "-m", "codestral_lsp", flag, str(log_file)],
        input="",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert process.stdout == ""
    assert log_file.exists() and oct(log_file.stat().st_mode & 0o777) == "0o600"


async def test_tcp_mode_serves_lsp_on_the_given_port() -> None:
    import asyncio
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "codestral_lsp",
        "--tcp",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert server.stderr is not None
        line = b""
        while b"Serving on" not in line:  # the server's log says when it listens
            line = await asyncio.wait_for(server.stderr.readline(), 30)
            assert line, "the server exited before listening"
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        body = json.dumps(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {"processId": None, "rootUri": None, "capabilities": {}},
            }
        ).encode()
        writer.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        await writer.drain()
        header = await reader.readuntil(b"\r\n\r\n")
        length = int(header.split(b":")[1].split(b"\r\n")[0])
        answer = json.loads(await reader.readexactly(length))
        assert (
            answer["id"] == 1
            and "codestral.refactor" in answer["result"]["capabilities"]["executeCommandProvider"]["commands"]
        )
        writer.close()
    finally:
        server.kill()
        await server.wait()


async def _initialize_over(reader: Any, writer: Any) -> dict[str, Any]:
    """Send ``initialize`` and read its answer (the server is then waiting for more input)."""
    body = json.dumps(
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"processId": None, "capabilities": {}}}
    ).encode()
    writer.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    await writer.drain()
    header = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
    length = int(header.split(b":")[1].split(b"\r\n")[0])
    answer: dict[str, Any] = json.loads(await reader.readexactly(length))
    return answer


async def _interrupt(server: asyncio.subprocess.Process, times: int) -> tuple[int, str]:
    """Press Ctrl+C ``times`` times; the exit status and what the server wrote on stderr."""
    assert server.stderr is not None
    for _ in range(times):
        server.send_signal(signal.SIGINT)
    try:
        status = await asyncio.wait_for(server.wait(), 10)
    except TimeoutError:
        server.kill()
        await server.wait()
        raise AssertionError("Ctrl+C did not stop the server within 10 s") from None
    return status, (await server.stderr.read()).decode()


class _Terminal:
    """The writing end of a pseudo-terminal in raw mode: the server's stdin, as in a shell."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def write(self, data: bytes) -> None:
        os.write(self.fd, data)

    async def drain(self) -> None:
        return None


@pytest.mark.parametrize("presses", [1, 2])
async def test_ctrl_c_stops_the_stdio_server_at_once_and_cleanly(presses: int) -> None:
    # Started by hand, stdin is a terminal: pygls's reading thread is blocked on it.
    try:
        master, slave = pty.openpty()
    except OSError:
        pytest.skip("no pseudo-terminals here")
    tty.setraw(slave)
    try:
        server = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "codestral_lsp",
            stdin=slave,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=environment_without_keys(),
        )
        assert (await _initialize_over(server.stdout, _Terminal(master)))["id"] == 1  # it is serving
        status, stderr = await _interrupt(server, presses)
    finally:
        os.close(master)
        os.close(slave)
    assert status in (0, 130), stderr
    assert "Traceback" not in stderr and "Fatal Python error" not in stderr
    assert "stopped (Ctrl+C)" in stderr


async def test_ctrl_c_stops_the_tcp_server_without_a_traceback() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "codestral_lsp", "--tcp", "--port", str(port)),
        stderr=asyncio.subprocess.PIPE,
        env=environment_without_keys(),
    )
    assert server.stderr is not None
    line = b""
    while b"Serving on" not in line:
        line = await asyncio.wait_for(server.stderr.readline(), 30)
        assert line, "the server exited before listening"
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    assert (await _initialize_over(reader, writer))["id"] == 1  # a client is connected
    status, stderr = await _interrupt(server, 1)
    writer.close()
    assert status in (0, 130), stderr
    assert "Traceback" not in stderr and "Fatal Python error" not in stderr


# What the server needs for `initialize` is pygls, the settings and the handlers; these come on
# first use (an action, a completion, the index, the model check after `initialized`).
NOT_NEEDED_TO_START = (
    "httpx",
    "codestral_lsp.api.client",
    "codestral_lsp.completion",
    "codestral_lsp.runner",
    "codestral_lsp.delivery",
    "codestral_lsp.shapes",
    "codestral_lsp.crossfile",
    "codestral_lsp.workspace_index",
    "codestral_lsp.definitions",
)


def test_start_up_imports_only_what_initialize_needs() -> None:
    """The server answers ``initialize`` (with every command) before importing what later
    requests need: Python's import log, read up to the answer, lists none of it."""
    body = json.dumps(
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"processId": None, "capabilities": {}}}
    ).encode()
    process = subprocess.Popen(
        [sys.executable, "-X", "importtime", "-m", "codestral_lsp"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment_without_keys(),
    )
    try:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        process.stdin.flush()
        headers = iter(process.stdout.readline, b"\r\n")
        length = next(int(h.split(b":")[1]) for h in headers if h.lower().startswith(b"content-length"))
        for _ in headers:  # the rest of the header
            pass
        answer = json.loads(process.stdout.read(length))
    finally:
        process.kill()
        _, log = process.communicate(timeout=30)
    commands = answer["result"]["capabilities"]["executeCommandProvider"]["commands"]
    assert "codestral.explain" in commands and "codestral.review" in commands
    imported = {line.split("|")[-1].strip() for line in log.decode().splitlines() if "|" in line}
    assert "codestral_lsp.handlers" in imported  # the log is read
    assert sorted(set(NOT_NEEDED_TO_START) & imported) == []
