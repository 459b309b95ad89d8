"""The catalogue of actions a user can run: built-in and user-defined, and the command names.

Every action is a command (``codestral.<id>``) taking one argument object
``{"uri": str, "range": Range, ...}`` (validated in :mod:`codestral_lsp.arguments`); the
code-action menu (:mod:`codestral_lsp.menu`) offers the same commands.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lsprotocol import types

from codestral_lsp.arguments import ActionArgs, ArgumentError
from codestral_lsp.prompts import SYSTEM_PROMPTS, TASKS
from codestral_lsp.review import SYSTEM_PROMPT as REVIEW_SYSTEM_PROMPT
from codestral_lsp.review import TASK as REVIEW_TASK
from codestral_lsp.settings import ActionMode, CustomAction, Settings

Mode = Literal[ActionMode, "tests", "review"]
"""What becomes of an action's answer: a custom action's modes, and the two only built-in
actions have (tests go to the test file, review findings become diagnostics)."""

CANCEL_COMMAND = "codestral.cancel"
USAGE_COMMAND = "codestral.usage"
STATUS_COMMAND = "codestral.status"
INDEX_COMMAND = "codestral.index"
CUSTOM_COMMAND = "codestral.custom"
CLEAR_REVIEW_COMMAND = "codestral.clearReview"
MODELS_COMMAND = "codestral.models"
ACCEPT_COMMAND = "codestral.accept"
REJECT_COMMAND = "codestral.reject"


@dataclass(frozen=True, kw_only=True)
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
    def name(self) -> str:
        """The action's name without the "Codestral: " of menu titles (editors add their own)."""
        return self.title.removeprefix("Codestral: ")

    @property
    def rewrites(self) -> bool:
        """True when the answer replaces the selection."""
        return self.mode == "replace"


BUILTIN_ACTIONS: dict[str, ActionSpec] = {
    spec.id: spec
    for spec in (
        ActionSpec(
            id="explain",
            title="Codestral: Explain",
            kind="refactor",
            mode="explain",
            system_prompt=SYSTEM_PROMPTS["explain"],
            task=TASKS["explain"],
        ),
        ActionSpec(
            id="refactor",
            title="Codestral: Refactor",
            kind="refactor.rewrite",
            mode="replace",
            system_prompt=SYSTEM_PROMPTS["refactor"],
            task=TASKS["refactor"],
        ),
        ActionSpec(
            id="fix",
            title="Codestral: Fix",
            kind=types.CodeActionKind.QuickFix.value,
            mode="replace",
            system_prompt=SYSTEM_PROMPTS["fix"],
            task=TASKS["fix"],
        ),
        ActionSpec(
            id="document",
            title="Codestral: Document",
            kind="refactor.rewrite",
            mode="replace",
            system_prompt=SYSTEM_PROMPTS["document"],
            task=TASKS["document"],
        ),
        ActionSpec(
            id="tests",
            title="Codestral: Generate tests",
            kind="refactor",
            mode="tests",
            system_prompt=SYSTEM_PROMPTS["tests"],
            task=TASKS["tests"],
        ),
        ActionSpec(
            id="edit",
            title="Codestral: Edit with instruction…",
            kind="refactor.rewrite",
            mode="replace",
            system_prompt=SYSTEM_PROMPTS["edit"],
            task=TASKS["edit"],
            needs_instruction=True,
        ),
        ActionSpec(
            id="review",
            title="Codestral: Review",
            kind="refactor",
            mode="review",
            system_prompt=REVIEW_SYSTEM_PROMPT,
            task=REVIEW_TASK,
        ),
    )
}
# Fix asked for where nothing was diagnosed: the prompt must not speak of "the diagnostics listed".
UNDIAGNOSED_FIX = ActionSpec(
    id="fix",
    title="Codestral: Fix",
    kind=types.CodeActionKind.QuickFix.value,
    mode="replace",
    system_prompt=SYSTEM_PROMPTS["fix:undiagnosed"],
    task=TASKS["fix:undiagnosed"],
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


def spec_for(command: str, args: ActionArgs, settings: Settings) -> ActionSpec:
    """The action an action command names: a built-in one (Fix without diagnostics gets its own
    prompt), or the user's ``args.action`` from ``settings`` (:class:`ArgumentError` when there
    is no such action)."""
    if command == CUSTOM_COMMAND:
        action = settings.action(args.action or "")
        if action is None:
            known = ", ".join(a.id for a in settings.actions) or "none defined"
            raise ArgumentError(
                f"There is no action {args.action!r} in the codestral.actions setting (known: {known})."
            )
        return custom_spec(action)
    spec = BUILTIN_ACTIONS[command.removeprefix("codestral.")]
    return UNDIAGNOSED_FIX if spec.id == "fix" and not args.diagnostics else spec
