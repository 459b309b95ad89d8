"""A real ``emacs -nw`` in a tmux pane, driven by keys as a person drives it.

Keys go in with ``tmux send-keys``; what the person sees comes back with ``tmux capture-pane``;
buffer text and messages are read through ``emacsclient`` (a separate channel that does not
type anything). The user's init file is the README's setup, with ``ruff server`` as the user's
own language server, so codestral-lsp runs beside it through ``rass``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.editors.needs import require_tool

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = os.environ.get("CODESTRAL_SCREENSHOTS")

INIT = """
(setq make-backup-files nil auto-save-default nil inhibit-startup-screen t)
(setq native-comp-async-report-warnings-errors 'silent)  ; Debian's site-lisp, compiled on first use
(setq server-socket-dir (getenv "EMACS_SOCKET_DIR") server-name "driver")
(server-start)
;; the user's own language server for Python
(with-eval-after-load 'eglot
  (add-to-list 'eglot-server-programs '(python-mode "ruff" "server")))
;; the README's setup
(add-to-list 'load-path (getenv "PLUGIN_DIR"))
(require 'codestral)
(setq codestral-server-command (list (getenv "PYTHON") "-m" "codestral_lsp"))
(setq codestral-settings '(:model "codestral-2501" :predictedOutputs t :review "never"))
(add-hook 'python-mode-hook #'eglot-ensure)
(setq eglot-confirm-server-initiated-edits nil)
"""

# Reviewing: the default `review' (auto), and eglot's default of confirming a server's edits
REVIEW_INIT = INIT.replace(' :review "never"', "") + "(setq eglot-confirm-server-initiated-edits 'confirm)\n"


def _tool(name: str, install: str) -> str:
    path = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
    return require_tool(shutil.which(name, path=path), f"{name} ({install})")


class EmacsSession:
    """One Emacs in one tmux server of its own."""

    def __init__(self, project: Path, file: Path, env: dict[str, str], init: str = INIT) -> None:
        self.emacs = _tool("emacs", "apt-get install emacs-nox elpa-eglot")
        self.emacsclient = _tool("emacsclient", "apt-get install emacs-nox")
        self.tmux = _tool("tmux", "apt-get install tmux")
        _tool("rass", "pip install rassumfrassum")
        _tool("ruff", "pip install ruff")
        self.project = project
        self.file = file
        self.work = project.parent / "emacs-session"
        self.work.mkdir(exist_ok=True)
        (self.work / "sockets").mkdir(mode=0o700, exist_ok=True)
        (self.work / "init.el").write_text(init)
        self.socket = f"codestral-emacs-{os.getpid()}-{id(self)}"
        bin_dir = str(Path(sys.executable).parent)
        self.env = {
            **env,
            "PATH": bin_dir + os.pathsep + env.get("PATH", os.environ.get("PATH", "")),
            "PLUGIN_DIR": str(ROOT / "editors" / "emacs"),
            "PYTHON": sys.executable,
            "PYTHONPATH": os.pathsep.join([str(ROOT / "server"), str(ROOT), env.get("PYTHONPATH", "")]),
            "EMACS_SOCKET_DIR": str(self.work / "sockets"),
            "HOME": str(self.work),
            "TERM": "xterm-256color",
        }
        self._tmux(
            "new-session", "-d", "-s", "main", "-x", "110", "-y", "36", "-c", str(project),
            f"{self.emacs} -nw -q -l {self.work / 'init.el'} {file}",
        )  # fmt: skip
        try:
            self.wait(lambda: (self.work / "sockets" / "driver").exists(), "Emacs to start its server")
            self.wait(lambda: self.eval_json("(and (eglot-current-server) t)"), "eglot to connect")
        except BaseException:
            self.close()
            raise

    # -- channels ------------------------------------------------------------------------------

    def _tmux(self, *args: str) -> str:
        return subprocess.run(
            [self.tmux, "-L", self.socket, "-f", "/dev/null", *args],
            env=self.env, capture_output=True, text=True, timeout=30, check=True,
        ).stdout  # fmt: skip

    def keys(self, *keys: str) -> None:
        """Press keys (tmux key names: ``C-n``, ``M-x``, ``Enter``, ``C-Space``)."""
        for key in keys:
            self._tmux("send-keys", "-t", "main", key)

    def type(self, text: str) -> None:
        """Type text literally."""
        self._tmux("send-keys", "-t", "main", "-l", text)

    def type_in_minibuffer(self, text: str) -> None:
        """Type text at a completing prompt, where SPC completes a word: a space is ``C-q SPC``."""
        for i, word in enumerate(text.split(" ")):
            if i:
                self.keys("C-q", "Space")
            if word:
                self.type(word)

    def command(self, name: str) -> None:
        """``M-x NAME RET``, typed."""
        self.keys("M-x")
        self.wait_screen("M-x")
        self.type(name)
        self.keys("Enter")

    def screen(self) -> str:
        """What the terminal shows now."""
        return self._tmux("capture-pane", "-p", "-t", "main")

    def eval_json(self, expression: str) -> Any:
        """Evaluate an Emacs Lisp expression in the visited file's buffer; its value as JSON."""
        out = self.work / "eval.json"
        out.unlink(missing_ok=True)
        lisp = (
            f'(with-current-buffer (find-buffer-visiting "{self.file}")'
            f' (let ((value {expression})) (with-temp-file "{out}" (insert (json-encode value)))) t)'
        )
        subprocess.run(
            [self.emacsclient, "-s", str(self.work / "sockets" / "driver"), "--eval", lisp],
            env=self.env, capture_output=True, text=True, timeout=30, check=True,
        )  # fmt: skip
        return json.loads(out.read_text())

    def buffer(self) -> str:
        """The visited file's buffer text."""
        text: str = self.eval_json("(buffer-substring-no-properties (point-min) (point-max))")
        return text

    def messages(self) -> str:
        """The *Messages* buffer."""
        text: str = self.eval_json('(with-current-buffer "*Messages*" (buffer-string))')
        return text

    # -- waiting for what a person would wait for -------------------------------------------

    def wait(self, condition: Callable[[], Any], what: str, timeout: float = 30) -> Any:
        """Poll ``condition`` until it holds; fail with the screen if it never does."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = condition()
            except (subprocess.CalledProcessError, OSError, ValueError):
                value = None
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"waited {timeout} s for {what}; the screen:\n{self.screen()}")
            time.sleep(0.05)

    def wait_screen(self, text: str, timeout: float = 30) -> str:
        """Wait until ``text`` is on the screen; the screen."""
        return str(self.wait(lambda: s if text in (s := self.screen()) else None, repr(text), timeout))

    def wait_message(self, text: str, timeout: float = 30) -> str:
        """Wait until ``text`` is in *Messages*; the messages."""
        return str(self.wait(lambda: m if text in (m := self.messages()) else None, repr(text), timeout))

    # -- a person's moves ---------------------------------------------------------------------

    def select_lines(self, first: int, last: int) -> None:
        """Select whole lines ``first``..``last`` (1-based) with the keyboard."""
        self.keys("M-<", *["C-n"] * (first - 1), "C-Space", *["C-n"] * (last - first + 1))
        self.wait(lambda: self.eval_json("(and (use-region-p) t)"), "the region to be active")

    def pick_code_action(self, title: str) -> None:
        """``M-x eglot-code-actions``, then choose ``title`` (completed with TAB)."""
        self.command("eglot-code-actions")
        self.wait_screen("Pick an action")
        self.type_in_minibuffer(title)
        self.keys("Tab")
        self.keys("Enter")

    def capture(self, name: str) -> str:
        """Keep what the screen shows as an artifact (in $CODESTRAL_SCREENSHOTS when set)."""
        text = self.screen()
        folder = Path(SCREENSHOTS) if SCREENSHOTS else self.work
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"emacs-{name}.txt").write_text(text)
        return text

    def close(self) -> None:
        """Quit Emacs (eglot shuts its servers down), then the tmux server."""
        try:
            subprocess.run(
                [self.emacsclient, "-s", str(self.work / "sockets" / "driver"), "--eval",
                 "(progn (ignore-errors (eglot-shutdown-all)) (kill-emacs 0))"],
                env=self.env, capture_output=True, timeout=30, check=False,
            )  # fmt: skip
        finally:
            subprocess.run(
                [self.tmux, "-L", self.socket, "kill-server"], env=self.env, capture_output=True, timeout=30
            )
