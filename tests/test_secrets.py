"""The key never leaves where it belongs: not in LSP messages, logs, files or error text."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from lsprotocol import types

from tests.conftest import CANARY_KEY
from tests.editor import lsp_range, start_editor
from tests.fake_codestral import FakeCodestral, Script

CODE = "def f(x):\n    return x + 1\n"


async def test_the_key_appears_in_no_message_log_or_file(fake: FakeCodestral, tmp_path: Path) -> None:
    folder, state = tmp_path / "project", tmp_path / "state"
    folder.mkdir()
    log_file = tmp_path / "logs" / "server.log"
    editor = await start_editor(
        fake, folder, state, settings={"temperature": "hot"}, server_args=("-v", "--log-file", str(log_file))
    )
    try:
        uri = editor.open("f.py", CODE)
        whole = lsp_range(0, 0, 2, 0)
        fake.enqueue(
            Script(text="```python\ndef f(x):\n    return x + 2\n```"),
            Script(text="Adds one."),
            Script(
                status=401, body={"detail": f"Unauthorized: bad key {CANARY_KEY}"}
            ),  # a server echoing the key
            Script(status=429, headers={"retry-after": "0"}),
            Script(text="```python\ndef f(x):\n    return x + 3\n```", finish_reason="length"),
        )
        results = [
            await editor.run("codestral.refactor", {"uri": uri, "range": whole}),
            await editor.run("codestral.explain", {"uri": uri, "range": whole}),
            await editor.run("codestral.refactor", {"uri": uri, "range": whole}),
            await editor.run("codestral.refactor", {"uri": uri, "range": whole}),
        ]
        assert [r["status"] for r in results] == ["applied", "shown", "failed", "kept"]
        seen = json.dumps(
            {
                "results": results,
                "messages": [m.message for m in editor.client.messages],
                "logs": [m.message for m in editor.client.log_messages],
                "progress": [str(v) for values in editor.client.progress_reports.values() for v in values],
                "documents": [d.uri for d in editor.client.shown_documents],
                "edits": [str(e) for e in editor.edits],
            }
        )
        assert "rejected" in seen  # the 401 was reported...
        assert CANARY_KEY not in seen  # ...without the key
        assert all(r.authorization == f"Bearer {CANARY_KEY}" for r in fake.completion_requests())
    finally:
        await editor.client.shutdown_session()
        await editor.client.stop()
    written = [p for p in [log_file, *state.rglob("*")] if p.is_file()]
    assert len(written) >= 3  # the log, the explanation, the kept answer
    for path in written:
        assert CANARY_KEY not in path.read_text(errors="replace"), path
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert any(m.type == types.MessageType.Warning for m in editor.client.messages)


def test_logs_redact_a_key_that_slipped_into_a_message_or_traceback() -> None:
    import io
    import logging

    from codestral_lsp.logs import RedactSecrets, redact_also

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecrets([CANARY_KEY]))
    root = logging.getLogger()
    root.addHandler(handler)
    logger = logging.getLogger("test-redaction")
    try:
        logger.error("sending %s", CANARY_KEY)
        try:
            raise ValueError(f"header Bearer {CANARY_KEY}")
        except ValueError:
            logger.exception("request failed")
        redact_also("team-key-from-apiKeyEnv-123")  # a key named by the apiKeyEnv setting
        logger.error("using team-key-from-apiKeyEnv-123")
    finally:
        root.removeHandler(handler)
    text = stream.getvalue()
    assert CANARY_KEY not in text and "team-key-from-apiKeyEnv-123" not in text
    assert text.count("[redacted]") == 3 and "ValueError" in text
