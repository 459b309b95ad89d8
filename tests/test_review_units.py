"""The pure review module: parsing and checking findings, placing them, keeping them on their code."""

from __future__ import annotations

import json

import pytest
from codestral_lsp.review import (
    Finding,
    ReviewError,
    ReviewStore,
    count_complete_findings,
    numbered,
    parse_findings,
    to_diagnostic,
)
from hypothesis import given
from hypothesis import strategies as st
from lsprotocol import types


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def pos(line: int, character: int) -> types.Position:
    return types.Position(line=line, character=character)


def change(start: tuple[int, int], end: tuple[int, int], text: str) -> types.TextDocumentContentChangePartial:
    return types.TextDocumentContentChangePartial(range=types.Range(start=pos(*start), end=pos(*end)), text=text)


def test_numbered_shows_the_editors_line_numbers_and_keeps_line_ends() -> None:
    assert numbered("a\r\nb\n", 9) == " 9 | a\r\n10 | b\n"


def test_parse_accepts_the_documented_shape() -> None:
    text = json.dumps(
        {
            "findings": [
                {"line": 3, "severity": "error", "message": " Bug. ", "suggestion": "Fix it."},
                {"line": 4, "endLine": 5, "severity": "hint", "message": "Tidy.", "suggestion": None},
            ]
        }
    )
    assert parse_findings(text, 3, 5) == [
        Finding(3, 3, "error", "Bug.", "Fix it."),
        Finding(4, 5, "hint", "Tidy.", None),
    ]
    fenced = "```json\n" + json.dumps({"findings": []}) + "\n```"
    assert parse_findings(fenced, 1, 1) == []  # a server that ignores JSON mode fences it


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "not {"),
        ('{"findings": {}}', "not {"),
        ('{"findings": [3]}', "not an object"),
        ('{"findings": [{"line": true, "severity": "info", "message": "m"}]}', "whole line"),
        ('{"findings": [{"line": 3, "severity": "note", "message": "m"}]}', "severity 'note'"),
        ('{"findings": [{"line": 3, "severity": "info", "message": "  "}]}', "no message"),
        ('{"findings": [{"line": 3, "severity": "info", "message": "m", "suggestion": 1}]}', "not text"),
        ('{"findings": [{"line": 2, "severity": "info", "message": "m"}]}', "line 2, outside"),
        ('{"findings": [{"line": 4, "endLine": 9, "severity": "info", "message": "m"}]}', "lines 4–9, outside"),
        ('{"findings": [{"line": 5, "endLine": 4, "severity": "info", "message": "m"}]}', "outside"),
    ],
)
def test_parse_refuses_what_cannot_be_published(raw: str, said: str) -> None:
    with pytest.raises(ReviewError, match="nothing was published") as caught:
        parse_findings(raw, 3, 6)
    assert said in str(caught.value)


def test_count_complete_findings_while_streaming() -> None:
    text = json.dumps(
        {"findings": [{"line": 1, "severity": "info", "message": "a } { ] \" [ brace"}, {"line": 2}]}
    )
    counts = [count_complete_findings(text[:i]) for i in range(len(text) + 1)]
    assert counts[-1] == 2 and counts == sorted(counts)
    assert counts[text.index("}, {") + 1] == 1


@given(st.lists(st.text(max_size=12), max_size=4))
def test_count_matches_any_finished_answer(messages: list[str]) -> None:
    findings = [{"line": 1, "severity": "info", "message": m} for m in messages]
    assert count_complete_findings(json.dumps({"findings": findings})) == len(findings)


def test_a_diagnostic_spans_the_code_of_its_lines_in_client_units() -> None:
    lines = ("x = 1\r\n", '\t\ts = "😀😀"\r\n', "    y()\r\n")
    d = to_diagnostic(Finding(2, 3, "warning", "m", "do"), lines, utf16)
    assert d.range == types.Range(start=pos(1, 2), end=pos(2, 7))
    assert d.source == "codestral" and d.severity == types.DiagnosticSeverity.Warning
    assert d.message == "m\nSuggestion: do"
    assert to_diagnostic(Finding(2, 2, "info", "m"), lines, utf16).range.end == pos(1, 12)


def store_with(*lines: int) -> ReviewStore:
    store = ReviewStore()
    diagnostics = [
        types.Diagnostic(range=types.Range(start=pos(n, 4), end=pos(n, 9)), message=f"on {n}", source="codestral")
        for n in lines
    ]
    store.replace("u", 0, 100, diagnostics)
    return store


def test_the_store_moves_diagnostics_with_lines_inserted_or_removed_above() -> None:
    store = store_with(3, 6)
    assert store.document_changed("u", change((0, 0), (0, 0), "a\nb\n"), utf16)
    assert [d.range.start for d in store.diagnostics("u")] == [pos(5, 4), pos(8, 4)]
    assert store.document_changed("u", change((0, 0), (2, 0), ""), utf16)
    assert [d.range for d in store.diagnostics("u")] == [
        types.Range(start=pos(3, 4), end=pos(3, 9)),
        types.Range(start=pos(6, 4), end=pos(6, 9)),
    ]
    assert not store.document_changed("u", change((9, 0), (9, 0), "below\n"), utf16)


@pytest.mark.parametrize(
    "edit",
    [
        change((3, 5), (3, 6), "z"),  # inside the code
        change((3, 0), (3, 0), "x"),  # typed at the start of its line
        change((3, 20), (3, 20), " # more"),  # appended to its line
        change((2, 3), (4, 1), ""),  # across it
    ],
)
def test_the_store_drops_a_diagnostic_whose_line_changed(edit: types.TextDocumentContentChangePartial) -> None:
    store = store_with(3, 6)
    assert store.document_changed("u", edit, utf16)
    assert [d.message for d in store.diagnostics("u")] == ["on 6"]


def test_the_store_replaces_findings_on_reviewed_lines_and_clears() -> None:
    store = store_with(3, 6)
    new = types.Diagnostic(range=types.Range(start=pos(5, 0), end=pos(5, 1)), message="new", source="codestral")
    store.replace("u", 5, 7, [new])
    assert [d.message for d in store.diagnostics("u")] == ["on 3", "new"]
    whole = types.TextDocumentContentChangeWholeDocument(text="")
    assert store.document_changed("u", whole, utf16) and store.diagnostics("u") == []
    assert store.clear() == []


@given(
    st.lists(st.text(alphabet=st.sampled_from(" \tab😀é\u0301{}"), max_size=8), min_size=1, max_size=6),
    st.sampled_from(["\n", "\r\n"]),
    st.data(),
)
def test_a_diagnostic_lies_on_its_lines_for_any_text(lines: list[str], eol: str, data: st.DataObject) -> None:
    text_lines = tuple(line + eol for line in lines)
    first = data.draw(st.integers(1, len(lines)))
    last = data.draw(st.integers(first, len(lines)))
    d = to_diagnostic(Finding(first, last, "info", "m"), text_lines, utf16)
    assert (d.range.start.line, d.range.end.line) == (first - 1, last - 1)
    assert d.range.end.character == utf16(lines[last - 1])
    assert 0 <= d.range.start.character <= utf16(lines[first - 1])
    indent = lines[first - 1][: len(lines[first - 1]) - len(lines[first - 1].lstrip())]
    assert d.range.start.character in (0, utf16(indent))
