"""The Neovim plugin in a real Neovim in tmux, driven by keys and Ex commands as a person does,
against the fake Codestral (and ``ruff server`` as a second language server with diagnostics).

What the user sees is read from the screen; the files on disk, the plugin's CodestralDone events
and vim.notify messages are read back from the running Neovim. Screens are kept in
editors/screenshots/neovim-*.txt.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fake_codestral import FakeCodestral, Gate, Script
from tests.conftest import CANARY_KEY
from tests.editors.needs import require_tool
from tests.editors.tmux_nvim import ROOT, Neovim
from tests.editors.tmux_nvim import nvim as nvim_binary

PLUGIN = ROOT / "editors" / "neovim"
SOURCE = """import os


class Shapes:
    def area(self, r):
        pi = 3.14
        result = pi * r * r
        return result

    def name(self):
        return "circle"
"""
BODY = "        pi = 3.14\n        result = pi * r * r\n        return result\n"
REFACTORED = "        result = 3.14 * r ** 2\n        return result\n"
HINT = "\\cy accept · \\cn reject · \\cr retry"  # the review's keys, as its hint names them
ONE_LINE = BODY.replace("3.14", "3.14159")  # a one-line change: applied at once, not proposed


def fenced(code: str) -> str:
    return f"```python\n{code}```"


class Session:
    """A project folder with shapes.py, and Neovim started on it."""

    def __init__(self, fake: FakeCodestral, tmp_path: Path) -> None:
        self.fake = fake
        self.project = tmp_path / "project"
        self.project.mkdir()
        (self.project / ".git").mkdir()
        self.source = self.project / "shapes.py"
        self.source.write_text(SOURCE)
        self.tmp = tmp_path
        self.nvim: Neovim | None = None

    def start(
        self, setup: dict[str, Any] | None = None, ruff: bool = False, width: int = 150, **env: str
    ) -> Neovim:
        home = self.tmp / "home"
        variables = self.fake.environment(
            CANARY_KEY,
            PLUGIN_DIR=str(PLUGIN),
            PYTHON=sys.executable,
            CODESTRAL_SETUP=json.dumps(setup if setup is not None else {"keymaps": True}),
            RUFF=ruff_binary() if ruff else "",
            **{f"XDG_{d}_HOME": str(home / d.lower()) for d in ("CONFIG", "DATA", "STATE", "CACHE")},
        )
        variables.update(env)
        self.nvim = Neovim(self.tmp, variables, width=width).start(str(self.source), cwd=self.project)
        self.nvim.wait_screen("shapes.py", "the file to open")
        return self.nvim

    def attached(self, name: str = "codestral") -> None:
        assert self.nvim is not None
        nvim = self.nvim
        nvim.wait(
            lambda: nvim.eval_lua(f"#vim.lsp.get_clients({{bufnr = 0, name = '{name}'}})") == 1,
            f"{name} to attach",
        )

    def text(self) -> str:
        return self.source.read_text()

    def buffer(self) -> str:
        """The text of shapes.py as Neovim holds it (whatever window is current)."""
        assert self.nvim is not None
        lines: list[str] = self.nvim.eval(f"getbufline(bufnr({str(self.source)!r}), 1, '$')")
        return "\n".join(lines) + "\n"


def ruff_binary() -> str:
    found = shutil.which("ruff", path=str(Path(sys.executable).parent))
    return require_tool(found, "ruff (pip install ruff)")


@pytest.fixture
def session(fake: FakeCodestral, tmp_path: Path) -> Iterator[Session]:
    s = Session(fake, tmp_path)
    try:
        yield s
    finally:
        if s.nvim is not None:
            s.nvim.stop()


def codestral_messages(nvim: Neovim) -> list[str]:
    """Everything in :messages that came from Codestral (by the plugin or the server)."""
    history: str = nvim.eval("execute('messages')")
    return [line for line in history.splitlines() if "odestral" in line]


# -- range commands --------------------------------------------------------------------------


def test_a_range_command_typed_in_visual_mode_rewrites_exactly_those_lines(session: Session) -> None:
    session.fake.enqueue(Script(text=fenced(REFACTORED), chunk_size=6))
    nvim = session.start()
    session.attached()
    nvim.keys("6G", "V", "2j")
    nvim.type(":CodestralRefactor")
    nvim.keys("Enter")
    [done] = nvim.wait_done()
    assert done["status"] == "proposed"  # more than one line: shown for review first
    nvim.wait_screen(HINT, "the review hint")
    nvim.type("\\cy")
    assert nvim.wait_done(2)[1]["status"] == "applied"
    nvim.command("write")
    nvim.wait(lambda: REFACTORED in session.text(), "the file to be written")
    assert session.text() == SOURCE.replace(BODY, REFACTORED)
    nvim.save("refactor")


def test_document_command_rewrites_the_lines(session: Session) -> None:
    documented = '        """The area of a circle."""\n' + BODY
    session.fake.enqueue(Script(text=fenced(documented)))
    nvim = session.start()
    session.attached()
    nvim.command("6,8CodestralDocument")
    [done] = nvim.wait_done()
    assert done["status"] == "applied"
    assert session.buffer() == SOURCE.replace(BODY, documented)


def test_edit_with_an_argument_uses_it_and_asks_nothing(session: Session) -> None:
    session.fake.enqueue(Script(text=fenced(ONE_LINE)))
    nvim = session.start()
    session.attached()
    nvim.keys("6G", "V", "2j")
    nvim.type(":CodestralEdit add type hints")
    nvim.keys("Enter")
    [done] = nvim.wait_done()  # a question would wait for an answer: no CodestralDone
    assert done["status"] == "applied"
    [request] = session.fake.completion_requests()
    assert "Instruction: add type hints" in request.prompt_text()
    assert "Codestral edit:" not in nvim.screen()


def test_edit_without_an_argument_asks_once_from_the_keymap(session: Session) -> None:
    session.fake.enqueue(Script(text=fenced(ONE_LINE)))
    nvim = session.start()
    session.attached()
    nvim.keys("6G", "V", "2j")
    nvim.type("\\ci")
    nvim.wait_screen("Codestral edit:", "the instruction prompt")
    nvim.type("use a power")
    nvim.keys("Enter")
    [done] = nvim.wait_done()
    assert done["status"] == "applied"
    assert nvim.mode() == "n" and "Codestral edit:" not in nvim.screen()
    [request] = session.fake.completion_requests()
    assert "Instruction: use a power" in request.prompt_text()


def test_edit_from_the_code_action_menu_asks_once(session: Session) -> None:
    session.fake.enqueue(Script(text=fenced(ONE_LINE)))
    nvim = session.start()
    session.attached()
    nvim.keys("6G", "V", "2j", "g", "r", "a")
    menu = nvim.wait_screen("Codestral: Edit with instruction", "the code-action menu")
    nvim.type(menu_number(menu, "Codestral: Edit with instruction"))
    nvim.keys("Enter")
    nvim.wait_screen("Codestral edit:", "the instruction prompt")
    nvim.type("square it")
    nvim.keys("Enter")
    [done] = nvim.wait_done()
    assert done["status"] == "applied" and "Codestral edit:" not in nvim.screen()
    assert "Instruction: square it" in session.fake.completion_requests()[0].prompt_text()


def test_the_same_outcome_twice_is_said_twice(session: Session) -> None:
    session.fake.enqueue(Script(text=fenced(ONE_LINE)), Script(text=fenced(ONE_LINE)))
    nvim = session.start()
    session.attached()
    nvim.command("6,8CodestralRefactor")
    nvim.wait_done(1)
    nvim.keys("u")
    nvim.command("6,8CodestralRefactor")
    nvim.wait_done(2)
    applied = [m for m in codestral_messages(nvim) if "applied" in m]
    assert len(applied) == 2, codestral_messages(nvim)


def test_edit_prompt_cancelled_with_escape_sends_nothing(session: Session) -> None:
    nvim = session.start()
    session.attached()
    nvim.command("6,8CodestralEdit")
    nvim.wait_screen("Codestral edit:", "the instruction prompt")
    nvim.keys("Escape")
    nvim.wait(lambda: nvim.mode() == "n", "normal mode")
    nvim.command("CodestralUsage")  # a round trip to the server after the prompt closed
    nvim.wait_screen("requests", "the usage line")
    assert session.fake.completion_requests() == [] and nvim.state()["done"] == []


def test_generated_tests_land_in_the_project(session: Session) -> None:
    """Needs the server to write tests for clients without documentChanges (helper server9)."""
    tests = "from shapes import Shapes\n\n\ndef test_area():\n    assert Shapes().area(1) == 3.14\n"
    session.fake.enqueue(Script(text=fenced(tests)))
    nvim = session.start(width=220)
    session.attached()
    nvim.command("5,8CodestralTests")
    [done] = nvim.wait_done()
    assert done["status"] not in ("failed", "kept", "cancelled"), done
    nvim.command("wall")
    target = session.project / "test_shapes.py"
    nvim.wait(lambda: target.exists() and "def test_area" in target.read_text(), "tests/test_shapes.py")
    assert session.text() == SOURCE


# -- explanations ----------------------------------------------------------------------------


def test_explain_opens_rendered_markdown_beside_the_code_and_q_closes_it(session: Session) -> None:
    answer = (
        "`Shapes.area` computes the **area** of a circle of radius `r`, using a rough value of pi "
        "that makes every result slightly wrong; a long line that must wrap in its window.\n\n"
        "```python\nresult = math.pi * r * r\n```\n"
    )
    session.fake.enqueue(Script(text=answer))
    nvim = session.start()
    session.attached()
    nvim.command("5,8CodestralExplain")
    nvim.wait_done()
    screen = nvim.wait_screen("area of a circle", "the explanation")
    nvim.save("explain")
    # The code stays visible, on the left; the explanation is rendered: no ** or fences.
    code_rows = [row for row in screen.splitlines() if "def area(self, r):" in row]
    assert code_rows and code_rows[0].index("def area") < 10
    assert "result = pi * r * r" in screen
    assert "**" not in screen and "```" not in screen
    assert "result = math.pi * r * r" in screen
    window = nvim.eval_lua(
        "{ft = vim.bo.filetype, wrap = vim.wo.wrap, conceal = vim.wo.conceallevel, wins = #vim.api.nvim_tabpage_list_wins(0)}"
    )
    assert window == {"ft": "markdown", "wrap": True, "conceal": 2, "wins": 2}
    assert session.text() == SOURCE
    nvim.keys("q")
    nvim.wait(lambda: nvim.eval("winnr('$')") == 1, "the explanation to close")
    assert "area of a circle" not in nvim.screen()


def test_explain_from_the_code_action_menu_shows_the_explanation(session: Session) -> None:
    session.fake.enqueue(Script(text="It computes **areas**."))
    nvim = session.start()
    session.attached()
    nvim.keys("5G", "V", "3j", "g", "r", "a")
    menu = nvim.wait_screen("Codestral: Explain", "the code-action menu")
    nvim.type(menu_number(menu, "Codestral: Explain"))
    nvim.keys("Enter")
    [done] = nvim.wait_done()
    assert done["status"] == "shown"
    nvim.wait_screen("It computes areas.", "the explanation")


# -- fix, with ruff's diagnostics --------------------------------------------------------------


def menu_number(screen: str, title: str) -> str:
    found = re.search(rf"(\d+)[.:] {re.escape(title)}", screen)
    assert found, f"{title!r} is not in the menu:\n{screen}"
    return found.group(1)


def wait_for_ruff(session: Session) -> None:
    assert session.nvim is not None
    nvim = session.nvim
    session.attached("ruff")
    nvim.wait(lambda: nvim.eval_lua("#vim.diagnostic.get(0, {lnum = 0})") >= 1, "ruff's diagnostic on line 1")


def test_fix_is_offered_in_the_menu_for_another_servers_diagnostic(session: Session) -> None:
    session.fake.enqueue(Script(text=fenced("import os  # noqa: F401\n")))
    nvim = session.start(ruff=True)
    session.attached()
    wait_for_ruff(session)
    nvim.keys("g", "g", "g", "r", "a")
    menu = nvim.wait_screen("Codestral: Fix", "Codestral: Fix in the code-action menu")
    nvim.save("fix-menu")
    nvim.type(menu_number(menu, "Codestral: Fix"))
    nvim.keys("Enter")
    [done] = nvim.wait_done()
    assert done["status"] == "applied"
    nvim.wait(lambda: session.buffer().startswith("import os  # noqa: F401\n"), "the fix")
    [request] = session.fake.completion_requests()
    assert "F401" in request.prompt_text() and "Ruff" in request.prompt_text()


def test_fix_command_sends_every_diagnostic_on_the_selected_lines(session: Session) -> None:
    session.fake.enqueue(Script(text=fenced("import math\n")))
    nvim = session.start(ruff=True)
    session.attached()
    wait_for_ruff(session)
    nvim.keys("g", "g", "V")
    nvim.type(":CodestralFix")
    nvim.keys("Enter")
    [done] = nvim.wait_done()
    assert done["status"] == "applied"
    [request] = session.fake.completion_requests()
    prompt = request.prompt_text()
    assert "line 1:" in prompt and "F401" in prompt and "diagnostics listed" in prompt


# -- slow answers, cancel, failures, messages ------------------------------------------------------


def test_a_slow_answer_streams_progress_and_the_editor_stays_usable(session: Session) -> None:
    gate = Gate()
    session.fake.enqueue(Script(text=fenced(ONE_LINE), chunk_size=4, hold_after_chunks=4, gate=gate))
    nvim = session.start()
    session.attached()
    try:
        nvim.command("6,8CodestralRefactor")
        nvim.wait_screen(lambda s: "Codestral: Refactor" in s.splitlines()[-1] and "characters" in s, "streaming progress")
        nvim.save("progress")
        nvim.keys("G", "o")
        nvim.type("# typed while it streams")
        nvim.keys("Escape")
        nvim.wait_screen("# typed while it streams", "the typed line")
    finally:
        gate.open()
    [done] = nvim.wait_done()
    assert done["status"] == "applied"
    assert session.buffer() == SOURCE.replace(BODY, ONE_LINE) + "    # typed while it streams\n"


def test_cancel_from_the_keymap_stops_a_slow_job_and_changes_nothing(session: Session) -> None:
    gate = Gate()
    session.fake.enqueue(Script(text=fenced(REFACTORED), chunk_size=4, hold_after_chunks=3, gate=gate))
    nvim = session.start()
    session.attached()
    try:
        nvim.command("6,8CodestralRefactor")
        nvim.wait(gate.reached.is_set, "the answer to start")
        nvim.type("\\cx")
        [done] = nvim.wait_done()
    finally:
        gate.open()
    assert done["status"] == "cancelled"
    assert session.fake.completion_requests()[0].disconnected.wait(10)
    assert session.buffer() == SOURCE and marks(nvim, "pending") == []  # the region unmarked
    assert len([m for m in codestral_messages(nvim) if "ancel" in m]) == 1


def test_an_unreachable_server_is_said_once_in_one_message(session: Session) -> None:
    nvim = session.start(CODESTRAL_BASE_URL="http://127.0.0.1:9/v1", width=200)
    session.attached()
    nvim.command("6,8CodestralRefactor")
    [done] = nvim.wait_done()
    assert done["status"] == "failed" and marks(nvim, "pending") == []  # the region unmarked
    screen = nvim.save("unreachable")
    assert "Press ENTER" not in screen
    said = codestral_messages(nvim)
    assert len(said) == 1 and "Could not reach" in said[0], said
    assert not said[0].startswith("LSP[") and "Codestral: Codestral" not in said[0]


def test_setup_without_settings_is_healthy(session: Session) -> None:
    nvim = session.start(setup={})
    session.attached()
    nvim.command("checkhealth codestral")
    report = nvim.wait_screen("endpoint reachable", "the health report")
    nvim.save("health")
    assert "must be an object" not in report and "WARNING" not in report.split("codestral-lsp check")[0]
    assert not [m for m in codestral_messages(nvim) if "must be an object" in m]
    assert CANARY_KEY not in report
    # the health check's one request (and the server's own model check at start): no chat request
    assert {r.path for r in session.fake.requests} == {"/v1/models"}


def test_a_missing_server_command_is_named(session: Session) -> None:
    nvim = session.start(setup={"cmd": ["codestral-lsp-not-installed"]})
    nvim.command("6,8CodestralRefactor")
    screen = nvim.wait_screen(lambda s: "not found" in s.splitlines()[-1], "the missing-command message")
    assert "`codestral-lsp-not-installed` not found" in screen and "setup()?" not in screen
    said = codestral_messages(nvim)
    assert all("not found" in m for m in said) and not [m for m in said if "did you call" in m]


def test_help_works_on_the_runtimepath_route(session: Session, tmp_path: Path) -> None:
    """The README's rtp route: append the folder, run :helptags on its doc/ once."""
    readme = (PLUGIN / "README.md").read_text()
    assert ":helptags" in readme
    copy = tmp_path / "plugin-copy"
    shutil.copytree(PLUGIN, copy, ignore=shutil.ignore_patterns("tags"))
    nvim = session.start(setup={}, PLUGIN_DIR=str(copy))
    nvim.command(f"helptags {copy / 'doc'}")
    nvim.command("help codestral")
    nvim.wait_screen("codestral.txt", "the help file")
    nvim.wait(lambda: nvim.eval("&filetype") == "help", "a help window")


# -- inline completion ---------------------------------------------------------------------------


def ghost(nvim: Neovim) -> list[str]:
    """The ghost text shown (virtual text of Neovim's inline completion)."""
    marks: list[str] = nvim.eval_lua(
        "(function() local ns = vim.api.nvim_get_namespaces()['nvim.lsp.inline_completion'] "
        "local out = {} for _, m in ipairs(vim.api.nvim_buf_get_extmarks(0, ns or -1, 0, -1, {details = true})) do "
        "for _, chunk in ipairs(m[4].virt_text or {}) do table.insert(out, chunk[1]) end end return out end)()"
    )
    return marks


INLINE = {"inline_completion": True, "settings": {"completion": {"debounceMs": 0}}}


def test_ghost_text_mid_line_is_inserted_not_drawn_over_the_text(session: Session) -> None:
    session.fake.enqueue(Script(text="radius"))
    nvim = session.start(setup=INLINE)
    session.attached()
    nvim.keys("6G", "$", "i")  # cursor before the last character of "pi = 3.14"
    nvim.wait_screen("pi = 3.1radius4", "the ghost text inserted before the 4")
    nvim.save("ghost-mid-line")


def test_ghost_text_typed_through_and_accepted_with_tab(session: Session) -> None:
    session.fake.enqueue(Script(text="area = pi * r * r"))
    nvim = session.start(setup=INLINE)
    session.attached()
    nvim.keys("8G", "O")
    nvim.type("        ")
    nvim.wait(lambda: "".join(ghost(nvim)).endswith("area = pi * r * r"), "the ghost text")
    nvim.type("are")
    nvim.wait(lambda: "".join(ghost(nvim)) == "a = pi * r * r", "the rest of the suggestion")
    nvim.save("ghost-typed-through")
    nvim.keys("Tab")
    nvim.wait(lambda: "        area = pi * r * r" in session.buffer(), "the accepted suggestion")
    nvim.keys("Escape")
    assert ghost(nvim) == []
    assert nvim.eval("v:errmsg") == ""


def test_backspace_while_ghost_text_shows_raises_nothing(session: Session) -> None:
    session.fake.enqueue(Script(text=" * 2"), Script(text=" * 2"))
    nvim = session.start(setup=INLINE)
    session.attached()
    nvim.keys("7G", "A")
    nvim.wait(lambda: ghost(nvim) != [], "the ghost text")
    nvim.keys("BSpace", "BSpace")
    nvim.wait(lambda: "result = pi * r *\n" in session.buffer(), "the backspaces")
    nvim.keys("Escape")
    nvim.wait(lambda: nvim.mode() == "n", "normal mode")
    assert nvim.eval("v:errmsg") == "" and "Invalid 'col'" not in nvim.screen()


def test_no_ghost_text_stays_after_escape(session: Session) -> None:
    session.fake.enqueue(Script(text="# late", first_token_delay=0.3))
    nvim = session.start(setup={"inline_completion": True})
    session.attached()
    nvim.keys("8G", "A")
    nvim.type("x")
    nvim.keys("Escape")
    nvim.wait(lambda: nvim.mode() == "n", "normal mode")
    # Neovim asks 200 ms after the last key: watch for a while that nothing shows up.
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        assert ghost(nvim) == [], "ghost text appeared in normal mode"
    assert "# late" not in nvim.screen()


# -- review: findings as diagnostics ---------------------------------------------------------


def codestral_diagnostics(nvim: Neovim, line: int) -> list[dict[str, Any]]:
    """The diagnostics Neovim holds on ``line`` (1-based) whose source is codestral."""
    found: list[dict[str, Any]] = nvim.eval_lua(
        f"vim.tbl_map(function(d) return {{source = d.source, message = d.message, lnum = d.lnum}} end, "
        f"vim.tbl_filter(function(d) return d.source == 'codestral' end, vim.diagnostic.get(0, {{lnum = {line - 1}}})))"
    )
    return found


def sign_on(screen: str, code: str) -> str:
    """The sign column (first two cells) of the screen row showing ``code``."""
    row = next(r for r in screen.splitlines() if code in r)
    return row[:2].strip()


def test_review_findings_show_on_their_line_with_fix_this_and_clear(session: Session) -> None:
    message = "Use math.pi, not 3.14."
    finding = {"line": 6, "severity": "warning", "message": message}
    session.fake.enqueue(Script(text=json.dumps({"findings": [finding]}), chunk_size=9))
    nvim = session.start()
    session.attached()
    nvim.keys("5G", "V", "3j")
    nvim.type(":CodestralReview")
    nvim.keys("Enter")
    [done] = nvim.wait_done()
    assert done["status"] == "shown", done
    # Neovim (virtual text off by default since 0.11) puts a W sign in the gutter of line 6
    # and W:1 in the status line; Ctrl-W d on that line opens the message in a float.
    screen = nvim.wait_screen(lambda s: sign_on(s, "pi = 3.14") == "W", "the finding's sign on line 6")
    assert sign_on(screen, "result = pi") == "" and "W:1" in screen.splitlines()[-2]
    nvim.keys("Escape", "6G")
    nvim.keys("C-w", "d")
    screen = nvim.wait_screen(message, "the finding in the diagnostic float")
    nvim.save("review")
    rows = screen.splitlines()
    assert "Diagnostics:" in rows[6]  # the float opens under line 6 (its source shows only "if_many")
    nvim.keys("j", "k")  # the float closes when the cursor moves
    nvim.wait(lambda: message not in nvim.screen(), "the float to close")
    assert codestral_diagnostics(nvim, 6) == [{"source": "codestral", "message": message, "lnum": 5}]
    assert codestral_diagnostics(nvim, 7) == []
    [request] = session.fake.completion_requests()
    assert request.body["response_format"] == {"type": "json_object"}
    assert session.buffer() == SOURCE
    # The code-action menu on that line offers the quick fix.
    nvim.keys("6G", "g", "r", "a")
    menu = nvim.wait_screen("Codestral: Fix this", "Fix this in the code-action menu")
    assert menu_number(menu, "Codestral: Fix this")
    nvim.keys("Escape")
    nvim.wait(lambda: "Codestral: Fix this" not in nvim.screen(), "the menu to close")
    nvim.command("CodestralClearReview")
    nvim.wait(lambda: codestral_diagnostics(nvim, 6) == [], "the finding to be cleared")
    nvim.wait_screen(lambda s: sign_on(s, "pi = 3.14") == "" and "W:1" not in s, "the sign to go")
    assert session.buffer() == SOURCE


# -- proposals: review before it lands (issue #13) -------------------------------------------------


def marks(nvim: Neovim, namespace: str) -> list[dict[str, Any]]:
    """The plugin's extmarks in ``codestral.NAMESPACE`` of the current buffer (what colours show)."""
    found: list[dict[str, Any]] = nvim.eval_lua(
        "(function() local ns = vim.api.nvim_get_namespaces()['codestral." + namespace + "'] "
        "local out = {} for _, m in ipairs(vim.api.nvim_buf_get_extmarks(0, ns or -1, 0, -1, {details = true})) do "
        "local d = m[4] table.insert(out, {row = m[2], end_row = d.end_row or vim.NIL, "
        "hl = d.hl_group or d.line_hl_group or vim.NIL, sign = d.sign_text or vim.NIL, "
        "lines = d.virt_lines and #d.virt_lines or 0}) end return out end)()"
    )
    return found


def row_of(screen: str, code: str) -> str:
    """The screen row showing ``code``."""
    return next((r for r in screen.splitlines() if code in r), "")


def test_the_region_is_marked_while_the_answer_streams_and_unmarked_after(session: Session) -> None:
    gate = Gate()
    session.fake.enqueue(Script(text=fenced(REFACTORED), chunk_size=4, hold_after_chunks=4, gate=gate))
    nvim = session.start()
    session.attached()
    try:
        nvim.keys("6G", "V", "2j")
        nvim.type(":CodestralRefactor")
        nvim.keys("Enter")
        screen = nvim.wait_screen(
            lambda s: "characters received" in row_of(s, "pi = 3.14"), "the progress beside the first line"
        )
        assert "Codestral: Refactor" in row_of(screen, "pi = 3.14")
        assert [(m["row"], m["end_row"], m["hl"]) for m in marks(nvim, "pending")] == [(5, 8, "CodestralPending")]
    finally:
        gate.open()
    nvim.wait_done()
    nvim.wait(lambda: marks(nvim, "pending") == [], "the mark to go")
    assert "characters received" not in "".join(nvim.screen().splitlines()[:-1])


def propose(session: Session, answer: str = REFACTORED, setup: dict[str, Any] | None = None) -> Neovim:
    """Start Neovim, select lines 6-8, run Refactor and wait for its proposal to show."""
    session.fake.enqueue(Script(text=fenced(answer)))
    nvim = session.start(setup)
    session.attached()
    nvim.keys("6G", "V", "2j")
    nvim.type(":CodestralRefactor")
    nvim.keys("Enter")
    [done] = nvim.wait_done()
    assert done["status"] == "proposed", done
    nvim.wait_screen(HINT, "the review hint")
    return nvim


def diff_rows(screen: str) -> list[str]:
    """The rows of the inline diff: removed lines (sign -) and added ones (+), signs kept."""
    return [r.rstrip() for r in screen.splitlines() if r[:2] in ("- ", "+ ")]


def test_a_proposal_shows_inline_and_accepting_it_lands_highlighted_and_undoes_in_one_step(
    session: Session,
) -> None:
    nvim = propose(session)
    screen = nvim.save("review-proposal")
    rows = screen.splitlines()
    hint = next(i for i, r in enumerate(rows) if HINT in r)
    assert "Refactor proposes" in rows[hint] and "def area(self, r):" in rows[hint - 1]
    assert HINT in rows[-1]  # said in the message area too, for a proposal scrolled out of view
    assert diff_rows(screen) == [
        "-         pi = 3.14",
        "-         result = pi * r * r",
        "+         result = 3.14 * r ** 2",
    ]
    assert "return result" in rows[hint + 4]  # the unchanged line follows the added one
    assert session.buffer() == SOURCE  # nothing applied yet
    nvim.type("\\cy")
    [_, done] = nvim.wait_done(2)
    assert done["status"] == "applied" and done["action"] == "refactor"
    assert session.buffer() == SOURCE.replace(BODY, REFACTORED)
    screen = nvim.screen()
    assert HINT not in screen and diff_rows(screen) == []
    # The changed line stays highlighted for a moment, then not.
    assert [(m["row"], m["hl"]) for m in marks(nvim, "changed")] == [(5, "CodestralChanged")]
    nvim.wait(lambda: marks(nvim, "changed") == [], "the highlight to fade")
    nvim.keys("u")
    nvim.wait(lambda: session.buffer() == SOURCE, "one undo to restore the code")
    nvim.keys("C-r")
    nvim.wait(lambda: session.buffer() == SOURCE.replace(BODY, REFACTORED), "redo")


def test_undo_reverts_an_accepted_change_of_several_hunks_in_one_step(session: Session) -> None:
    answer = "        pi = 3.141592653589793\n        result = pi * r * r\n        return float(result)\n"
    nvim = propose(session, answer)
    assert len(diff_rows(nvim.screen())) == 4  # two hunks: two lines out, two in
    nvim.command("CodestralAccept")
    assert nvim.wait_done(2)[1]["status"] == "applied"
    assert session.buffer() == SOURCE.replace(BODY, answer)
    assert sorted(m["row"] for m in marks(nvim, "changed")) == [5, 7]
    nvim.keys("u")
    nvim.wait(lambda: session.buffer() == SOURCE, "one undo to restore the code")
    assert nvim.eval("undotree().seq_cur") == 0


def test_accept_after_typing_above_the_proposal_lands_on_the_right_lines(session: Session) -> None:
    nvim = propose(session)
    nvim.keys("g", "g", "O")
    nvim.type("# a comment typed before answering")
    nvim.keys("Escape")
    screen = nvim.wait_screen("# a comment typed", "the typed line")
    assert diff_rows(screen)[0] == "-         pi = 3.14"  # the diff moved down with its code
    nvim.keys("G")  # the cursor outside the proposal: the keys still answer it
    nvim.type("\\cy")
    assert nvim.wait_done(2)[1]["status"] == "applied"
    assert session.buffer() == "# a comment typed before answering\n" + SOURCE.replace(BODY, REFACTORED)
    nvim.keys("u")  # the accepted change alone: the typing stays
    nvim.wait(lambda: session.buffer() == "# a comment typed before answering\n" + SOURCE, "one undo")


def test_a_new_rewrite_of_the_same_lines_replaces_the_proposal(session: Session) -> None:
    revised = "        return 3.14 * r * r\n"
    nvim = propose(session)
    gate = Gate()
    session.fake.enqueue(Script(text=fenced(revised), chunk_size=4, hold_after_chunks=2, gate=gate))
    nvim.command("6,8CodestralRefactor")
    try:  # the server dropped the old proposal when this rewrite started: so is its diff
        screen = nvim.wait_screen(lambda s: "received" in row_of(s, "pi = 3.14"), "the lines marked")
        assert diff_rows(screen) == [] and nvim.eval_lua("#require('codestral.review').list()") == 0
    finally:
        gate.open()
    [_, done] = nvim.wait_done(2)
    assert done["status"] == "proposed"
    screen = nvim.wait_screen("+         return 3.14 * r * r", "the new proposal")
    assert "result = 3.14 * r ** 2" not in screen
    assert nvim.eval_lua("#require('codestral.review').list()") == 1
    nvim.command("CodestralAccept")
    assert nvim.wait_done(3)[2]["status"] == "applied"
    assert session.buffer() == SOURCE.replace(BODY, revised)


def test_accept_after_typing_inside_the_proposal_is_refused_and_the_answer_kept(session: Session) -> None:
    nvim = propose(session)
    nvim.keys("7G", "A")
    nvim.type(" + 0")
    nvim.keys("Escape")
    edited = SOURCE.replace("pi * r * r\n", "pi * r * r + 0\n")
    nvim.wait(lambda: session.buffer() == edited, "the typed text")
    nvim.type("\\cy")
    screen = nvim.wait_screen("You edited the selected code", "the reason, said")
    assert "shapes-answer.py" in screen  # the answer, kept and opened beside the code
    if "Press ENTER" in screen.splitlines()[-1]:  # the sentence and the answer's path are long
        nvim.keys("Enter")
    [_, done] = nvim.wait_done(2)
    assert done["status"] == "kept", done
    assert session.buffer() == edited  # the user's text, not the answer
    said = [m for m in codestral_messages(nvim) if "You edited the selected code" in m]
    assert len(said) == 1, codestral_messages(nvim)
    assert nvim.eval_lua("#require('codestral.review').list()") == 0
    assert HINT not in nvim.screen() and diff_rows(nvim.screen()) == []


def test_reject_changes_nothing_and_closes_the_review(session: Session) -> None:
    nvim = propose(session)
    nvim.type("\\cn")
    [_, done] = nvim.wait_done(2)
    assert done["status"] == "rejected"
    screen = nvim.wait_screen(lambda s: HINT not in s, "the review to close")
    assert diff_rows(screen) == [] and marks(nvim, "proposal") == []
    assert session.buffer() == SOURCE and nvim.eval("&modified") == 0
    assert [m for m in codestral_messages(nvim) if "rejected" in m]
    nvim.command("CodestralAccept")  # nothing is open any more: said, nothing sent
    nvim.wait_screen("no Codestral proposal is open", "the plain answer")


def test_retry_asks_once_and_shows_the_new_proposal(session: Session) -> None:
    revised = "        return math.pi * r * r\n"
    nvim = propose(session)
    gate = Gate()
    session.fake.enqueue(Script(text=fenced(revised), chunk_size=4, hold_after_chunks=2, gate=gate))
    nvim.type("\\cr")
    nvim.wait_screen("Codestral retry:", "the instruction prompt")
    nvim.type("use math.pi and one line")
    nvim.keys("Enter")
    try:  # the old diff goes; the lines are marked while the model revises
        screen = nvim.wait_screen(lambda s: "received" in row_of(s, "pi = 3.14"), "the lines marked again")
        assert HINT not in screen and diff_rows(screen) == []
        assert [(m["row"], m["end_row"]) for m in marks(nvim, "pending")] == [(5, 8)]
    finally:
        gate.open()
    [_, done] = nvim.wait_done(2)
    assert done["status"] == "proposed" and done["action"] == "refactor"
    screen = nvim.wait_screen("+         return math.pi * r * r", "the new proposal")
    shown = screen.splitlines()[:-1]  # the buffer's window (the message area repeats the hint)
    assert "result = 3.14 * r ** 2" not in "".join(shown) and len([r for r in shown if HINT in r]) == 1
    assert "Codestral retry:" not in screen.splitlines()[-1]
    prompt = session.fake.completion_requests()[1].prompt_text()
    assert "use math.pi and one line" in prompt and "3.14 * r ** 2" in prompt  # the previous answer
    nvim.command("CodestralAccept")
    assert nvim.wait_done(3)[2]["status"] == "applied"
    assert session.buffer() == SOURCE.replace(BODY, revised)


def test_a_proposal_expires_unanswered_and_its_diff_goes(session: Session) -> None:
    nvim = propose(session, setup={"keymaps": True, "settings": {"reviewExpirySeconds": 1}})
    nvim.wait_screen("expired unanswered", "the server to say the proposal expired")
    nvim.wait(lambda: marks(nvim, "proposal") == [] and HINT not in nvim.screen(), "the diff to go")
    assert session.buffer() == SOURCE
    nvim.command("CodestralAccept")
    nvim.wait_screen("no Codestral proposal is open", "the plain answer")
    assert len(session.fake.completion_requests()) == 1


def test_answering_a_proposal_the_server_no_longer_holds_says_so_once_and_closes_it(session: Session) -> None:
    nvim = propose(session)
    [proposal] = nvim.eval_lua("require('codestral.review').list()")
    # Answered elsewhere (another plugin, a script): the server drops it; this review is stale.
    nvim.eval_lua(
        "vim.lsp.get_clients({name = 'codestral'})[1]:request_sync('workspace/executeCommand', "
        f"{{command = 'codestral.reject', arguments = {{{{jobId = {json.dumps(proposal['jobId'])}}}}}}}, 5000, 0) and 1"
    )
    nvim.type("\\cy")
    [_, done] = nvim.wait_done(2)
    assert done["status"] == "expired"
    nvim.wait(lambda: marks(nvim, "proposal") == [] and HINT not in nvim.screen(), "the review to close")
    said = [m for m in codestral_messages(nvim) if "no longer open" in m]
    assert len(said) == 1 and "run the action again" in said[0], codestral_messages(nvim)
    assert session.buffer() == SOURCE


def test_the_review_helpers_read_diffs_and_edits_right(tmp_path: Path) -> None:
    """The pure parts of lua/codestral/review.lua, in a headless Neovim: the hunks of a unified
    diff, and the rows an applied edit changed (for the brief highlight)."""
    script = tmp_path / "check.lua"
    script.write_text(
        f"vim.opt.rtp:append({json.dumps(str(PLUGIN))})\n"
        "local r = require('codestral.review')\n"
        "local function e(l1, c1, l2, c2, text) return {range = {start = {line = l1, character = c1},"
        " ['end'] = {line = l2, character = c2}}, newText = text} end\n"
        "local out = {\n"
        "  hunks = r.hunks('--- a/x.py\\r\\n+++ b/x.py\\n@@ -6,3 +6,2 @@\\n-a\\r\\n-b\\n+c\\n d\\n"
        "\\\\ No newline at end of file\\n@@ -20 +19,2 @@\\n x\\n+--- not a header\\n'),\n"
        # two hunks, the first one growing by a line: the second one moves down
        "  two = r.changed_rows({e(7, 0, 7, 5, 'x\\ny'), e(5, 4, 5, 6, 'z\\nw')}),\n"
        "  lines_out = r.changed_rows({e(5, 0, 7, 0, 'one\\n'), e(9, 0, 9, 0, 'new\\n')}),\n"
        "  deleted = r.changed_rows({e(3, 0, 5, 0, '')}),\n"
        "}\n"
        "io.stdout:write(vim.json.encode(out))\n"
    )
    done = subprocess.run(
        [nvim_binary(), "--headless", "--clean", "-l", str(script)],
        capture_output=True, text=True, timeout=20, check=True,
    )
    got = json.loads(done.stdout)
    assert got["hunks"] == [
        {"old": 6, "lines": ["-a", "-b", "+c", " d"]},
        {"old": 20, "lines": [" x", "+--- not a header"]},
    ]
    assert got["two"] == [5, 6, 8, 9]  # z, w on rows 5-6; x, y moved down a row to 8-9
    assert got["lines_out"] == [5, 8]  # three lines became one: the insertion at 9 is now at 8
    assert got["deleted"] == [3]


def test_retry_after_typing_inside_the_proposal_asks_nothing_and_keeps_the_answer(session: Session) -> None:
    nvim = propose(session)
    nvim.keys("7G", "A")
    nvim.type(" + 0")
    nvim.keys("Escape")
    edited = SOURCE.replace("pi * r * r\n", "pi * r * r + 0\n")
    nvim.wait(lambda: session.buffer() == edited, "the typed text")
    nvim.command("CodestralRetry use math.pi")  # an argument: no question
    screen = nvim.wait_screen("You edited the proposed code", "the reason, said")
    if "Press ENTER" in screen.splitlines()[-1]:
        nvim.keys("Enter")
    [_, done] = nvim.wait_done(2)
    assert done["status"] == "kept", done
    assert session.buffer() == edited and len(session.fake.completion_requests()) == 1
    assert nvim.eval_lua("#require('codestral.review').list()") == 0
