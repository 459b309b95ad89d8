"""The pure modules behind the server: answers to code, minimal edits, anchors, context, SSE."""

from __future__ import annotations

import itertools

import pytest
from codestral_lsp.actions import BUILTIN_ACTIONS, ActionSpec
from codestral_lsp.anchors import shift_range
from codestral_lsp.answer import extract_code, fit_to_selection, lines_after_selection
from codestral_lsp.api.errors import parse_error_body
from codestral_lsp.api.sse import SseParser
from codestral_lsp.context import build_context, enclosing_scopes
from codestral_lsp.edits import Hunk, minimal_hunks
from codestral_lsp.prompts import PromptParts, fence_for, render_template
from hypothesis import given
from hypothesis import strategies as st
from lsprotocol import types

# -- answer → code ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        ("```python\nx = 1\n```", "x = 1\n"),
        ("Sure! Here you go:\n\n```py\nx = 1\ny = 2\n```\n\nThat's it.", "x = 1\ny = 2\n"),
        ("x = 1\ny = 2", "x = 1\ny = 2\n"),
        ("\n\nx = 1\n\n", "x = 1\n"),
        ("```\nshort\n```\ntext\n```\nthe longer block\nwins\n```", "the longer block\nwins\n"),
        ("```python\nunterminated = True\n", "unterminated = True\n\n"),
        ("~~~\ntilde\n~~~", "tilde\n"),
        ("````md\n```inner```\n````", "```inner```\n"),
        ("```python\r\nx = 1\r\n```", "x = 1\n"),
    ],
)
def test_extract_code(answer: str, code: str) -> None:
    assert extract_code(answer) == code


def test_dedented_answers_are_reindented_once() -> None:
    selection = "    if x:\n        y()\n"
    assert fit_to_selection("if x:\n    z()\n", selection, "", "\n") == "    if x:\n        z()\n"
    # Already indented: left alone (never indented twice).
    assert fit_to_selection("    if x:\n        z()\n", selection, "", "\n") == "    if x:\n        z()\n"


def test_selection_starting_after_indentation_keeps_the_documents_indent() -> None:
    assert fit_to_selection("    return 2\n", "return 1\n", "    ", "\n") == "return 2\n"


def test_mid_line_selection_is_not_reindented() -> None:
    assert fit_to_selection("b * 2", "b + 1", "x = ", "\n") == "b * 2"


def test_trailing_newline_follows_the_selection() -> None:
    assert fit_to_selection("a = 1\n\n\n", "a = 0", "", "\n") == "a = 1"
    assert fit_to_selection("a = 1", "a = 0\n", "", "\n") == "a = 1\n"


def test_crlf_and_tabs() -> None:
    assert (
        fit_to_selection("if a:\n    b()\n", "\tif a:\r\n\t\tc()\r\n", "", "\r\n") == "\tif a:\r\n\t\tb()\r\n"
    )


def test_lines_after_selection() -> None:
    assert lines_after_selection("print(1)\n", "    x = 1\n", "", "\n") == "    print(1)\n"
    assert lines_after_selection("print(1)\n", "x = 1", "", "\n") == "\nprint(1)"


# -- minimal edits ------------------------------------------------------------------------


def apply_hunks(old: str, hunks: list[Hunk]) -> str:
    """What an editor makes of the hunks (as the edit's TextEdits, applied in order)."""
    out, position = [], 0
    for hunk in hunks:
        out.append(old[position : hunk.start])
        out.append(hunk.text)
        position = hunk.end
    out.append(old[position:])
    return "".join(out)


line = st.text(alphabet=st.sampled_from("ab \t😀é"), max_size=6)
lines = st.lists(line, max_size=12)


@given(old=lines, new=lines, eol=st.sampled_from(["\n", "\r\n"]))
def test_hunks_reproduce_the_new_text_and_stay_inside(old: list[str], new: list[str], eol: str) -> None:
    old_text, new_text = eol.join(old), eol.join(new)
    hunks = minimal_hunks(old_text, new_text)
    assert apply_hunks(old_text, hunks) == new_text
    for hunk in hunks:
        assert 0 <= hunk.start <= hunk.end <= len(old_text)
        # a CRLF is never split
        assert not (old_text[hunk.start - 1 : hunk.start + 1] == "\r\n" and hunk.start > 0)
    assert all(a.end <= b.start for a, b in itertools.pairwise(hunks))


def test_one_changed_line_is_one_small_hunk() -> None:
    old = "".join(f"line {i}\n" for i in range(100))
    new = old.replace("line 50\n", "line fifty\n")
    [hunk] = minimal_hunks(old, new)
    assert old[hunk.start : hunk.end] == "50" and hunk.text == "fifty"


# -- anchors ------------------------------------------------------------------------------


def r(a: int, b: int, c: int, d: int) -> types.Range:
    return types.Range(start=types.Position(line=a, character=b), end=types.Position(line=c, character=d))


def test_edits_before_move_the_range() -> None:
    anchor = r(5, 4, 7, 0)
    assert shift_range(anchor, r(0, 0, 0, 0), "new\nlines\n", len) == r(7, 4, 9, 0)
    assert shift_range(anchor, r(5, 0, 5, 2), "", len) == r(5, 2, 7, 0)
    assert shift_range(anchor, r(2, 0, 4, 0), "", len) == r(3, 4, 5, 0)


def test_edits_after_leave_it_and_edits_inside_lose_it() -> None:
    anchor = r(5, 4, 7, 0)
    assert shift_range(anchor, r(7, 0, 7, 0), "after", len) == anchor
    assert shift_range(anchor, r(6, 0, 6, 1), "x", len) is None
    assert shift_range(anchor, r(4, 0, 5, 5), "", len) is None


# -- context ------------------------------------------------------------------------------

SOURCE = """import os
from x import y

class A:
    @decorator
    def method(self):
        a = 1
        b = 2
        return a + b

    def other(self):
        pass


def tail():
    return 0
""".splitlines(keepends=True)


def test_enclosing_scopes_by_indentation() -> None:
    assert enclosing_scopes(SOURCE, 7, 7) == [(4, 8), (3, 11)]


def test_context_prefers_the_enclosing_scope_then_imports() -> None:
    context = build_context(
        SOURCE, 7, 7, SOURCE[7], language="python", path="a.py", budget_chars=2000, nearby_lines=2
    )
    assert context.enclosing is not None and context.enclosing.text.startswith("class A:")
    assert context.imports is not None and "import os" in context.imports.text
    small = build_context(
        SOURCE, 7, 7, SOURCE[7], language="python", path="a.py", budget_chars=80, nearby_lines=2
    )
    assert small.enclosing is not None and small.enclosing.text.startswith("    @decorator")
    assert small.context_chars() <= 80 + len(SOURCE[7])
    none = build_context(
        SOURCE, 7, 7, SOURCE[7], language="python", path="a.py", budget_chars=0, nearby_lines=2
    )
    assert none.imports is None and none.before is None


def test_brace_languages_keep_the_closing_brace() -> None:
    source = "fn main() {\n    let a = 1;\n    println!(a);\n}\n".splitlines(keepends=True)
    assert enclosing_scopes(source, 1, 1) == [(0, 3)]


# -- prompts ------------------------------------------------------------------------------


def test_templates_fill_only_known_names() -> None:
    parts = PromptParts(selection="x = {a}", language="py", path="p.py", diagnostics="", instruction="go")
    assert (
        render_template("{selection} in {language} {unknown} {instruction}", parts)
        == "x = {a} in py {unknown} go"
    )
    assert fence_for("a ``` b") == "````"


# -- SSE and error bodies -----------------------------------------------------------------


def test_sse_grouping() -> None:
    parser = SseParser(max_line=1000)
    events = parser.feed(b': ping\ndata: {"a":\r\ndata: 1}\n\nevent: x\rdata:2\r\rdata: tail')
    last = parser.finish()
    assert last is not None
    assert [(e.event, e.data) for e in [*events, last]] == [
        ("message", '{"a":\n1}'),
        ("x", "2"),
        ("message", "tail"),
    ]
    assert parser.comments == 1


@pytest.mark.parametrize(
    ("body", "message", "field"),
    [
        (
            '{"object":"error","message":"bad","type":"invalid_request_error","param":"model","code":"unknown_model"}',
            "bad",
            "model",
        ),
        (
            '{"detail":[{"type":"extra_forbidden","loc":["body","store"],"msg":"Extra inputs are not permitted"}]}',
            "Extra inputs are not permitted",
            "store",
        ),
        (
            '{"object":"error","message":{"detail":[{"type":"x","loc":["body","n"],"msg":"m"}]},"type":"invalid_request_error","param":null,"code":null}',
            "m",
            "n",
        ),
        (
            '{"object":"error","message":"Rate limit exceeded","type":"rate_limited","param":null,"code":"1300"}',
            "Rate limit exceeded",
            None,
        ),
        ('{"detail":"Unauthorized"}', "Unauthorized", None),
        ('{"message":"Unauthorized","request_id":"r"}', "Unauthorized", None),
        ('{"message":["a","b"],"code":3}', '["a", "b"]', None),
        ('{"error":{"message":"model not found","type":"NotFound"}}', "model not found", None),
        ("<html>Bad gateway</html>", "<html>Bad gateway</html>", None),
        ("", None, None),
    ],
)
def test_every_error_body_variant_parses(body: str, message: str | None, field: str | None) -> None:
    parsed = parse_error_body(body)
    assert parsed.message == message and parsed.field == field


def test_lines_are_split_as_lsp_counts_them() -> None:
    from codestral_lsp.positions import lsp_lines

    assert lsp_lines("a\x0c\nb\u2028c\r\nd\re") == ["a\x0c\n", "b\u2028c\r\n", "d\r", "e"]
    assert lsp_lines("a\nb\n") == ["a\n", "b\n"] and lsp_lines("") == []


def test_an_empty_lua_table_is_no_settings() -> None:
    """Neovim sends an empty Lua table as []: at the top or for a nested object, it means none."""
    from codestral_lsp.settings import Settings, parse_settings

    settings, problems = parse_settings([], {"codestral": []}, {"completion": [], "prices": []})
    assert problems == [] and settings == Settings()
    _, problems = parse_settings([1])
    assert problems == ["Settings for codestral must be an object, got [1]; ignoring them."]


def test_the_fix_prompt_without_diagnostics_asks_to_find_the_bugs() -> None:
    from codestral_lsp.prompts import SYSTEM_PROMPTS, TASKS

    assert "listed" not in SYSTEM_PROMPTS["fix:undiagnosed"] and "listed" not in TASKS["fix:undiagnosed"]


def test_an_action_spec_is_built_by_name() -> None:
    """Four strings in a row cannot be swapped unnoticed: every field is named."""
    fix = BUILTIN_ACTIONS["fix"]
    with pytest.raises(TypeError):
        ActionSpec(fix.id, fix.title, fix.kind, fix.mode, fix.system_prompt, fix.task)  # type: ignore[misc]
    assert ActionSpec(
        id=fix.id, title=fix.title, kind=fix.kind, mode=fix.mode, system_prompt=fix.system_prompt, task=fix.task
    ) == fix
