"""Generate tests, end to end: where the file goes, in every kind of client, and what is refused.

A repository can hold symbolic links, FIFOs and odd layouts; the server writes only inside the
workspace folders (real paths), reads only regular files, and never blocks on one.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from codestral_lsp import placement
from codestral_lsp.project_files import ProjectFileError, is_inside, read_regular
from hypothesis import given
from hypothesis import strategies as st
from lsprotocol import types

from fake_codestral import FakeCodestral, Script
from tests.editor import Editor, lsp_range, start_editor

CODE = "def add(a, b):\n    return a + b\n"
TESTS = "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"
ANSWER = f"Here are tests for `add`:\n\n```python\n{TESTS}```\n\nRun them with pytest."

SHOW = types.WindowClientCapabilities(show_document=types.ShowDocumentClientCapabilities(support=True))
# What Neovim 0.11/0.12 declares: documentChanges, but no resource operations.
NEOVIM = types.ClientCapabilities(
    workspace=types.WorkspaceClientCapabilities(
        apply_edit=True,
        workspace_edit=types.WorkspaceEditClientCapabilities(document_changes=True, resource_operations=[]),
    ),
    window=SHOW,
)
# What eglot 1.9 declares: plain `changes` only.
EGLOT = types.ClientCapabilities(workspace=types.WorkspaceClientCapabilities(apply_edit=True), window=SHOW)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "project"
    path.mkdir(exist_ok=True)
    return path


async def generate(editor: Editor, uri: str, answer: str = ANSWER) -> dict[str, Any]:
    """Generate tests for the whole document (bounded in time: a hung server fails the test)."""
    editor.fake.enqueue(Script(text=answer))
    lines = editor.text(uri).count("\n")
    result: dict[str, Any] = await asyncio.wait_for(
        editor.run("codestral.tests", {"uri": uri, "range": lsp_range(0, 0, lines, 0)}), 60
    )
    return result


@pytest.mark.parametrize("capabilities", [NEOVIM, EGLOT], ids=["neovim", "eglot-1.9"])
async def test_a_client_that_cannot_create_files_still_gets_the_new_test_file(
    start_session: Callable[..., Awaitable[Editor]], folder: Path, capabilities: types.ClientCapabilities
) -> None:
    (folder / "tests").mkdir()
    editor = await start_session(capabilities=capabilities)
    uri = editor.open("calc.py", CODE)
    result = await generate(editor, uri)
    target = folder / "tests" / "test_calc.py"
    assert result["status"] == "applied", result["message"]
    assert result["message"] == "tests written to the new file tests/test_calc.py"
    assert target.read_text() == TESTS
    assert [d.uri for d in editor.client.shown_documents] == [target.as_uri()]
    assert editor.text(uri) == CODE


@pytest.mark.parametrize("capabilities", [NEOVIM, EGLOT], ids=["neovim", "eglot-1.9"])
async def test_a_client_without_resource_operations_appends_to_an_existing_test_file(
    start_session: Callable[..., Awaitable[Editor]], folder: Path, capabilities: types.ClientCapabilities
) -> None:
    existing = "import calc\n\n\ndef test_old():\n    assert calc\n"
    (folder / "tests").mkdir()
    (folder / "tests" / "test_calc.py").write_text(existing)
    editor = await start_session(capabilities=capabilities)
    uri = editor.open("calc.py", CODE)
    result = await generate(editor, uri)
    assert result["status"] == "applied" and result["message"] == "tests added to tests/test_calc.py"
    assert (folder / "tests" / "test_calc.py").read_text() == existing + "\n\n" + TESTS
    [applied] = editor.edits
    if capabilities is EGLOT:
        assert applied.edit.document_changes is None and applied.edit.changes is not None


async def test_appending_after_an_emoji_lands_at_the_true_end_of_the_file(
    start_session: Callable[..., Awaitable[Editor]], folder: Path
) -> None:
    # The last line has astral characters (two UTF-16 units each) and no final newline.
    existing = 'def test_greeting():\n    assert greet() == "😀😀 hi"'
    (folder / "tests").mkdir()
    (folder / "tests" / "test_calc.py").write_text(existing)
    editor = await start_session()
    uri = editor.open("calc.py", CODE)
    result = await generate(editor, uri)
    assert result["status"] == "applied"
    assert (folder / "tests" / "test_calc.py").read_text() == existing + "\n\n\n" + TESTS


async def test_a_tests_folder_linked_outside_the_workspace_is_not_written_to(
    start_session: Callable[..., Awaitable[Editor]], folder: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (folder / "tests").symlink_to(elsewhere)  # as committed in a cloned repository
    editor = await start_session()
    uri = editor.open("calc.py", CODE)
    result = await generate(editor, uri)
    assert result["status"] == "kept"
    assert "outside your workspace" in result["message"] and "did not touch it" in result["message"]
    assert list(elsewhere.iterdir()) == []
    assert Path(result["answerUri"].removeprefix("file://")).read_text() == TESTS  # the tests are kept


async def test_a_test_file_linked_to_a_file_of_the_user_is_not_appended_to(
    start_session: Callable[..., Awaitable[Editor]], folder: Path, tmp_path: Path
) -> None:
    bashrc = tmp_path / "home" / ".bashrc"
    bashrc.parent.mkdir()
    bashrc.write_text("export PATH=$HOME/bin:$PATH\n")
    (folder / "tests").mkdir()
    (folder / "tests" / "test_calc.py").symlink_to(bashrc)
    editor = await start_session()
    uri = editor.open("calc.py", CODE)
    result = await generate(editor, uri)
    assert result["status"] == "kept" and "outside your workspace" in result["message"]
    assert bashrc.read_text() == "export PATH=$HOME/bin:$PATH\n"
    assert editor.edits == []


async def test_a_fifo_as_test_file_neither_hangs_the_server_nor_is_written(
    start_session: Callable[..., Awaitable[Editor]], folder: Path
) -> None:
    (folder / "tests").mkdir()
    os.mkfifo(folder / "tests" / "test_calc.py")
    editor = await start_session()
    uri = editor.open("calc.py", CODE)
    result = await generate(editor, uri)  # bounded: a server blocked on the FIFO fails here
    assert result["status"] == "kept" and "not a regular file" in result["message"]
    assert editor.edits == []
    assert (await editor.run("codestral.status"))["runningJobs"] == 0  # and it keeps serving


async def test_a_test_file_linked_to_a_device_is_refused(
    start_session: Callable[..., Awaitable[Editor]], folder: Path
) -> None:
    (folder / "tests").mkdir()
    (folder / "tests" / "test_calc.py").symlink_to("/dev/zero")
    editor = await start_session()
    uri = editor.open("calc.py", CODE)
    result = await generate(editor, uri)
    assert result["status"] == "kept" and editor.edits == []


async def test_the_java_rule_applies_below_the_workspace_only(fake: FakeCodestral, tmp_path: Path) -> None:
    # A workspace that itself lies under …/src/main/…: its files are not moved to …/src/test/….
    folder = tmp_path / "src" / "main" / "proj"
    folder.mkdir(parents=True)
    editor = await start_editor(fake, folder, tmp_path / "state")
    try:
        uri = editor.open("Calc.java", "class Calc {}\n", language="java")
        result = await generate(editor, uri, "```java\nclass CalcTest {}\n```")
        assert result["status"] == "applied"
        assert (folder / "CalcTest.java").read_text() == "class CalcTest {}\n"
        assert not (tmp_path / "src" / "test").exists()
        uri = editor.open("src/main/java/Calc.java", "class Calc {}\n", language="java")
        await generate(editor, uri, "```java\nclass CalcTest {}\n```")
        assert (folder / "src" / "test" / "java" / "CalcTest.java").exists()
    finally:
        await editor.client.shutdown_session()
        await editor.client.stop()


async def test_a_document_outside_the_workspace_gets_its_tests_beside_it(
    start_session: Callable[..., Awaitable[Editor]], folder: Path, tmp_path: Path
) -> None:
    (tmp_path / "tests").mkdir()  # a tests folder above the document, outside the workspace
    editor = await start_session()
    uri = editor.open(str(tmp_path / "outside" / "calc.py"), CODE)
    result = await generate(editor, uri)
    assert result["status"] == "applied"
    assert (tmp_path / "outside" / "test_calc.py").read_text() == TESTS
    assert list((tmp_path / "tests").iterdir()) == []


async def test_generated_tests_the_editor_declines_are_kept_and_said(
    start_session: Callable[..., Awaitable[Editor]], folder: Path
) -> None:
    editor = await start_session()
    editor.refuse_edits, editor.refuse_reason = True, None
    uri = editor.open("calc.py", CODE)
    result = await generate(editor, uri)
    assert result["status"] == "kept"
    [warning] = editor.message_texts(types.MessageType.Warning)
    assert warning.startswith(
        "The editor did not create test_calc.py; nothing was changed. The proposed code is open beside yours"
    )
    assert Path(result["answerUri"].removeprefix("file://")).read_text() == TESTS
    assert Path(result["fullAnswerUri"].removeprefix("file://")).read_text() == ANSWER
    assert not (folder / "test_calc.py").exists()


# -- the pure pieces -----------------------------------------------------------------------------


def test_placement_never_looks_above_the_workspace(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    root = tmp_path / "ws"
    (root / "pkg").mkdir(parents=True)
    assert placement.test_file_for(root / "pkg" / "m.py", "python", root) == root / "pkg" / "test_m.py"
    (root / "tests").mkdir()
    assert placement.test_file_for(root / "pkg" / "m.py", "python", root) == root / "tests" / "test_m.py"
    outside = tmp_path / "other" / "m.py"
    assert placement.test_file_for(outside, "python", None) == tmp_path / "other" / "test_m.py"


def test_the_java_rule_is_relative_to_the_root() -> None:
    root = Path("/w/src/main/proj")
    assert placement.test_file_for(root / "A.java", "java", root) == root / "ATest.java"
    assert placement.test_file_for(root / "src/main/x/A.java", "java", root) == root / "src/test/x/ATest.java"
    assert placement.test_file_for(Path("/o/src/main/A.java"), "java", None) == Path("/o/src/main/ATest.java")


def test_reading_is_bounded_and_refuses_what_is_not_a_regular_file(tmp_path: Path) -> None:
    big = tmp_path / "big.py"
    big.write_bytes(b"x" * 101)
    with pytest.raises(ProjectFileError, match="larger than"):
        read_regular(big, "big.py", limit=100)
    assert read_regular(big, "big.py", limit=101) == "x" * 101
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(ProjectFileError, match="not a regular file"):
        read_regular(tmp_path / "fifo", "fifo")
    with pytest.raises(ProjectFileError, match="not a regular file"):
        read_regular(Path("/dev/zero"), "zero")


@given(
    parts=st.lists(st.sampled_from(["src", "main", "test", "tests", "java", "pkg"]), max_size=6),
    language=st.sampled_from(["python", "java", "kotlin", "rust", "go", "typescript", "", "zig"]),
    suffix=st.sampled_from([".py", ".java", ".kt", ".rs", ".go", ".ts", ".zig"]),
)
def test_placement_always_stays_below_the_root(parts: list[str], language: str, suffix: str) -> None:
    root = Path("/nonexistent/src/main/root")  # a root that itself matches the Java rule
    source = root.joinpath(*parts, f"m{suffix}")
    target = placement.test_file_for(source, language, root)
    assert is_inside(target, root) and target != source
