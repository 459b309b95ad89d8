"""The actions a user can run, and the arguments of their commands.

Every action is a command (``codestral.<id>``) taking one argument object
``{"uri": str, "range": Range, ...}``; the code-action menu offers the same commands.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from lsprotocol import types

from codestral_lsp.positions import ArgumentError
from codestral_lsp.prompts import SYSTEM_PROMPTS, TASKS
from codestral_lsp.review import SYSTEM_PROMPT as REVIEW_SYSTEM_PROMPT
from codestral_lsp.review import TASK as REVIEW_TASK
from codestral_lsp.settings import CustomAction

Mode = Literal["replace", "explain", "insertAfter", "tests", "review"]

CANCEL_COMMAND = "codestral.cancel"
USAGE_COMMAND = "codestral.usage"
STATUS_COMMAND = "codestral.status"
INDEX_COMMAND = "codestral.index"
CUSTOM_COMMAND = "codestral.custom"
CLEAR_REVIEW_COMMAND = "codestral.clearReview"
MODELS_COMMAND = "codestral.models"
ACCEPT_COMMAND = "codestral.accept"
REJECT_COMMAND = "codestral.reject"


@dataclass(frozen=True)
class ActionSpec:
    """What an action is: its command, menu entry, prompt, and what becomes of the answer."""

    id: str
    title: str
    kind: str
    mode: Mode
    system_prompt: str
    task: str
    template: str | None = None
    needs_instruction: bool = False
    model: str | None = None  # a custom action's own model

    @property
    def command(self) -> str:
        """The ``workspace/executeCommand`` name."""
        return CUSTOM_COMMAND if self.template is not None else f"codestral.{self.id}"

    @property
    def rewrites(self) -> bool:
        """True when the answer replaces the selection."""
        return self.mode == "replace"


BUILTIN_ACTIONS: dict[str, ActionSpec] = {
    spec.id: spec
    for spec in (
        ActionSpec(
            "explain",
            "Codestral: Explain",
            "refactor",
            "explain",
            SYSTEM_PROMPTS["explain"],
            TASKS["explain"],
        ),
        ActionSpec(
            "refactor",
            "Codestral: Refactor",
            "refactor.rewrite",
            "replace",
            SYSTEM_PROMPTS["refactor"],
            TASKS["refactor"],
        ),
        ActionSpec(
            "fix",
            "Codestral: Fix",
            types.CodeActionKind.QuickFix.value,
            "replace",
            SYSTEM_PROMPTS["fix"],
            TASKS["fix"],
        ),
        ActionSpec(
            "document",
            "Codestral: Document",
            "refactor.rewrite",
            "replace",
            SYSTEM_PROMPTS["document"],
            TASKS["document"],
        ),
        ActionSpec(
            "tests", "Codestral: Generate tests", "refactor", "tests", SYSTEM_PROMPTS["tests"], TASKS["tests"]
        ),
        ActionSpec(
            "edit",
            "Codestral: Edit with instruction…",
            "refactor.rewrite",
            "replace",
            SYSTEM_PROMPTS["edit"],
            TASKS["edit"],
            needs_instruction=True,
        ),
        ActionSpec("review", "Codestral: Review", "refactor", "review", REVIEW_SYSTEM_PROMPT, REVIEW_TASK),
    )
}
# Fix asked for where nothing was diagnosed: the prompt must not speak of "the diagnostics listed".
UNDIAGNOSED_FIX = ActionSpec(
    "fix",
    "Codestral: Fix",
    types.CodeActionKind.QuickFix.value,
    "replace",
    SYSTEM_PROMPTS["fix:undiagnosed"],
    TASKS["fix:undiagnosed"],
)
# The order of the code-action menu (fix, when offered, comes first as a quick fix).
MENU_ORDER = ("fix", "explain", "review", "refactor", "document", "tests", "edit")


def custom_spec(action: CustomAction) -> ActionSpec:
    """The spec of a user-defined action."""
    kind = "refactor" if action.mode == "explain" else "refactor.rewrite"
    return ActionSpec(
        id=action.id,
        title=action.title,
        kind=kind,
        mode=action.mode,
        system_prompt=SYSTEM_PROMPTS[f"custom:{action.mode}"],
        task="",
        template=action.prompt,
        model=action.model,
    )


@dataclass(frozen=True)
class ActionArgs:
    """The validated argument object of an action command."""

    uri: str
    range: types.Range
    instruction: str | None = None
    action: str | None = None
    diagnostics: tuple[types.Diagnostic, ...] = field(default_factory=tuple)


def _single_object(command: str, arguments: Any) -> dict[str, Any]:
    if isinstance(arguments, list | tuple):
        if len(arguments) != 1:
            raise ArgumentError(
                f"{command} takes one argument object {{uri, range, …}}, got {len(arguments)} arguments."
            )
        arguments = arguments[0]
    if not isinstance(arguments, dict):
        raise ArgumentError(
            f"{command} takes one argument object {{uri, range, …}}, got {type(arguments).__name__}."
        )
    return arguments


UINTEGER_MAX = 2**31 - 1
"""LSP's ``uinteger`` ends here: larger line or character numbers are not positions."""


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ArgumentError(f"{what} must be a whole number, got {value!r}.")
    if value < 0:
        raise ArgumentError(f"{what} must not be negative, got {value}.")
    if value > UINTEGER_MAX:
        raise ArgumentError(f"{what} is {value}, more than any document has (at most {UINTEGER_MAX}).")
    return value


def parse_position(raw: Any, what: str) -> types.Position:
    """A ``Position`` from JSON, with a sentence naming what is wrong."""
    if not isinstance(raw, dict):
        raise ArgumentError(f"{what} must be an object {{line, character}}, got {raw!r}.")
    return types.Position(
        line=_int(raw.get("line"), f"{what}.line"), character=_int(raw.get("character"), f"{what}.character")
    )


def parse_range(raw: Any, what: str = "range") -> types.Range:
    """A ``Range`` from JSON, with a sentence naming what is wrong."""
    if not isinstance(raw, dict):
        raise ArgumentError(f"The argument needs a {what} {{start, end}}, got {raw!r}.")
    return types.Range(
        start=parse_position(raw.get("start"), f"{what}.start"),
        end=parse_position(raw.get("end"), f"{what}.end"),
    )


def _diagnostic(raw: Any) -> types.Diagnostic:
    if not isinstance(raw, dict) or not isinstance(raw.get("message"), str):
        raise ArgumentError(f"Each diagnostic needs a message and a range, got {raw!r}.")
    severity = raw.get("severity")
    code = raw.get("code")
    return types.Diagnostic(
        range=parse_range(raw.get("range"), "diagnostic range"),
        message=raw["message"],
        severity=types.DiagnosticSeverity(severity) if severity in (1, 2, 3, 4) else None,
        code=code if isinstance(code, str | int) and not isinstance(code, bool) else None,
        source=raw.get("source") if isinstance(raw.get("source"), str) else None,
    )


def parse_action_args(command: str, arguments: Any) -> ActionArgs:
    """Validate the argument object of an action command (raises :class:`ArgumentError`)."""
    raw = _single_object(command, arguments)
    uri = raw.get("uri")
    if not isinstance(uri, str) or not uri:
        raise ArgumentError(f'{command} needs the document\'s "uri" (a string), got {uri!r}.')
    instruction = raw.get("instruction")
    if instruction is not None and not isinstance(instruction, str):
        raise ArgumentError(f'"instruction" must be a string, got {instruction!r}.')
    action = raw.get("action")
    if action is not None and not isinstance(action, str):
        raise ArgumentError(f'"action" must be the id of an action (a string), got {action!r}.')
    diagnostics = raw.get("diagnostics") or []
    if not isinstance(diagnostics, list):
        raise ArgumentError(f'"diagnostics" must be a list, got {diagnostics!r}.')
    return ActionArgs(
        uri=uri,
        range=parse_range(raw.get("range")),
        instruction=instruction.strip() if isinstance(instruction, str) and instruction.strip() else None,
        action=action,
        diagnostics=tuple(_diagnostic(d) for d in diagnostics),
    )


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
