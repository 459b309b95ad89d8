"""Editor tests need their editor. In CI (``CI`` set) a missing one is a failure, not a skip."""

from __future__ import annotations

import os

import pytest


def require_tool(found: str | None, what: str) -> str:
    """Return the tool's path; skip the test locally without it, fail in CI."""
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing: .ci/run should have installed it")
    pytest.skip(f"{what} is not installed")
