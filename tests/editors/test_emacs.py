"""codestral.el with eglot, in real Emacs (batch), against the fake Codestral."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from tests.conftest import CANARY_KEY
from tests.editors.needs import require_tool, run_driver
from tests.editors.test_neovim import REFACTORED, SOURCE
from tests.fake_codestral import FakeCodestral, Script

ROOT = Path(__file__).resolve().parents[2]


def test_a_code_action_on_a_region_applies_the_edit(fake: FakeCodestral, tmp_path: Path) -> None:
    emacs = require_tool(shutil.which("emacs"), "emacs (apt-get install emacs-nox elpa-eglot)")
    source = tmp_path / "shapes.py"
    source.write_text(SOURCE)
    result_file = tmp_path / "result.json"
    fake.enqueue(Script(text=f"```python\n    def area(self, r):\n{REFACTORED}```"))
    env = fake.environment(
        CANARY_KEY,
        PLUGIN_DIR=str(ROOT / "editors" / "emacs"),
        PYTHON=sys.executable,
        FILE=str(source),
        RESULT_FILE=str(result_file),
        HOME=str(tmp_path),
    )
    command = [emacs, "--batch", "-l", str(Path(__file__).with_name("emacs_driver.el"))]
    result = run_driver(command, env, tmp_path, result_file)
    expected = SOURCE.replace(
        "        pi = 3.14\n        result = pi * r * r\n        return result\n", REFACTORED
    )
    assert result["buffer"] == expected
    assert source.read_text() == expected
    [request] = fake.completion_requests()
    assert request.body["prediction"]["content"] == "".join(SOURCE.splitlines(keepends=True)[4:8])
