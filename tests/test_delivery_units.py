"""The pure pieces behind kept answers, generated tests and usage."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from codestral_lsp.api.types import Usage
from codestral_lsp.delivery import has_prose
from codestral_lsp.private_files import suffix_for, write_private
from codestral_lsp.project_files import ProjectFileError, check_inside, create_new, real
from codestral_lsp.settings import Price
from codestral_lsp.usage import UsageTotals, describe_tokens


def test_prose_is_what_an_answer_says_besides_its_code() -> None:
    code = "x = 1\n"
    assert not has_prose("```python\nx = 1\n```", code)
    assert not has_prose("x = 1\n", code)
    assert has_prose("Here:\n```python\nx = 1\n```\nDone.", code)
    assert has_prose("```python\nx = 1\n```\r\n\r\nIt sets x.", code)


def test_a_kept_answer_gets_a_usable_short_extension(tmp_path: Path) -> None:
    assert suffix_for("file:///p/a.py") == ".py"
    assert suffix_for("file:///p/a." + "x" * 200, "python") == ".py"
    assert suffix_for("file:///p/a." + "x" * 200) == ".txt"
    assert suffix_for("untitled:Untitled-1", "rust") == ".rs"
    path = write_private(tmp_path, "ü" * 300, "." + "y" * 300, "kept")
    assert path.read_text() == "kept" and path.suffix == ".txt" and len(path.name) < 100


def test_creating_never_replaces_and_never_leaves_the_workspace(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    (workspace / "tests").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", workspace / "linked")
    with pytest.raises(ProjectFileError, match="outside your workspace"):
        check_inside(workspace / "linked" / "test_a.py", [real(workspace)], "linked/test_a.py")
    target = check_inside(workspace / "tests" / "deep" / "test_a.py", [real(workspace)], "t")
    create_new(target, "one", "t")
    assert target.read_text() == "one"
    with pytest.raises(ProjectFileError, match="did not overwrite"):
        create_new(target, "two", "t")
    assert target.read_text() == "one"


def test_usage_counts_each_kind_and_marks_estimates() -> None:
    totals = UsageTotals()
    price = Price(input=0.3, output=0.9)
    totals.add(Usage(100, 10), price, estimated=False)
    totals.add(Usage(50, 5), price, estimated=False, kind="completion")
    totals.add(Usage(80, 1), price, estimated=True, kind="unfinished")
    result = totals.as_result()
    assert (result["requests"], result["actions"], result["inlineCompletions"]) == (3, 1, 1)
    assert (result["unfinishedActions"], result["estimatedRequests"], result["tokensEstimated"]) == (
        1,
        1,
        True,
    )
    assert result["totalTokens"] == 246
    assert describe_tokens(Usage(1, 0), 0.0, estimated=True) == "about 1 token, estimated"
    assert describe_tokens(Usage(1000, 234), 0.0012, estimated=False) == "1,234 tokens, $0.0012"
