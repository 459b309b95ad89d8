"""Running real editors in tests. In CI (``CI`` set) a missing editor is a failure, not a skip."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest


def require_tool(found: str | None, what: str) -> str:
    """Return the tool's path; skip the test locally without it, fail in CI."""
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing: .ci/run should have installed it")
    pytest.skip(f"{what} is not installed")


def run_driver(command: list[str], env: dict[str, str], cwd: Path, result_file: Path) -> dict[str, Any]:
    """Run an editor on a driver script that writes what a user would see to ``result_file``."""
    process = subprocess.run(
        command, env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
    assert result_file.exists(), f"the editor wrote no result:\n{process.stdout}\n{process.stderr}"
    result: dict[str, Any] = json.loads(result_file.read_text())
    assert "error" not in result, f"{result['error']}\n{process.stderr}"
    return result
