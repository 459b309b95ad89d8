"""What an action command answers: one typed result, built by the stages, sent by the handlers.

Every action command (``codestral.explain`` … ``codestral.custom``, ``codestral.accept`` and
``codestral.reject``) answers one :class:`ActionResult`; :meth:`ActionResult.to_json` is its wire
form, :class:`ActionResultJson`, the one description of what the editor plugins read. Keys are
present only where they apply:

``status`` (always)
    ``applied`` — the edit landed (or the tests were written); ``proposed`` — held for review;
    ``unchanged`` — the answer is the code as it is; ``shown`` — an explanation, or review
    findings; ``kept`` — not applied, the answer is kept; ``cancelled``; ``failed``;
    ``rejected`` — a proposal was dropped.
``message`` (always)
    One sentence for the user, without a "Codestral:" prefix.
``usage``
    The job's tokens and cost (:class:`UsageJson`; ``estimated`` when counted from characters).
``requests``
    How many requests the job made, when more than one (an answer that left code out is asked
    for again).
``reason``, ``answer``, ``answerUri``, ``fullAnswerUri``
    A kept answer: why it was not applied, the whole answer, the file holding its code, and the
    Markdown file holding all of it when it had prose.
``markdown``, ``truncated``, ``documentUri``
    An explanation, whether it was cut off at ``maxTokens``, and the document it was opened as.
``findings``
    How many review findings were published as diagnostics.
``testUri``
    The test file generated tests went to.
``jobId``, ``uri``, ``range``, ``diff``, ``edit``
    A proposal: the id to answer it with (``codestral.accept`` / ``codestral.reject``), the
    document and the range of the proposed code now, the unified diff of the selected lines, and
    the ``WorkspaceEdit`` as it would be sent now.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields
from typing import Any, Literal, NotRequired, Required, TypedDict

from lsprotocol import types

Status = Literal["applied", "proposed", "unchanged", "shown", "kept", "cancelled", "failed", "rejected"]


class UsageJson(TypedDict):
    """A job's ``usage`` on the wire."""

    model: str
    promptTokens: int
    completionTokens: int
    estimatedCostUsd: float
    estimated: NotRequired[bool]


class ActionResultJson(TypedDict, total=False):
    """An action command's answer on the wire (see the module docstring for each key)."""

    status: Required[Status]
    message: Required[str]
    usage: UsageJson
    requests: int
    reason: str
    answer: str
    answerUri: str
    fullAnswerUri: str
    markdown: str
    truncated: bool
    documentUri: str
    findings: int
    testUri: str
    jobId: str
    uri: str
    range: dict[str, Any]
    diff: str
    edit: dict[str, Any]


@dataclass(frozen=True)
class JobUsage:
    """What a job spent: tokens of the model it asked, and their cost."""

    model: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    estimated: bool = False

    def to_json(self) -> UsageJson:
        """The ``usage`` key of a result."""
        out = UsageJson(
            model=self.model,
            promptTokens=self.prompt_tokens,
            completionTokens=self.completion_tokens,
            estimatedCostUsd=round(self.cost_usd, 6),
        )
        if self.estimated:
            out["estimated"] = True
        return out


@dataclass(frozen=True, kw_only=True)
class ActionResult:
    """An action's outcome (see the module docstring); ``None`` fields are left out on the wire."""

    status: Status
    message: str
    usage: JobUsage | None = None
    requests: int | None = None
    # a kept answer
    reason: str | None = None
    answer: str | None = None
    answer_uri: str | None = None
    full_answer_uri: str | None = None
    # an explanation, review findings, generated tests
    markdown: str | None = None
    truncated: bool | None = None
    document_uri: str | None = None
    findings: int | None = None
    test_uri: str | None = None
    # a proposal
    job_id: str | None = None
    uri: str | None = None
    range: types.Range | None = None
    diff: str | None = None
    edit: types.WorkspaceEdit | None = None

    def to_json(self) -> ActionResultJson:
        """The command's answer as the editor receives it."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if isinstance(value, JobUsage):
                value = value.to_json()
            elif isinstance(value, types.Range | types.WorkspaceEdit):
                value = _converter().unstructure(value)
            out[_camel(f.name)] = value
        return out  # type: ignore[return-value]  # the fields are the TypedDict's keys


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@functools.cache
def _converter() -> Any:
    from lsprotocol import converters  # built on first use: not needed to start

    return converters.get_converter()
