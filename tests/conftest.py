"""Shared fixtures: the fake Codestral, and the checks every test gets for free."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from fake_codestral import FakeCodestral

if TYPE_CHECKING:
    from tests.editor import Editor

# A canary key: tests assert it never shows up where a user (or a log) could see it.
CANARY_KEY = "canary-Zq7XbT1pLw9sEr4uVn2K"


@pytest.fixture
def fake(request: pytest.FixtureRequest) -> Iterator[FakeCodestral]:
    """A fresh fake Codestral on an ephemeral loopback port.

    Every request body is validated against the API's schemas; the test fails if the client
    sent something the real API would reject, unless marked ``allow_schema_errors``.
    """
    server = FakeCodestral().start()
    try:
        yield server
    finally:
        server.stop()
    if request.node.get_closest_marker("allow_schema_errors") is None:
        assert server.schema_errors() == [], "a request violated the API's schema"


@pytest.fixture
async def start_session(
    fake: FakeCodestral, tmp_path: Path
) -> AsyncIterator[Callable[..., Awaitable[Editor]]]:
    """Start the real server with a scripted editor (see ``tests.editor.start_editor``); every
    session started is shut down at the end of the test."""
    from tests.editor import start_editor

    sessions: list[Editor] = []
    folder = tmp_path / "project"
    folder.mkdir(exist_ok=True)

    async def start(**options: Any) -> Editor:
        session = await start_editor(fake, folder, tmp_path / "state", **options)
        sessions.append(session)
        return session

    yield start
    for session in sessions:
        await session.client.shutdown_session()
        await session.client.stop()


@pytest.fixture(autouse=True)
def no_key_in_output(capfd: pytest.CaptureFixture[str]) -> Iterator[None]:
    """Whatever a test, the server or the client printed never contains the key."""
    yield
    out, err = capfd.readouterr()
    sys.stdout.write(out)
    sys.stderr.write(err)
    assert CANARY_KEY not in out + err, "the API key appeared in the output"


def pytest_configure(config: pytest.Config) -> None:
    """Register the markers used here."""
    config.addinivalue_line("markers", "allow_schema_errors: the test sends invalid bodies on purpose")
    config.addinivalue_line(
        "markers", "selfhosted: against a real llama.cpp server (tests/test_selfhosted_llamacpp.py)"
    )
