"""The key never leaves where it belongs: not in LSP messages, logs, files or error text."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types

from fake_codestral import FakeCodestral, Script, environment_without_keys
from fake_codestral.server import DEFAULT_MODELS
from tests.conftest import CANARY_KEY
from tests.editor import Editor, lsp_range, start_editor

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


def everything_seen(editor: Editor, results: list[Any]) -> str:
    """All the editor was told or sent, as one text."""
    return json.dumps(
        {
            "results": results,
            "messages": [m.message for m in editor.client.messages],
            "logs": [m.message for m in editor.client.log_messages],
            "progress": [str(v) for values in editor.client.progress_reports.values() for v in values],
            "documents": [d.uri for d in editor.client.shown_documents],
            "edits": [str(e) for e in editor.edits],
            "texts": [d.text for d in editor.documents.values()],
        }
    )


def files_written(*roots: Path) -> list[Path]:
    return [p for root in roots for p in ([root] if root.is_file() else root.rglob("*")) if p.is_file()]


@pytest.fixture
def other_fake() -> Iterator[FakeCodestral]:
    """A second fake on another loopback port: a process the user's environment does not name."""
    server = FakeCodestral(api_key=CANARY_KEY).start()
    try:
        yield server
    finally:
        server.stop()


async def test_an_api_key_env_setting_may_name_only_variables_the_environment_allows(
    fake: FakeCodestral, start_session: Callable[..., Awaitable[Editor]]
) -> None:
    aws, team = "aws-secret-Hq83nVb20XkLp", "team-key-Rt5Yw8Qm1ZsDf"
    env = {"AWS_SECRET_ACCESS_KEY": aws, "TEAM_KEY": team, "CODESTRAL_KEY_VARS": "OTHER, TEAM_KEY"}
    editor = await start_session(settings={"apiKeyEnv": "AWS_SECRET_ACCESS_KEY"}, env=env)
    uri = editor.open("f.py", CODE)
    whole = lsp_range(0, 0, 2, 0)
    refused = await editor.run("codestral.explain", {"uri": uri, "range": whole})
    assert refused["status"] == "failed"
    assert "AWS_SECRET_ACCESS_KEY" in refused["message"] and "CODESTRAL_KEY_VARS" in refused["message"]
    assert fake.requests == []  # neither the code nor any key left
    editor.client.set_configuration({"apiKeyEnv": "sk-pasted-the-key-itself"}, section="codestral")
    editor.client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    await editor.sync()
    pasted = await editor.run("codestral.explain", {"uri": uri, "range": whole})
    assert pasted["status"] == "failed" and "not the key itself" in pasted["message"]
    assert "sk-pasted" not in pasted["message"] and fake.requests == []
    for name, value in [("TEAM_KEY", team), ("MISTRAL_API_KEY", None), ("CODESTRAL_API_KEY", CANARY_KEY)]:
        editor.client.set_configuration({"apiKeyEnv": name}, section="codestral")
        editor.client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
        await editor.sync()
        fake.enqueue(Script(text="Adds one."))
        assert (await editor.run("codestral.explain", {"uri": uri, "range": whole}))["status"] == "shown"
        expected = f"Bearer {value}" if value else None
        assert fake.completion_requests()[-1].authorization == expected, name
    assert aws not in everything_seen(editor, [refused])


async def test_a_loopback_base_url_from_settings_alone_gets_no_key(
    fake: FakeCodestral, other_fake: FakeCodestral, start_session: Callable[..., Awaitable[Editor]]
) -> None:
    whole = lsp_range(0, 0, 2, 0)
    editor = await start_session(settings={"baseUrl": other_fake.base_url})
    uri = editor.open("f.py", CODE)
    result = await editor.run("codestral.explain", {"uri": uri, "range": whole})
    assert len(other_fake.completion_requests()) == 1
    # whoever listens on that port got no key, from any request (the models list included)
    assert [r.authorization for r in other_fake.requests] == [None] * len(other_fake.requests)
    assert result["status"] == "failed" and "No API key was sent" in result["message"]
    origin = f"127.0.0.1:{other_fake.port}"
    assert origin in result["message"] and "CODESTRAL_TRUSTED_HOSTS" in result["message"]
    # Named by the environment (host and port), the same setting gets the key.
    trusted = await start_session(
        settings={"baseUrl": other_fake.base_url}, env={"CODESTRAL_TRUSTED_HOSTS": origin}
    )
    uri = trusted.open("g.py", CODE)
    other_fake.enqueue(Script(text="Adds one."))
    assert (await trusted.run("codestral.explain", {"uri": uri, "range": whole}))["status"] == "shown"
    assert other_fake.requests[-1].authorization == f"Bearer {CANARY_KEY}"
    assert fake.requests == []


async def test_an_api_server_echoing_the_key_is_redacted_from_everything(
    fake: FakeCodestral, tmp_path: Path
) -> None:
    folder, state = tmp_path / "project", tmp_path / "state"
    folder.mkdir()
    log_file = tmp_path / "logs" / "server.log"
    editor = await start_editor(fake, folder, state, server_args=("-v", "--log-file", str(log_file)))
    echo = f"invalid header 'Authorization: Bearer {CANARY_KEY}'"
    try:
        uri = editor.open("f.py", CODE)
        whole = lsp_range(0, 0, 2, 0)
        leaked_code = f"```python\ndef f(x):\n    return '{CANARY_KEY}'\n```"
        fake.enqueue(
            Script(status=400, body={"message": echo}),
            Script(status=403, body={"error": {"message": echo}}),  # not retried
            Script(text=f"Your key is {CANARY_KEY}."),
            Script(text=leaked_code, finish_reason="length"),
            Script(text=leaked_code),
        )
        results = [
            await editor.run("codestral.refactor", {"uri": uri, "range": whole}),
            await editor.run("codestral.refactor", {"uri": uri, "range": whole}),
            await editor.run("codestral.explain", {"uri": uri, "range": whole}),
            await editor.run("codestral.refactor", {"uri": uri, "range": whole}),
            await editor.run("codestral.refactor", {"uri": uri, "range": whole}),
        ]
        assert [r["status"] for r in results] == ["failed", "failed", "shown", "kept", "applied"]
        seen = everything_seen(editor, results)
        assert "Bearer [redacted]" in results[0]["message"]  # the server's words, without the key
        assert "Your key is [redacted]." in results[2]["markdown"]
        assert editor.text(uri) == "def f(x):\n    return '[redacted]'\n"
        assert CANARY_KEY not in seen
        ends = [v.message for values in editor.progress_values() for v in values if v.kind == "end"]
        assert any("[redacted]" in (m or "") for m in ends)
    finally:
        await editor.client.shutdown_session()
        await editor.client.stop()
    written = files_written(log_file, state)
    assert len(written) >= 3  # the log, the explanation, the kept answer
    for path in written:
        assert CANARY_KEY not in path.read_text(errors="replace"), path
    assert "[redacted]" in log_file.read_text()


@pytest.mark.parametrize(
    "padding", [("", "\r"), ("  ", "\r\n"), ("\t", " ")], ids=["CR", "spaces CRLF", "tab space"]
)
async def test_a_key_with_surrounding_white_space_is_sent_stripped_and_redacted(
    fake: FakeCodestral, tmp_path: Path, padding: tuple[str, str]
) -> None:
    folder, state = tmp_path / "project", tmp_path / "state"
    folder.mkdir()
    log_file = tmp_path / "server.log"
    env = {"CODESTRAL_API_KEY": padding[0] + CANARY_KEY + padding[1]}
    editor = await start_editor(fake, folder, state, server_args=("-v", "--log-file", str(log_file)), env=env)
    try:
        uri = editor.open("f.py", CODE)
        fake.enqueue(Script(status=400, body={"message": f"bad token {CANARY_KEY}"}))
        result = await editor.run("codestral.explain", {"uri": uri, "range": lsp_range(0, 0, 2, 0)})
        assert result["status"] == "failed" and "bad token [redacted]" in result["message"]
        assert fake.completion_requests()[0].authorization == f"Bearer {CANARY_KEY}"  # what is sent
        assert CANARY_KEY not in everything_seen(editor, [result])
    finally:
        await editor.client.shutdown_session()
        await editor.client.stop()
    log = log_file.read_text()
    assert "bad token [redacted]" in log and CANARY_KEY not in log


def test_check_output_hides_a_key_the_server_echoes(fake: FakeCodestral) -> None:
    fake.api_key = CANARY_KEY
    fake.models = [*DEFAULT_MODELS, {**DEFAULT_MODELS[0], "id": f"echo-{CANARY_KEY}", "aliases": []}]
    result = subprocess.run(
        [sys.executable, "-m", "codestral_lsp", "check", "--model", "no-such-model"],
        env=environment_without_keys(CODESTRAL_BASE_URL=fake.base_url, CODESTRAL_API_KEY=CANARY_KEY + "\r"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1 and "key accepted" in result.stdout
    assert "echo-[redacted]" in result.stdout  # the list of models the server sent
    assert CANARY_KEY not in result.stdout + result.stderr


def test_the_redactor_hides_keys_in_text_json_and_log_records() -> None:
    import io
    import logging

    from codestral_lsp.logs import RedactSecrets
    from codestral_lsp.redaction import Redactor

    redactor = Redactor()
    redactor.add("short")  # placeholders shorter than 8 characters are no secrets
    redactor.add(CANARY_KEY)
    redactor.add('k\u00e9y-with-"quote"')
    assert redactor.redact(f"a {CANARY_KEY} b") == "a [redacted] b" and redactor.redact("short") == "short"
    text = json.dumps({"m": f"x\n{CANARY_KEY}", CANARY_KEY: ['k\u00e9y-with-"quote"']})
    assert redactor.might_contain(text)
    assert redactor.redact_json(json.loads(text)) == {"m": "x\n[redacted]", "[redacted]": ["[redacted]"]}
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecrets(redactor))
    logger = logging.getLogger("test-redaction")
    logger.addHandler(handler)
    try:
        logger.error("sending %s", CANARY_KEY)
        try:
            raise ValueError(f"header Bearer {CANARY_KEY}")
        except ValueError:
            logger.exception("request failed")
    finally:
        logger.removeHandler(handler)
    assert CANARY_KEY not in stream.getvalue() and stream.getvalue().count("[redacted]") == 2


def someone_elses_file(tmp_path: Path) -> Path:
    """A file that belongs to another user (made so when the tests run as root)."""
    if os.geteuid() == 0:
        path = tmp_path / "shared.log"
        path.write_text("")
        path.chmod(0o666)
        os.chown(path, 65534, 65534)
        return path
    path = Path("/etc/passwd")  # not ours, and not writable by us
    assert path.stat().st_uid != os.geteuid()
    return path


@pytest.mark.parametrize("kind", ["another user's file", "a symbolic link"])
async def test_a_log_file_that_is_not_safely_ours_leaves_the_server_serving(
    fake: FakeCodestral, tmp_path: Path, capfd: pytest.CaptureFixture[str], kind: str
) -> None:
    if kind == "a symbolic link":  # planted where the user will point --log-file
        target = tmp_path / "victim.txt"
        target.write_text("precious\n")
        log_file = tmp_path / "codestral.log"
        log_file.symlink_to(target)
    else:
        target = log_file = someone_elses_file(tmp_path)
    before = (target.read_bytes(), target.stat().st_mode, target.stat().st_uid)
    folder = tmp_path / "project"
    folder.mkdir()
    editor = await start_editor(fake, folder, tmp_path / "state", server_args=("--log-file", str(log_file)))
    try:
        uri = editor.open("f.py", CODE)
        fake.enqueue(Script(text="Adds one."))
        assert (await editor.run("codestral.explain", {"uri": uri, "range": lsp_range(0, 0, 2, 0)}))[
            "status"
        ] == "shown"
    finally:
        await editor.client.shutdown_session()
        await editor.client.stop()
    assert (target.read_bytes(), target.stat().st_mode, target.stat().st_uid) == before
    err = capfd.readouterr().err
    assert f"not writing logs to {log_file}" in err and "logging to stderr instead" in err
    assert CANARY_KEY not in err


def test_a_fifo_or_folder_is_not_opened_as_a_log_file(tmp_path: Path) -> None:
    from codestral_lsp.logs import UnusableLogFile, open_private

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(UnusableLogFile, match="not a regular file"):
        open_private(fifo)  # would block for ever waiting for a reader
    with pytest.raises(UnusableLogFile):
        open_private(tmp_path)
    fresh = tmp_path / "new" / "server.log"
    open_private(fresh).close()
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600 and stat.S_IMODE(fresh.parent.stat().st_mode) == 0o700


def test_check_says_why_a_loopback_base_url_setting_gets_no_key(other_fake: FakeCodestral) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "codestral_lsp", "check", "--base-url", other_fake.base_url],
        env=environment_without_keys(CODESTRAL_API_KEY=CANARY_KEY),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "key:      none (the baseUrl setting points at a port on this machine" in result.stdout
    assert "CODESTRAL_TRUSTED_HOSTS" in result.stdout and "No API key was sent" in result.stdout
    assert [r.authorization for r in other_fake.requests] == [None]


async def test_an_edit_keeps_a_key_the_document_already_held(
    fake: FakeCodestral, start_session: Callable[..., Awaitable[Editor]]
) -> None:
    editor = await start_session()
    own = f'KEY = "{CANARY_KEY}"\n'  # the user's own (unwise) text: not the server's to change
    uri = editor.open("conf.py", own + "x = 1\n")
    fake.enqueue(Script(text=f'```python\nKEY: str = "{CANARY_KEY}"\nx: int = 1\n```'))
    result = await editor.run("codestral.refactor", {"uri": uri, "range": lsp_range(0, 0, 2, 0)})
    assert result["status"] == "applied" and CANARY_KEY not in json.dumps(result)
    assert editor.text(uri) == f'KEY: str = "{CANARY_KEY}"\nx: int = 1\n'
    # A document without the key does not get it from an answer.
    other = editor.open("other.py", "y = 2\n")
    fake.enqueue(Script(text=f'```python\ny = "{CANARY_KEY}"\n```'))
    await editor.run("codestral.refactor", {"uri": other, "range": lsp_range(0, 0, 1, 0)})
    assert editor.text(other) == 'y = "[redacted]"\n'
