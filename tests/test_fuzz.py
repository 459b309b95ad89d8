"""Fuzzed input through the real server: arguments of every shape, documents with CRLF, tabs,
emoji and combining characters. The server always answers, never dies, and every edit it sends
stays inside the selected range and leaves valid text."""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from tests.editor import Editor, lines_of, start_editor, utf16_offset
from tests.fake_codestral import FakeCodestral


class ServerSession:
    """One server and client on an event loop in a background thread, for synchronous
    hypothesis tests."""

    def __init__(self, fake: FakeCodestral, folder: Path, state: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.editor: Editor = self.call(
            start_editor(fake, folder, state, settings={"context": {"budgetTokens": 500}})
        )
        self.names = itertools.count()

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
number = st.one_of(st.integers(-2, 12), st.sampled_from([0, 1, 2, 3, 2**31 - 1]))
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
        ]
    ),
)
def test_malformed_arguments_are_answered(session: ServerSession, arguments: list[Any], command: str) -> None:
    editor = session.editor
    try:
        session.call(editor.run(command, *arguments))
    except JsonRpcException as error:
        assert "Traceback" not in str(error)
    assert session.call(editor.run("codestral.status"))["runningJobs"] == 0


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
