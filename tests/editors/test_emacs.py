"""codestral.el with eglot, in a real ``emacs -nw`` driven by keys, against the fake Codestral.

The user's own server (``ruff server``) runs beside codestral-lsp through ``rass``, as the
README sets it up. Each test types what a person types and checks what that person sees.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from codestral_lsp.placement import test_file_for as expected_test_file

from fake_codestral import FakeCodestral, Gate, Script
from tests.conftest import CANARY_KEY
from tests.editors.emacs_session import EmacsSession

SOURCE = """import math


class Shapes:
    def area(self, r):
        pi = 3.14
        result = pi * r * r
        return result

    def name(self):
        label = "circle"
        return lable
"""
REFACTORED = "        result = math.pi * r ** 2\n        return result\n"
AFTER_REFACTOR = SOURCE.replace(
    "        pi = 3.14\n        result = pi * r * r\n        return result\n", REFACTORED
)
DIAGNOSTICS = "(mapcar #'flymake-diagnostic-text (flymake-diagnostics))"
REFACTOR_ANSWER = f"```python\n    def area(self, r):\n{REFACTORED}```"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A git project holding shapes.py."""
    root = tmp_path / "project"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True, timeout=30)
    (root / "shapes.py").write_text(SOURCE)
    return root


@pytest.fixture
def emacs(fake: FakeCodestral, project: Path) -> Iterator[EmacsSession]:
    """Emacs on shapes.py, connected (ruff + codestral-lsp through rass)."""
    session = EmacsSession(project, project / "shapes.py", fake.environment(CANARY_KEY))
    try:
        yield session
    finally:
        session.close()


def last_user_message(fake: FakeCodestral) -> str:
    request = fake.completion_requests()[-1]
    content: str = request.body["messages"][-1]["content"]
    return content


def test_refactor_from_the_menu_lands_and_settings_set_after_require_apply(
    fake: FakeCodestral, emacs: EmacsSession, project: Path
) -> None:
    fake.enqueue(Script(text=REFACTOR_ANSWER))
    emacs.select_lines(5, 8)
    emacs.pick_code_action("Codestral: Refactor")
    emacs.wait(lambda: emacs.buffer() == AFTER_REFACTOR, "the refactoring to land")
    emacs.wait_message("applied")
    emacs.capture("refactor")
    [request] = fake.completion_requests()
    assert request.body["model"] == "codestral-2501"  # set with setq after (require 'codestral)
    assert "prediction" in request.body
    assert "Timed out" not in emacs.messages()


def test_ruff_runs_beside_and_fix_is_offered_for_its_diagnostic(
    fake: FakeCodestral, emacs: EmacsSession
) -> None:
    diagnostics = emacs.wait(
        lambda: emacs.eval_json(DIAGNOSTICS),
        "ruff's diagnostics",
    )
    assert any("Undefined name `lable`" in d for d in diagnostics), diagnostics
    fake.enqueue(Script(text="```python\n        return label\n```"))
    emacs.keys("M-<", *["C-n"] * 11)  # the cursor on ruff's F821 line, no selection
    emacs.command("eglot-code-actions")
    emacs.wait_screen("Pick an action")
    emacs.keys("Tab")  # the menu, as a person lists it
    menu = emacs.wait_screen("Codestral: Fix")
    emacs.capture("menu-with-ruff")
    assert "Ruff: " in menu
    emacs.type_in_minibuffer("Codestral: Fix")
    emacs.keys("Tab", "Enter")
    emacs.wait(lambda: emacs.buffer() == SOURCE.replace("return lable", "return label"), "the fix to land")
    assert "Undefined name `lable`" in last_user_message(fake)


def test_explain_from_the_menu_shows_rendered_wrapped_markdown(
    fake: FakeCodestral, emacs: EmacsSession
) -> None:
    explanation = "## Area\n\nComputes **the area** of a circle.\n\n```python\nresult = pi * r * r\n```\n"
    fake.enqueue(Script(text=explanation))
    emacs.select_lines(5, 8)
    emacs.pick_code_action("Codestral: Explain")
    emacs.wait_screen("Computes")
    emacs.capture("explain")
    shown = emacs.eval_json(
        '(with-current-buffer "*Codestral*"'
        " (list (buffer-string) (symbol-name major-mode) (and visual-line-mode t)"
        ' (and (locate-library "markdown-mode") t)))'
    )
    text, mode, wrapped, has_markdown_mode = shown
    assert "Computes **the area** of a circle." in text
    assert wrapped is True
    assert mode == ("gfm-view-mode" if has_markdown_mode else "text-mode")
    assert emacs.buffer() == SOURCE


def test_edit_with_instruction_from_the_menu_asks_for_it(fake: FakeCodestral, emacs: EmacsSession) -> None:
    fake.enqueue(Script(text=f"```python\n{REFACTORED}```"))
    emacs.select_lines(7, 8)
    emacs.pick_code_action("Codestral: Edit with instruction")
    emacs.wait_screen("instruction:")
    emacs.type("use math.pi")
    emacs.keys("Enter")
    expected = SOURCE.replace("        result = pi * r * r\n", "        result = math.pi * r ** 2\n")
    emacs.wait(lambda: emacs.buffer() == expected, "the edit to land")
    assert "use math.pi" in last_user_message(fake)


def test_every_range_command_from_m_x(fake: FakeCodestral, emacs: EmacsSession, project: Path) -> None:
    # Edit with the instruction typed at its prompt
    fake.enqueue(Script(text=REFACTOR_ANSWER))
    emacs.select_lines(5, 8)
    emacs.command("codestral-edit")
    emacs.wait_screen("instruction:")
    emacs.type("use math.pi")
    emacs.keys("Enter")
    emacs.wait(lambda: emacs.buffer() == AFTER_REFACTOR, "codestral-edit to land")
    assert "use math.pi" in last_user_message(fake)

    # Edit with no instruction: nothing is sent, and the user is told so
    sent = len(fake.completion_requests())
    emacs.select_lines(5, 8)
    emacs.command("codestral-edit")
    emacs.wait_screen("instruction:")
    emacs.keys("Enter")
    emacs.wait_message("no instruction given; nothing was sent")
    assert len(fake.completion_requests()) == sent

    # Document
    documented = '        """The area of a circle of radius r."""\n'
    fake.enqueue(Script(text=f"```python\n    def area(self, r):\n{documented}{REFACTORED}```"))
    emacs.select_lines(5, 7)
    emacs.command("codestral-document")
    emacs.wait(lambda: documented in emacs.buffer(), "codestral-document to land")

    # Fix (ruff's diagnostics on the selected lines go along), Explain, Refactor
    fake.enqueue(Script(text='```python\n        label = "circle"\n        return label\n```'))
    emacs.wait(
        lambda: any("lable" in d for d in emacs.eval_json(DIAGNOSTICS) or []),
        "ruff's diagnostic on the edited buffer",
    )
    emacs.select_lines(11, 12)
    emacs.command("codestral-fix")
    emacs.wait(lambda: "return label" in emacs.buffer(), "codestral-fix to land")
    assert "Undefined name `lable`" in last_user_message(fake)

    fake.enqueue(Script(text="It returns the name.\n"))
    emacs.select_lines(10, 12)
    emacs.command("codestral-explain")
    emacs.wait_screen("It returns the name.")

    fake.enqueue(Script(text='```python\n    def name(self):\n        return "circle"\n```'))
    emacs.keys("C-x", "1")
    emacs.select_lines(10, 12)
    emacs.command("codestral-refactor")
    emacs.wait(lambda: "label" not in emacs.buffer(), "codestral-refactor to land")
    emacs.wait_message("applied")
    emacs.capture("commands")
    assert emacs.buffer() == AFTER_REFACTOR.replace(
        "    def area(self, r):\n", "    def area(self, r):\n" + documented
    ).replace('        label = "circle"\n        return lable\n', '        return "circle"\n')


def test_generated_tests_land_in_the_project(fake: FakeCodestral, emacs: EmacsSession, project: Path) -> None:
    tests = "import shapes\n\n\ndef test_area():\n    assert shapes.Shapes().area(1) > 3\n"
    fake.enqueue(Script(text=f"```python\n{tests}```"))
    emacs.select_lines(5, 8)
    emacs.command("codestral-tests")
    target = expected_test_file(project / "shapes.py", "python", project)
    emacs.wait(lambda: target.exists() and "def test_area" in target.read_text(), f"{target} to be written")
    emacs.wait_screen("def test_area")  # opened for the user
    emacs.capture("tests")
    assert emacs.buffer() == SOURCE


def test_a_slow_answer_leaves_emacs_responsive(fake: FakeCodestral, emacs: EmacsSession) -> None:
    gate = Gate()
    fake.enqueue(Script(text=REFACTOR_ANSWER, chunk_size=8, hold_after_chunks=1, gate=gate))
    emacs.select_lines(5, 8)
    emacs.pick_code_action("Codestral: Refactor")
    assert gate.reached.wait(30)
    emacs.wait_screen("Codestral: Refactor")  # the streaming progress, in the mode line
    assert emacs.eval_json(MARKED_LINES) == [5, 6, 7, 8]  # the code being rewritten is marked
    emacs.keys("M->")
    emacs.type("# typed while waiting\n")
    emacs.wait(lambda: "# typed while waiting" in emacs.buffer(), "the typed text, while the answer waits")
    # eglot tells servers about changes after 0.5 s idle; an answer that came sooner would be
    # kept, not applied (the version guard): wait until the server knows about the typing
    emacs.wait(lambda: emacs.eval_json("(null eglot--recent-changes)"), "eglot to send the typing")
    emacs.capture("slow-progress")
    gate.open()
    emacs.wait(lambda: REFACTORED in emacs.buffer(), "the refactoring to land after the wait")
    assert emacs.buffer() == AFTER_REFACTOR + "# typed while waiting\n"
    assert not emacs.eval_json(MARKED_LINES)
    messages = emacs.messages()
    assert "Timed out" not in messages and "failed" not in messages


def test_cancel_stops_the_running_action(fake: FakeCodestral, emacs: EmacsSession) -> None:
    gate = Gate()
    fake.enqueue(Script(text=REFACTOR_ANSWER, hold_after_chunks=1, gate=gate))
    emacs.select_lines(5, 8)
    emacs.command("codestral-refactor")
    assert gate.reached.wait(30)
    emacs.wait_screen("Codestral: Refactor")
    emacs.command("codestral-cancel")
    emacs.wait_message("cancelled 1 action(s)")
    emacs.wait_message("nothing was changed")
    emacs.wait(lambda: "Codestral: Refactor" not in emacs.screen().splitlines()[-2], "the progress to end")
    emacs.capture("cancel")
    assert fake.completion_requests()[-1].disconnected.wait(30)
    assert emacs.buffer() == SOURCE


def test_declining_the_edit_keeps_the_answer(fake: FakeCodestral, project: Path) -> None:
    from tests.editors.emacs_session import INIT

    init = INIT + "(setq eglot-confirm-server-initiated-edits 'confirm)\n"
    session = EmacsSession(project, project / "shapes.py", fake.environment(CANARY_KEY), init)
    try:
        fake.enqueue(Script(text=REFACTOR_ANSWER))
        session.select_lines(5, 8)
        session.pick_code_action("Codestral: Refactor")
        session.wait_screen("Proceed?")
        session.capture("decline-prompt")
        session.keys("n")
        messages = session.wait_message("not apply")
        session.capture("decline")
        assert "unexpectedly" not in messages and "report it" not in messages
        assert session.buffer() == SOURCE
        kept = session.eval_json(
            "(cl-loop for b in (buffer-list) when (and (buffer-file-name b)"
            ' (string-match-p "answer" (buffer-file-name b)))'
            " return (with-current-buffer b (buffer-string)))"
        )
        assert kept and "math.pi * r ** 2" in kept
    finally:
        session.close()


def test_an_unreachable_codestral_is_a_plain_sentence(fake: FakeCodestral, project: Path) -> None:
    env = fake.environment(CANARY_KEY)
    env["CODESTRAL_BASE_URL"] = "http://127.0.0.1:9"  # nothing listens on the discard port
    session = EmacsSession(project, project / "shapes.py", env)
    try:
        session.select_lines(5, 8)
        session.pick_code_action("Codestral: Refactor")
        messages = session.wait_message("Refactor failed", timeout=90)
        session.capture("unreachable")
        assert "Traceback" not in messages and "unexpectedly" not in messages
        session.keys("M->")
        session.type("# still typing\n")
        session.wait(lambda: session.buffer() == SOURCE + "# still typing\n", "Emacs to take keys")
    finally:
        session.close()


@pytest.mark.parametrize(
    ("setting", "warning"),
    [
        ('(setq codestral-multiplexer-command (list "rass-is-not-installed"))', "pip install rassumfrassum"),
        ('(setq codestral-server-command (list "codestral-lsp-is-not-installed"))', "was not found"),
    ],
    ids=["no-rass", "no-codestral-lsp"],
)
def test_without_rass_or_the_server_the_users_own_server_still_runs(
    fake: FakeCodestral, project: Path, setting: str, warning: str
) -> None:
    from tests.editors.emacs_session import INIT

    init = INIT + setting + "\n"
    session = EmacsSession(project, project / "shapes.py", fake.environment(CANARY_KEY), init)
    try:
        diagnostics = session.wait(
            lambda: session.eval_json(DIAGNOSTICS),
            "ruff's diagnostics",
        )
        assert any("Undefined name `lable`" in d for d in diagnostics), diagnostics
        warnings = session.eval_json('(with-current-buffer "*Warnings*" (buffer-string))')
        assert warning in warnings
        session.capture("without-rass" if "rass" in warning else "without-codestral-lsp")
    finally:
        session.close()


def test_a_newcomer_without_a_python_server_gets_codestral_alone(fake: FakeCodestral, project: Path) -> None:
    from tests.editors.emacs_session import INIT

    users_server = """(with-eval-after-load 'eglot
  (add-to-list 'eglot-server-programs '(python-mode "ruff" "server")))"""
    assert users_server in INIT
    # eglot's own choices for Python (pylsp, pyright, jedi) are not installed here
    session = EmacsSession(
        project, project / "shapes.py", fake.environment(CANARY_KEY), INIT.replace(users_server, "")
    )
    try:
        fake.enqueue(Script(text=REFACTOR_ANSWER))
        session.select_lines(5, 8)
        session.pick_code_action("Codestral: Refactor")
        session.wait(lambda: session.buffer() == AFTER_REFACTOR, "the refactoring to land")
    finally:
        session.close()


def test_review_findings_are_flymake_diagnostics_with_fix_this(fake: FakeCodestral, emacs: EmacsSession) -> None:
    finding = '{"findings": [{"line": 6, "severity": "warning", "message": "Use math.pi, not 3.14."}]}'
    fake.enqueue(Script(text=finding))
    emacs.select_lines(5, 8)
    emacs.pick_code_action("Codestral: Review")
    emacs.wait(lambda: "codestral: Use math.pi, not 3.14." in (emacs.eval_json(DIAGNOSTICS) or []), "the finding")
    emacs.capture("review")
    emacs.keys("C-g", "M-<", *["C-n"] * 5, "M-m")  # the cursor on the finding, in line 6's code
    fake.enqueue(Script(text="```python\n        pi = math.pi\n```"))
    emacs.pick_code_action("Codestral: Fix this")
    emacs.wait(lambda: "pi = math.pi" in emacs.buffer(), "the fix to land")
    assert emacs.buffer() == SOURCE.replace("pi = 3.14", "pi = math.pi")
    assert "Use math.pi, not 3.14." in last_user_message(fake)
    emacs.wait(lambda: "codestral: Use math.pi, not 3.14." not in (emacs.eval_json(DIAGNOSTICS) or []), "the finding to go")


# -- Reviewing a proposal before it lands (issue #13) -------------------------------------------

REVIEW_BUFFER = (
    "(cl-loop for b in (buffer-list) when (with-current-buffer b (derived-mode-p 'codestral-review-mode))"
    " return (with-current-buffer b (list (buffer-string) (and (derived-mode-p 'diff-mode) t)"
    " (format-mode-line header-line-format nil (get-buffer-window b t) b) (and (get-buffer-window b) t))))"
)
HIGHLIGHTED_LINES = (
    "(cl-loop for o in (overlays-in (point-min) (point-max)) when (overlay-get o 'codestral-applied)"
    " append (number-sequence (line-number-at-pos (overlay-start o)) (1- (line-number-at-pos (overlay-end o)))))"
)
MARKED_LINES = HIGHLIGHTED_LINES.replace("codestral-applied", "codestral-streaming")
OPEN_PROPOSALS = (
    "(plist-get (jsonrpc-request (eglot-current-server) :workspace/executeCommand"
    " '(:command \"codestral.status\" :arguments [])) :openProposals)"
)
KEYS = "C-c C-c accept  C-c C-k reject  C-c C-r retry"


def reviewing_session(fake: FakeCodestral, project: Path, extra: str = "") -> EmacsSession:
    """Emacs with the default review setting (auto), eglot confirming server edits as by default."""
    from tests.editors.emacs_session import REVIEW_INIT

    init = REVIEW_INIT + "(setq codestral-applied-highlight-seconds 60)\n" + extra
    return EmacsSession(project, project / "shapes.py", fake.environment(CANARY_KEY), init)


@pytest.fixture
def reviewing(fake: FakeCodestral, project: Path) -> Iterator[EmacsSession]:
    """Emacs on shapes.py whose rewrites are proposed for review first."""
    session = reviewing_session(fake, project)
    try:
        yield session
    finally:
        session.close()


def propose_refactor(fake: FakeCodestral, emacs: EmacsSession) -> str:
    """Refactor lines 5-8 from the menu; wait for the review; its diff."""
    fake.enqueue(Script(text=REFACTOR_ANSWER))
    emacs.select_lines(5, 8)
    emacs.pick_code_action("Codestral: Refactor")
    emacs.wait_screen(KEYS)
    review = emacs.wait(lambda: emacs.eval_json(REVIEW_BUFFER), "the review buffer")
    diff, is_diff_mode, header, shown = review
    assert is_diff_mode and shown
    assert "Refactor proposes" in header and KEYS in header
    assert emacs.buffer() == SOURCE  # nothing lands before the user says so
    return str(diff)


def test_review_shows_the_diff_and_accept_applies_it(fake: FakeCodestral, reviewing: EmacsSession) -> None:
    diff = propose_refactor(fake, reviewing)
    reviewing.capture("review-proposal")
    assert "+++ b/shapes.py" in diff and "@@ -5," in diff
    assert "-        pi = 3.14\n" in diff and "+        result = math.pi * r ** 2\n" in diff
    reviewing.keys("C-c", "C-c")
    reviewing.wait(lambda: reviewing.buffer() == AFTER_REFACTOR, "the accepted proposal to land")
    reviewing.wait_message("applied")
    assert "Proceed?" not in reviewing.screen()  # accepted once, not asked again by eglot
    assert reviewing.eval_json(REVIEW_BUFFER) is None  # the review is closed
    assert reviewing.wait(lambda: reviewing.eval_json(HIGHLIGHTED_LINES), "the highlight") == [6]
    reviewing.keys("C-x", "u")  # back in the code (the review's window is gone): one undo reverts it
    reviewing.wait(lambda: reviewing.buffer() == SOURCE, "the undo")


def test_review_accept_after_typing_above_the_code_lands_right(
    fake: FakeCodestral, reviewing: EmacsSession
) -> None:
    propose_refactor(fake, reviewing)
    reviewing.keys("C-x", "o", "M-<")  # back to the code, typing above the proposal's lines
    reviewing.type("# note\n")
    reviewing.wait(lambda: reviewing.buffer() == "# note\n" + SOURCE, "the typing")
    reviewing.keys("C-x", "o", "C-c", "C-c")
    reviewing.wait(lambda: reviewing.buffer() == "# note\n" + AFTER_REFACTOR, "the proposal to land below the note")
    reviewing.wait_message("applied")


def test_review_accept_after_typing_inside_is_refused_and_keeps_the_answer(
    fake: FakeCodestral, reviewing: EmacsSession
) -> None:
    propose_refactor(fake, reviewing)
    reviewing.keys("C-x", "o", "M-<", *["C-n"] * 5, "C-e")  # into the proposal's lines
    reviewing.type("16")
    changed = SOURCE.replace("pi = 3.14\n", "pi = 3.1416\n")
    reviewing.wait(lambda: reviewing.buffer() == changed, "the typing")
    reviewing.keys("C-x", "o", "C-c", "C-c")
    kept = reviewing.wait(
        lambda: reviewing.eval_json(
            "(cl-loop for b in (buffer-list) when (and (buffer-file-name b)"
            ' (string-match-p "answer" (buffer-file-name b)))'
            " return (with-current-buffer b (buffer-string)))"
        ),
        "the kept answer",
    )
    assert "math.pi * r ** 2" in kept
    reviewing.wait_message("Codestral: You edited the selected code after Codestral proposed its change")
    assert reviewing.buffer() == changed
    assert reviewing.eval_json(REVIEW_BUFFER) is None


def test_review_reject_changes_nothing(fake: FakeCodestral, reviewing: EmacsSession) -> None:
    propose_refactor(fake, reviewing)
    reviewing.keys("C-c", "C-k")
    reviewing.wait_message("rejected; nothing was changed")
    assert reviewing.eval_json(REVIEW_BUFFER) is None
    assert reviewing.buffer() == SOURCE
    assert reviewing.eval_json(OPEN_PROPOSALS) == 0

    propose_refactor(fake, reviewing)  # killing the review buffer rejects its proposal too
    reviewing.keys("C-x", "k")
    reviewing.wait_screen("Kill buffer")
    reviewing.keys("Enter")
    reviewing.wait(lambda: reviewing.eval_json(OPEN_PROPOSALS) == 0, "the proposal to be dropped")
    assert reviewing.eval_json(REVIEW_BUFFER) is None
    assert reviewing.buffer() == SOURCE


def test_review_retry_asks_again_with_the_instruction(fake: FakeCodestral, reviewing: EmacsSession) -> None:
    propose_refactor(fake, reviewing)
    gate = Gate()
    fake.enqueue(
        Script(
            text="```python\n    def area(self, r):\n        return math.tau * r * r / 2\n```",
            hold_after_chunks=1,
            gate=gate,
        )
    )
    reviewing.keys("C-c", "C-r")
    reviewing.wait_screen("ask again, with this change:")
    reviewing.type("use tau")
    reviewing.keys("Enter")
    assert gate.reached.wait(30)
    reviewing.wait_screen("asking again (use tau)")  # the review's header while the answer streams
    assert reviewing.eval_json(MARKED_LINES) == [5, 6, 7, 8]  # the code being rewritten is marked
    gate.open()
    diff = reviewing.wait(
        lambda: (r := reviewing.eval_json(REVIEW_BUFFER)) and "math.tau" in r[0] and r[0], "the revised proposal"
    )
    assert "+        return math.tau * r * r / 2\n" in diff
    reviewing.wait_screen(KEYS)
    prompt = fake.completion_requests()[-1].prompt_text()
    assert "use tau" in prompt and "math.pi * r ** 2" in prompt  # the instruction, and the answer it revises
    assert reviewing.buffer() == SOURCE
    reviewing.keys("C-c", "C-c")
    revised = SOURCE.replace(
        "        pi = 3.14\n        result = pi * r * r\n        return result\n",
        "        return math.tau * r * r / 2\n",
    )
    reviewing.wait(lambda: reviewing.buffer() == revised, "the revised proposal to land")
    assert not reviewing.eval_json(MARKED_LINES)  # and no longer marked


def test_review_expired_is_said_once_and_a_new_one_reuses_the_buffer(
    fake: FakeCodestral, project: Path
) -> None:
    expiring = "(setq codestral-settings (append codestral-settings '(:reviewExpirySeconds 5)))\n"
    session = reviewing_session(fake, project, expiring)
    try:
        propose_refactor(fake, session)
        said = "Codestral's Refactor proposal for shapes.py expired unanswered; nothing was changed."
        session.wait_message(said, timeout=40)
        session.wait_screen("this proposal expired unanswered")  # the review's header line
        session.keys("C-c", "C-c")  # too late: answered here, nothing sent
        session.wait_message("Codestral: this proposal expired unanswered; nothing was changed (q closes")
        assert session.messages().count(said) == 1
        assert session.buffer() == SOURCE
        assert session.eval_json(OPEN_PROPOSALS) == 0

        session.keys("C-x", "o")
        diff = propose_refactor(fake, session)  # in the same review buffer, with its keys again
        assert "+        result = math.pi * r ** 2\n" in diff
        reviews = "(cl-count-if (lambda (b) (string-prefix-p \"*codestral-review\" (buffer-name b))) (buffer-list))"
        assert session.eval_json(reviews) == 1
    finally:
        session.close()
