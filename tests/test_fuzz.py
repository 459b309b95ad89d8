"""Fuzzed input through the real server: arguments of every shape, documents with CRLF, tabs,
emoji and combining characters, and answers streamed in every shape the API allows. The server
always answers, never dies, and every edit it sends stays inside the selected range and leaves
valid text; an answer lands whole exactly when the model finished it."""

from __future__ import annotations

import asyncio
import itertools
import math
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
from codestral_lsp.api.sse import BOM, SseParser
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from tests.conftest import CANARY_KEY
from tests.editor import Editor, lines_of, lsp_range, start_editor, utf16_offset
from tests.fake_codestral import FakeCodestral, Script

# A variable a hostile workspace might name with apiKeyEnv; it must never be sent.
OTHER_SECRET = "aws-secret-Hq83nVb20XkLp"
SESSION_SETTINGS: dict[str, Any] = {"context": {"budgetTokens": 500}}


class ServerSession:
    """One server and client on an event loop in a background thread, for synchronous
    hypothesis tests."""

    def __init__(self, fake: FakeCodestral, folder: Path, state: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.editor: Editor = self.call(
            start_editor(
                fake,
                folder,
                state,
                settings=SESSION_SETTINGS,
                env={"AWS_SECRET_ACCESS_KEY": OTHER_SECRET},
            )
        )
        self.names = itertools.count()
        self.fake: FakeCodestral = fake

    def call(self, coroutine: Coroutine[Any, Any, Any], timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        self.call(self.editor.client.shutdown_session())
        self.call(self.editor.client.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerSession]:
    fake = FakeCodestral().start()  # its default responder echoes the selection with a comment
    root = tmp_path_factory.mktemp("fuzz")
    (root / "project").mkdir()
    server = ServerSession(fake, root / "project", root / "state")
    try:
        yield server
    finally:
        server.close()
        fake.stop()
    assert fake.schema_errors() == []


pieces = st.sampled_from(
    [
        "a",
        "b",
        " ",
        "    ",
        "\t",
        "é",
        "e\u0301",
        "😀",
        "{",
        "}",
        "x = 1",
        "def f():",
        "ü😀",
        "\x0c",
        "\u2028",
    ]
)
line = st.lists(pieces, max_size=6).map("".join)
document = st.tuples(
    st.lists(line, min_size=1, max_size=8), st.sampled_from(["\n", "\r\n"]), st.booleans()
).map(lambda t: t[1].join(t[0]) + (t[1] if t[2] else ""))
number = st.one_of(st.integers(-2, 12), st.sampled_from([0, 1, 2, 3, 2**31 - 1, 2**31, 2**63, 10**30]))
likely = st.integers(0, 5)  # mostly inside the document, sometimes anywhere
position = st.fixed_dictionaries(
    {"line": st.one_of(likely, likely, number), "character": st.one_of(likely, number)}
)
good_range = st.fixed_dictionaries({"start": position, "end": position})
odd_value = st.one_of(
    st.none(), st.text(max_size=3), st.integers(), st.booleans(), st.lists(st.integers(), max_size=2)
)
bad_range = st.one_of(
    odd_value,
    st.fixed_dictionaries({"start": position}),
    st.fixed_dictionaries({"start": odd_value, "end": position}),
    st.fixed_dictionaries(
        {"start": st.fixed_dictionaries({"line": odd_value, "character": st.just(0)}), "end": position}
    ),
)


def clamp(text: str, pos: dict[str, int]) -> tuple[int, int]:
    lines = lines_of(text) or [""]
    line_no = max(0, pos["line"])
    if line_no >= len(lines):
        return (len(lines), 0)
    content = lines[line_no].rstrip("\r\n")
    units = len(content.encode("utf-16-le")) // 2
    return (line_no, min(max(0, pos["character"]), units))


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    text=document,
    selection=good_range,
    command=st.sampled_from(["codestral.refactor", "codestral.document", "codestral.explain"]),
)
def test_edits_stay_inside_the_selection(
    session: ServerSession, text: str, selection: dict[str, Any], command: str
) -> None:
    editor = session.editor
    uri = editor.open(f"fuzz_{next(session.names)}.py", text)
    before = len(editor.edits)
    try:
        result = session.call(editor.run(command, {"uri": uri, "range": selection}))
    except JsonRpcException:
        result = None  # a bad range: answered with an error
    new_edits = editor.edits[before:]
    event(f"status: {result['status'] if result else 'InvalidParams'}")
    if result is None or result["status"] != "applied":
        assert new_edits == [] and editor.text(uri) == text
        return
    (start_line, start_char), (end_line, end_char) = sorted(
        [clamp(text, selection["start"]), clamp(text, selection["end"])]
    )
    start = utf16_offset(text, types.Position(line=start_line, character=start_char))
    end = utf16_offset(text, types.Position(line=end_line, character=end_char))
    for applied in new_edits:
        for change in applied.edit.document_changes:
            for edit in change.edits:
                edit_start = utf16_offset(text, edit.range.start)
                edit_end = utf16_offset(text, edit.range.end)
                assert start <= edit_start <= edit_end <= end
    after = editor.text(uri)
    assert after.startswith(text[:start]) and after.endswith(text[end:])
    after.encode("utf-8")  # valid text: no lone surrogates
    if "\r\n" in text:
        assert "\n" not in after.replace("\r\n", "")  # CRLF stays CRLF


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    arguments=st.one_of(
        st.lists(odd_value, max_size=2),
        st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "uri": odd_value,
                    "range": st.one_of(good_range, bad_range),
                    "instruction": odd_value,
                    "action": odd_value,
                    "diagnostics": odd_value,
                },
            ),
            max_size=2,
        ),
    ),
    command=st.sampled_from(
        [
            "codestral.refactor",
            "codestral.edit",
            "codestral.custom",
            "codestral.fix",
            "codestral.cancel",
            "codestral.usage",
            "codestral.status",
            "codestral.accept",
            "codestral.reject",
        ]
    ),
)
def test_malformed_arguments_are_answered(session: ServerSession, arguments: list[Any], command: str) -> None:
    editor = session.editor
    try:
        session.call(editor.run(command, *arguments))
    except JsonRpcException as error:
        assert "Traceback" not in str(error) and "Please report it" not in str(error)
    assert session.call(editor.run("codestral.status"))["runningJobs"] == 0


# -- hostile settings: what a cloned repository's settings could hold ------------------------------

junk = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.text(max_size=4)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=6,
)
numbers = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf, 10**400, 2**31, -1, 0, 0.05]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(2**70), 2**70),
)
base_urls = st.sampled_from(
    [
        "https://api.mistral.ai/v1\nX-Injected: 1",
        "http://127.0.0.1:{port}/v1\r\nHost: evil",
        "https://collector.example.net/v1",
        "http://10.0.0.5/v1",
        "https://user:pw@api.mistral.ai/v1",
        "http://127.0.0.1:{port}/v1",  # the fake, named by the environment: gets the key
        "http://localhost:{port}/v1",  # the same port under another name: gets no key
        "http://[::1]:{port}/v1",
        "file:x.py",
        "",
    ]
)
key_variables = st.sampled_from(
    ["AWS_SECRET_ACCESS_KEY", "CODESTRAL_API_KEY", "MISTRAL_API_KEY", "sk-the-key-pasted-in", "", "PATH"]
)
codestral_settings = st.fixed_dictionaries(
    {},
    optional={
        "baseUrl": st.one_of(base_urls, base_urls, junk),
        "apiKeyEnv": st.one_of(key_variables, key_variables, junk),
        "temperature": numbers,
        "maxTokens": numbers,
        "timeouts": st.fixed_dictionaries(
            {}, optional={"idle": numbers, "connect": numbers, "firstByte": numbers}
        ),
        "prices": st.dictionaries(
            st.sampled_from(["codestral-latest", "other"]),
            st.fixed_dictionaries({}, optional={"input": numbers, "output": numbers}),
            max_size=2,
        ),
        "context": st.fixed_dictionaries(
            {}, optional={"budgetTokens": numbers, "charsPerToken": numbers, "nearbyLines": numbers}
        ),
        "python": junk,
        "maxTokenz": junk,
    },
)
hostile_settings = st.one_of(
    codestral_settings,
    codestral_settings.map(lambda ours: {"codestral": ours, "python": {"analysis": {}}}),
    st.dictionaries(st.sampled_from(["python", "rust-analyzer"]), st.dictionaries(st.text(max_size=3), junk)),
)
ACTION_STATUSES = {"applied", "unchanged", "shown", "kept", "cancelled", "failed"}


def with_port(value: Any, port: int) -> Any:
    if isinstance(value, str):
        return value.replace("{port}", str(port))
    if isinstance(value, list):
        return [with_port(v, port) for v in value]
    if isinstance(value, dict):
        return {k: with_port(v, port) for k, v in value.items()}
    return value


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(raw=hostile_settings, pushed=st.booleans())
def test_hostile_settings_get_plain_sentences_and_never_leak_a_key(
    session: ServerSession, raw: dict[str, Any], pushed: bool
) -> None:
    editor, fake = session.editor, session.fake
    raw = with_port(raw, fake.port)
    ours = raw["codestral"] if isinstance(raw.get("codestral"), dict) else raw
    if "baseUrl" in ours:
        ours["retry"] = {"maxAttempts": 1}  # no slow retries against a refused connection
    uri = editor.open(f"settings_{next(session.names)}.py", "def f(x):\n    return x\n")
    seen_before = len(editor.client.messages)
    requests_before = len(fake.requests)
    try:
        editor.client.set_configuration(raw, section="codestral")  # as workspace/configuration answers
        editor.client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings=raw if pushed else None)
        )
        session.call(editor.sync())
        try:
            result = session.call(
                editor.run(
                    "codestral.explain",
                    {
                        "uri": uri,
                        "range": {"start": {"line": 0, "character": 0}, "end": {"line": 2, "character": 0}},
                    },
                )
            )
            assert result["status"] in ACTION_STATUSES
        except JsonRpcException as error:
            assert "Please report it" not in str(error)
        messages = [m.message for m in editor.client.messages[seen_before:]]
        assert not any("Please report it" in m or "Traceback" in m for m in messages), messages
        assert all(len(m) < 2000 for m in messages)
        for request in fake.requests[requests_before:]:
            assert request.authorization in (None, f"Bearer {CANARY_KEY}")
        assert OTHER_SECRET not in str(messages)
    finally:
        editor.client.set_configuration(SESSION_SETTINGS, section="codestral")
        editor.client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
        session.call(editor.sync())
    assert session.call(editor.run("codestral.status"))["runningJobs"] == 0


# -- stream shapes -------------------------------------------------------------------------------

event_data = st.lists(
    st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\r\n"), max_size=12),
    min_size=1,
    max_size=3,
)


@settings(max_examples=200, deadline=None)
@given(
    events=st.lists(st.tuples(event_data, st.booleans()), max_size=6),
    eol=st.sampled_from([b"\n", b"\r\n", b"\r"]),
    bom=st.booleans(),
    cuts=st.lists(st.integers(0, 400), max_size=8),
)
def test_sse_parser_reads_any_framing_in_any_chunking(
    events: list[tuple[list[str], bool]], eol: bytes, bom: bool, cuts: list[int]
) -> None:
    wire = bytearray(BOM if bom else b"")
    for lines, comment_first in events:
        if comment_first:
            wire += b":" + eol
        for text in lines:
            wire += b"data: " + text.encode() + eol
        wire += eol
    parser = SseParser(max_line=10_000)
    got = []
    last = 0
    for cut in sorted({c for c in cuts if c < len(wire)}):  # the same bytes, split anywhere
        got += parser.feed(bytes(wire[last:cut]))
        last = cut
    got += parser.feed(bytes(wire[last:]))
    tail = parser.finish()
    assert tail is None
    expected = ["\n".join(lines) for lines, _ in events if "\n".join(lines)]
    assert [e.data for e in got] == expected


FUZZ_CODE = "def total(items):\n    s = 0\n    for i in items:\n        s += i\n    return s\n"
FUZZ_NEW = "    return sum(items)\n"
stream_shape = st.fixed_dictionaries(
    {
        "chunk_size": st.integers(1, 40),
        "bom": st.booleans(),
        "list_content": st.booleans(),
        "crlf": st.booleans(),
        "comments": st.booleans(),
        "second_choice": st.one_of(st.none(), st.just("```python\n    other = 1\n```")),
        "finish_reason": st.sampled_from(
            ["stop", "stop", "stop", "length", "model_length", "content_filter", "tool_calls", "new_reason"]
        ),
        "json_instead_of_stream": st.booleans(),
        "omit_done": st.booleans(),
    }
)


# -- didChange shapes and URIs -------------------------------------------------------------------

edit_text = st.lists(st.sampled_from(["a", "\n", "\r", "\r\n", "😀", "é", " ", "\u2028"]), max_size=4).map(
    "".join
)
any_position = st.builds(
    types.Position, line=st.one_of(st.integers(0, 6), st.just(2**31 - 1)), character=st.integers(0, 9)
)
content_change = st.one_of(
    st.builds(
        types.TextDocumentContentChangePartial,
        range=st.builds(types.Range, start=any_position, end=any_position),
        text=edit_text,
    ),
    st.builds(types.TextDocumentContentChangeWholeDocument, text=document),
)


def apply_as_editor(text: str, change: types.TextDocumentContentChangeEvent) -> str:
    """What an editor holds after a change (positions past a line's end mean its end)."""
    if isinstance(change, types.TextDocumentContentChangeWholeDocument):
        return change.text
    start, end = sorted((utf16_offset(text, change.range.start), utf16_offset(text, change.range.end)))
    return text[:start] + change.text + text[end:]


@settings(max_examples=400, deadline=None)
@given(text=document, changes=st.lists(content_change, max_size=6))
def test_the_document_copy_follows_every_change_shape(
    text: str, changes: list[types.TextDocumentContentChangeEvent]
) -> None:
    """Ranges past a line's end or the document's, inverted ranges, whole-document changes:
    the server's copy (and its line table) is always the editor's text."""
    from codestral_lsp.positions import LspTextDocument, line_starts, lsp_lines

    document_copy = LspTextDocument("file:///x.py", source=text, version=1)
    for change in changes:
        text = apply_as_editor(text, change)
        document_copy.apply_change(change)
        assert document_copy.source == text
        assert list(document_copy.lines) == lsp_lines(text)
        assert document_copy.starts == line_starts(text)


path_piece = st.text(
    alphabet=st.sampled_from([*"ab ü#%?&+=;@[]ç日", "é", "😀"]), min_size=1, max_size=6
).filter(lambda s: s.strip() not in ("", ".", ".."))


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(shape=stream_shape)
def test_answers_in_any_stream_shape_land_only_when_finished(
    session: ServerSession, shape: dict[str, Any]
) -> None:
    editor = session.editor
    uri = editor.open(f"stream_{next(session.names)}.py", FUZZ_CODE)
    editor.fake.enqueue(Script(text=f"```python\n{FUZZ_NEW}```", **shape))
    result = session.call(editor.run("codestral.refactor", {"uri": uri, "range": lsp_range(1, 0, 5, 0)}))
    event(f"status: {result['status']}")
    if shape["finish_reason"] == "stop":
        assert result["status"] == "applied", result
        assert editor.text(uri) == "def total(items):\n" + FUZZ_NEW
    else:
        assert result["status"] == "kept", result
        assert editor.text(uri) == FUZZ_CODE


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(name=path_piece, changes=st.lists(content_change, min_size=1, max_size=3))
def test_any_file_name_and_change_shape_reach_the_same_document(
    session: ServerSession, name: str, changes: list[types.TextDocumentContentChangeEvent]
) -> None:
    """A document whose URI the editor percent-encodes, edited with changes of every shape: an
    action on the whole of it sees exactly the editor's text."""
    editor = session.editor
    uri = editor.open(f"{next(session.names)} {name}/m.py", "x = 1\n")
    assert "%" in uri
    document = editor.documents[uri]
    for change in changes:
        document.text = apply_as_editor(document.text, change)
        document.version += 1
        editor.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=document.version),
                content_changes=[change],
            )
        )
    text = document.text
    lines = lines_of(text)
    end = types.Position(line=len(lines), character=0)
    before = len(editor.fake.completion_requests())
    whole = {"start": {"line": 0, "character": 0}, "end": {"line": end.line, "character": 0}}
    if not text.strip():
        with pytest.raises(JsonRpcException, match="needs a selection"):
            session.call(editor.run("codestral.explain", {"uri": uri, "range": whole}))
        return
    result = session.call(editor.run("codestral.explain", {"uri": uri, "range": whole}))
    assert result["status"] == "shown"
    [request] = editor.fake.completion_requests()[before:]
    assert text in request.prompt_text()
