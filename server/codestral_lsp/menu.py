"""The code-action menu: which Codestral actions a range offers, and their arguments as JSON.

Menu policy lives here: Fix is a quick fix for the diagnostics touching the range (at a bare
cursor, those of its line), each review finding offers "Fix this", and a selection offers the
built-in actions in :data:`~codestral_lsp.actions.MENU_ORDER` and the user's own. Pure: no I/O,
no document access, nothing of the server.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lsprotocol import types

from codestral_lsp.actions import BUILTIN_ACTIONS, MENU_ORDER, ActionSpec, custom_spec
from codestral_lsp.review import SOURCE as REVIEW_SOURCE
from codestral_lsp.settings import CustomAction

CODE_ACTION_KINDS = [
    types.CodeActionKind.QuickFix,
    types.CodeActionKind.Refactor,
    types.CodeActionKind.RefactorRewrite,
]


def _fix_range(diagnostics: list[types.Diagnostic]) -> types.Range:
    """Whole lines covering the diagnostics (for a fix asked for at the cursor)."""
    first = min(d.range.start.line for d in diagnostics)
    last = max(d.range.end.line for d in diagnostics)
    return types.Range(
        start=types.Position(line=first, character=0), end=types.Position(line=last + 1, character=0)
    )


def _fix_this(uri: str, diagnostic: types.Diagnostic) -> types.CodeAction:
    """The quick fix of one review finding: Fix, on the finding's lines, with that diagnostic."""
    title = "Codestral: Fix this"
    argument = {
        "uri": uri,
        "range": range_json(_fix_range([diagnostic])),
        "diagnostics": [diagnostic_json(diagnostic)],
    }
    return types.CodeAction(
        title=title,
        kind=types.CodeActionKind.QuickFix,
        diagnostics=[diagnostic],
        is_preferred=True,
        command=types.Command(title=title, command="codestral.fix", arguments=[argument]),
    )


def offered_actions(
    params: types.CodeActionParams, custom: Sequence[CustomAction], prompts_for_instruction: bool
) -> list[types.CodeAction]:
    """The Codestral code actions for a range: no I/O, no document access. ``custom``: the
    user's actions (settings); ``prompts_for_instruction``: the client's plugin asks for Edit's
    instruction itself (only then is Edit offered)."""
    selection = params.range
    only = params.context.only
    uri = params.text_document.uri
    actions: list[types.CodeAction] = []
    empty = selection.start == selection.end

    # At a bare cursor, the diagnostics of its line count (the lightbulb is shown per line).
    line = selection.start.line
    probe = types.Range(
        start=types.Position(line=line, character=0), end=types.Position(line=line + 1, character=0)
    )
    touching = [
        d for d in params.context.diagnostics if ranges_intersect(d.range, probe if empty else selection)
    ]
    if kind_allowed(types.CodeActionKind.QuickFix, only):
        actions += [_fix_this(uri, d) for d in touching if d.source == REVIEW_SOURCE]
    touching = [d for d in touching if d.source != REVIEW_SOURCE]
    if touching and kind_allowed(types.CodeActionKind.QuickFix, only):
        fix_range = _fix_range(touching) if empty else selection
        first = (touching[0].message.strip().splitlines() or [""])[0]
        title = "Codestral: Fix " + (f"“{first[:60]}”" if len(touching) == 1 else f"{len(touching)} problems")
        argument = {
            "uri": uri,
            "range": range_json(fix_range),
            "diagnostics": [diagnostic_json(d) for d in touching],
        }
        actions.append(
            types.CodeAction(
                title=title,
                kind=types.CodeActionKind.QuickFix,
                diagnostics=touching,
                command=types.Command(title=title, command="codestral.fix", arguments=[argument]),
            )
        )
    if empty:
        return actions

    argument = {"uri": uri, "range": range_json(selection)}
    specs: list[ActionSpec] = [
        BUILTIN_ACTIONS[a] for a in MENU_ORDER if a != "fix" and (a != "edit" or prompts_for_instruction)
    ]
    specs += [custom_spec(a) for a in custom]
    for spec in specs:
        if not kind_allowed(spec.kind, only):
            continue
        arguments = {**argument, "action": spec.id} if spec.template is not None else argument
        actions.append(
            types.CodeAction(
                title=spec.title,
                kind=spec.kind,
                command=types.Command(title=spec.title, command=spec.command, arguments=[arguments]),
            )
        )
    return actions


def ranges_intersect(a: types.Range, b: types.Range) -> bool:
    """True when two ranges share a position (touching counts, so a zero-width diagnostic at a
    selection's edge is included)."""
    return (a.start.line, a.start.character) <= (b.end.line, b.end.character) and (
        b.start.line,
        b.start.character,
    ) <= (a.end.line, a.end.character)


def kind_allowed(kind: str, only: Sequence[str] | None) -> bool:
    """Whether ``kind`` is requested by ``context.only`` (hierarchical match)."""
    if not only:
        return True
    return any(kind == wanted or kind.startswith(wanted + ".") for wanted in only)


def range_json(r: types.Range) -> dict[str, Any]:
    """A Range as plain JSON (command arguments travel as JSON)."""
    return {
        "start": {"line": r.start.line, "character": r.start.character},
        "end": {"line": r.end.line, "character": r.end.character},
    }


def diagnostic_json(d: types.Diagnostic) -> dict[str, Any]:
    """A Diagnostic as plain JSON, with only what the prompt uses."""
    out: dict[str, Any] = {"range": range_json(d.range), "message": d.message}
    if d.severity is not None:
        out["severity"] = int(d.severity)
    if d.code is not None:
        out["code"] = d.code
    if d.source:
        out["source"] = d.source
    return out
