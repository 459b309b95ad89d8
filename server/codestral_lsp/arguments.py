"""The arguments of the commands: validated here, each problem one sentence for the user.

An action command (``codestral.<id>``) takes one argument object ``{"uri", "range", ...}``
(:func:`parse_action_args`); ``codestral.accept`` / ``codestral.reject`` take ``{"jobId", ...}``
(:func:`proposal_args`); the other commands take an optional object (:func:`option`). Positions
are checked against the document later, in :mod:`codestral_lsp.positions`, which raises the same
:class:`ArgumentError`. Pure: imports nothing of the server.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lsprotocol import types


class ArgumentError(ValueError):
    """A request argument that cannot be used; ``str()`` is the sentence for the user."""


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


def proposal_args(command: str, raw: Sequence[Any], retries: bool) -> tuple[object, str | None]:
    """The ``jobId`` (and, for a retry, the ``instruction``) of codestral.accept / reject;
    ``retries``: the command takes an instruction (codestral.accept)."""
    if len(raw) != 1 or not isinstance(raw[0], dict):
        raise ArgumentError(f'{command} takes one argument object {{"jobId": …}}.')
    instruction = raw[0].get("instruction")
    if "instruction" not in raw[0] or not retries:  # null too is a retry, refused
        return raw[0].get("jobId"), None
    if not isinstance(instruction, str) or not instruction.strip():  # never an accept by mistake
        raise ArgumentError(
            f'A retry needs an "instruction" saying what to change, got {instruction!r}; '
            "the proposal is still open."
        )
    return raw[0].get("jobId"), instruction.strip()


def option(raw: Sequence[Any], name: str) -> Any:
    """The ``name`` key of a command's optional argument object (``None`` without one)."""
    return raw[0].get(name) if raw and isinstance(raw[0], dict) else None
