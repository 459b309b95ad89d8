"""The code-action menu (:mod:`codestral_lsp.menu`) and the command arguments
(:mod:`codestral_lsp.arguments`), as pure functions: what a range offers, and the sentences bad
arguments get."""

from __future__ import annotations

from typing import Any

import pytest
from codestral_lsp.actions import UNDIAGNOSED_FIX, spec_for
from codestral_lsp.arguments import ArgumentError, option, parse_action_args, proposal_args
from codestral_lsp.menu import offered_actions
from codestral_lsp.review import SOURCE as REVIEW_SOURCE
from codestral_lsp.settings import CustomAction, Settings
from lsprotocol import types

URI = "file:///w/a.py"


def _range(a: int, b: int, c: int, d: int) -> types.Range:
    return types.Range(start=types.Position(line=a, character=b), end=types.Position(line=c, character=d))


def _params(
    selection: types.Range, diagnostics: list[types.Diagnostic] | None = None, only: list[str] | None = None
) -> types.CodeActionParams:
    return types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=URI),
        range=selection,
        context=types.CodeActionContext(diagnostics=diagnostics or [], only=only),
    )


def test_a_selection_offers_the_actions_in_menu_order_and_edit_only_where_the_plugin_asks() -> None:
    titles = [a.title for a in offered_actions(_params(_range(1, 0, 3, 0)), [], False)]
    assert titles == [
        "Codestral: Explain",
        "Codestral: Review",
        "Codestral: Refactor",
        "Codestral: Document",
        "Codestral: Generate tests",
    ]
    with_edit = offered_actions(_params(_range(1, 0, 3, 0)), [], True)
    assert with_edit[-1].title == "Codestral: Edit with instruction…"


def test_a_bare_cursor_offers_fix_for_its_line_s_diagnostics_over_whole_lines() -> None:
    problem = types.Diagnostic(range=_range(2, 4, 2, 9), message="undefined name 'x'\nmore")
    [fix] = offered_actions(_params(_range(2, 0, 2, 0), [problem]), [], False)
    assert fix.title == "Codestral: Fix “undefined name 'x'”"
    argument = _argument(fix)
    assert argument["range"] == {"start": {"line": 2, "character": 0}, "end": {"line": 3, "character": 0}}
    assert argument["diagnostics"][0]["message"] == "undefined name 'x'\nmore"


def test_a_review_finding_offers_fix_this_and_only_filters_by_kind() -> None:
    finding = types.Diagnostic(range=_range(5, 0, 5, 3), message="off by one", source=REVIEW_SOURCE)
    offered = offered_actions(_params(_range(5, 0, 6, 0), [finding], only=["quickfix"]), [], False)
    assert [a.title for a in offered] == ["Codestral: Fix this"]
    assert offered[0].is_preferred


def test_a_custom_action_is_offered_with_its_id() -> None:
    custom = CustomAction(id="shout", title="Shout", prompt="Uppercase {{selection}}", mode="replace")
    last = offered_actions(_params(_range(0, 0, 1, 0)), [custom], False)[-1]
    assert last.title == "Shout" and last.command is not None
    assert last.command.command == "codestral.custom"
    assert _argument(last)["action"] == "shout"


def test_arguments_get_a_sentence_naming_what_is_wrong() -> None:
    with pytest.raises(ArgumentError, match=r"range.start.line must not be negative"):
        parse_action_args("codestral.fix", [{"uri": URI, "range": _json_range(-1)}])
    with pytest.raises(ArgumentError, match="takes one argument object"):
        parse_action_args("codestral.fix", [])
    with pytest.raises(ArgumentError, match='needs an "instruction"'):
        proposal_args("codestral.accept", [{"jobId": "1-1", "instruction": " "}], retries=True)
    assert proposal_args("codestral.reject", [{"jobId": "1-1", "instruction": " "}], retries=False) == (
        "1-1",
        None,
    )
    assert option([{"uri": URI}], "uri") == URI and option([], "uri") is None and option([3], "uri") is None


def test_the_catalogue_names_the_spec_of_a_command() -> None:
    args = parse_action_args("codestral.fix", [{"uri": URI, "range": _json_range(0)}])
    assert spec_for("codestral.fix", args, Settings()) is UNDIAGNOSED_FIX
    custom = parse_action_args("codestral.custom", [{"uri": URI, "range": _json_range(0), "action": "nope"}])
    with pytest.raises(ArgumentError, match=r"no action 'nope' .* \(known: none defined\)"):
        spec_for("codestral.custom", custom, Settings())


def _argument(action: types.CodeAction) -> dict[str, Any]:
    """The argument object of a code action's command."""
    assert action.command is not None
    arguments = action.command.arguments
    assert arguments is not None
    argument = arguments[0]
    assert isinstance(argument, dict)
    return argument


def _json_range(line: int) -> dict[str, object]:
    return {"start": {"line": line, "character": 0}, "end": {"line": 1, "character": 0}}
