"""One action from command to result: the path a request takes through the server.

``run_action``: validate the arguments against the open document → build the context and the
prompt → register the job (cancelling overlapping older ones) → stream the answer with progress
→ hand the finished answer to :mod:`codestral_lsp.delivery` (edit, document, or test file).
Failures of any kind end the progress, tell the user one sentence, and return a result.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Sequence
from contextlib import aclosing, suppress
from dataclasses import dataclass
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.uris import to_fs_path

from codestral_lsp import delivery, review
from codestral_lsp.actions import ActionSpec
from codestral_lsp.api import CodestralClient, CodestralError, Completion, TextDelta
from codestral_lsp.api.bodies import ChatRequest, Message
from codestral_lsp.api.types import Usage
from codestral_lsp.arguments import ActionArgs, ArgumentError
from codestral_lsp.context import CodeContext, DiagnosticInfo
from codestral_lsp.crossfile import RelatedPiece, assemble, related_pieces
from codestral_lsp.models import context_budget, file_budget_tokens, with_context_budget
from codestral_lsp.positions import DocumentView, Selection
from codestral_lsp.progress import JobProgress
from codestral_lsp.prompts import PromptParts, describe_diagnostics, render_template, user_message
from codestral_lsp.proposals import CLOSED
from codestral_lsp.results import ActionResult, JobUsage
from codestral_lsp.settings import Settings
from codestral_lsp.usage import describe_tokens, usage_or_estimate

if TYPE_CHECKING:
    from codestral_lsp.port import Session

log = logging.getLogger(__name__)

PROGRESS_GRACE_SECONDS = 1.0  # how long a finished job waits for the editor to accept its token
_SEVERITY = {1: "error", 2: "warning", 3: "info", 4: "hint"}


def diagnostics_for(diagnostics: tuple[types.Diagnostic, ...]) -> list[DiagnosticInfo]:
    """Diagnostics as the prompt describes them."""
    return [
        DiagnosticInfo(
            line=d.range.start.line,
            message=d.message,
            severity=_SEVERITY.get(int(d.severity)) if d.severity else None,
            code=str(d.code) if d.code is not None else None,
            source=d.source,
        )
        for d in diagnostics
    ]


def gather_related(
    server: Session, settings: Settings, view: DocumentView, code: str
) -> list[RelatedPiece]:
    """Context from beyond the file (definitions, similar code from open documents and recent
    edits, instructions), unfitted."""
    index = server.index
    path = to_fs_path(view.uri)
    if index is None or not settings.context.workspace or not path:
        return []
    documents, edited = server.similar_sources(index, path)
    return related_pieces(index, path, view.source, code, documents, edited, server.windows)


def make_context(
    server: Session,
    settings: Settings,
    view: DocumentView,
    selection: Selection,
    args: ActionArgs,
    file_tokens: int | None = None,
) -> tuple[CodeContext, list[RelatedPiece]]:
    """The context of a selection, within the job's budget: the in-file part first, within
    ``file_tokens`` when given (it leaves at most half of that to what other files offer),
    then the other files."""
    cpt = settings.context.chars_per_token
    return assemble(
        view.lines,
        selection.first_line,
        selection.last_line,
        selection.text,
        gather_related(server, settings, view, selection.text),
        language=view.document.language_id or _language_from_path(view.uri),
        path=server.relative_path(view.uri),
        budget_chars=settings.context.budget_chars,
        nearby_lines=settings.context.nearby_lines,
        diagnostics=diagnostics_for(args.diagnostics),
        file_budget_chars=int(file_tokens * cpt) if file_tokens is not None else None,
    )


def _language_from_path(uri: str) -> str:
    return PurePath(uri).suffix.lstrip(".")


def make_request(
    settings: Settings,
    spec: ActionSpec,
    context: CodeContext,
    args: ActionArgs,
    client: CodestralClient,
    related: Sequence[RelatedPiece] = (),
) -> ChatRequest:
    """The chat request for an action: its system prompt, the context, and the selection."""
    if spec.template is not None:
        parts = PromptParts(
            selection=context.selection,
            language=context.language,
            path=context.path,
            diagnostics=describe_diagnostics(context),
            instruction=args.instruction or "",
        )
        task = render_template(spec.template, parts)
        content = user_message(context, task, related=related)
    elif spec.mode == "review":  # the selected lines numbered as the editor numbers them
        numbered = review.numbered(context.selection, context.first_line + 1)
        shown = dataclasses.replace(context, selection=numbered)
        content = user_message(shown, spec.task, related=related)
    else:
        content = user_message(context, spec.task, args.instruction, related)
    prediction = None
    predict = settings.predicted_outputs
    if spec.rewrites and (predict is True or (predict == "auto" and client.endpoint.is_mistral)):
        prediction = context.selection
    return ChatRequest(
        model=settings.model_for(spec.id, spec.model),
        messages=[Message("system", spec.system_prompt), Message("user", content)],
        temperature=settings.temperature,
        max_tokens=settings.max_tokens,
        prediction=prediction,
        response_format=review.RESPONSE_FORMAT if spec.mode == "review" else None,
    )


@dataclass
class Received:
    """How much of an answer has arrived (what a cancelled or failed job has still spent)."""

    chars: int = 0


async def stream_answer(
    client: CodestralClient,
    request: ChatRequest,
    progress: JobProgress,
    chars_per_token: float,
    received_so_far: Received | None = None,
    findings: bool = False,
) -> Completion:
    """Stream the answer, reporting progress; return the finished :class:`Completion`.

    With ``findings`` (a review), progress says how many findings have arrived so far."""
    tally = received_so_far if received_so_far is not None else Received()
    received = 0
    tail = ""
    text: list[str] = []
    found = 0
    completion: Completion | None = None

    def on_retry(notice: Any) -> None:
        progress.report(notice.describe(), force=True)

    async with aclosing(client.stream_chat(request, on_retry=on_retry)) as stream:
        async for item in stream:
            if isinstance(item, TextDelta):
                received += len(item.text)
                tally.chars = received
                tail = (tail + item.text)[-400:]
                if findings:
                    text.append(item.text)
                    now = review.count_complete_findings("".join(text))
                    if now != found:
                        found = now
                        progress.report(f"{found} finding{'' if found == 1 else 's'} so far", force=True)
                    elif not found:
                        progress.streaming(received, int(received / chars_per_token), "")
                else:
                    progress.streaming(received, int(received / chars_per_token), tail)
            else:
                completion = item
    assert completion is not None  # the client always ends a stream with one
    return completion



@dataclass(frozen=True)
class Revision:
    """A retry of a proposal: the answer proposed, and what the user wants changed in it."""

    answer: str
    instruction: str


REVISE = (
    "Revise your previous answer as follows: {instruction}\n\nReply again with the complete "
    "replacement of the selected code in a single fenced code block."
)


async def run_action(
    server: Session,
    spec: ActionSpec,
    args: ActionArgs,
    request_id: Any,
    settings: Settings,
    revise: Revision | None = None,
) -> ActionResult:
    """Run one action to its end; see the module docstring. Raises only :class:`ArgumentError`.

    ``settings`` is the job's snapshot: every stage reads it, never ``server.settings``, so a
    settings change while the answer streams does not change this job's limits or price.
    ``revise``: the job asks the model to revise a proposal (its answer and the user's
    instruction follow the usual request, as a conversation)."""
    view = server.document_view(args.uri)
    selection = view.selection(args.range)
    if not selection.text.strip():
        raise ArgumentError(f"{spec.name} needs a selection: select the code first.")
    if spec.needs_instruction and not args.instruction:
        raise ArgumentError(f'{spec.name} needs an "instruction" saying what to change.')
    try:
        client = server.api_client(settings)
    except CodestralError as error:
        server.tell_user(types.MessageType.Error, str(error))
        return ActionResult(status="failed", message=str(error))
    # the context budget from the model's window (as known now: never waited for), in the snapshot
    model = settings.model_for(spec.id, spec.model)
    tokens, why = context_budget(settings, model, server.known_models(client))
    file_tokens = file_budget_tokens(settings)
    settings = with_context_budget(settings, tokens)
    log.debug("context budget: %d tokens (%s)", tokens, why)

    context, related = make_context(server, settings, view, selection, args, file_tokens)
    request = make_request(settings, spec, context, args, client, related)
    if revise is not None:
        follow_up = [
            Message("assistant", revise.answer),
            Message("user", REVISE.format(instruction=revise.instruction)),
        ]
        request = dataclasses.replace(request, messages=[*request.messages, *follow_up])
    name = spec.name
    job, superseded = server.jobs.add(
        args.uri, spec.title, selection.range, request_id, read_only=spec.mode == "review"
    )
    if spec.mode in ("replace", "insertAfter"):  # a new rewrite there: older proposals expire
        for dropped in server.proposals.drop_overlapping(args.uri, selection.range):
            log.info("proposal %s expired: a new %s on its code", dropped.id, name)
    for old in superseded:
        server.tell_user(
            types.MessageType.Info,
            f"Codestral cancelled the earlier {old.title.removeprefix('Codestral: ')}: "
            f"a {name} was started on the same code.",
        )
    progress = JobProgress(server, spec.title, on_cancel=lambda: job.cancel("cancelled from the editor"))
    outcome = "failed"
    chars_per_token = settings.context.chars_per_token
    # What has happened so far, read by the cancel and failure paths: the request being asked,
    # how much of its answer arrived, and the finished answer once there is one.
    state = _JobState(asked=request, received=Received())

    async def work() -> tuple[ActionResult, str]:
        """The job's result, and its outcome for the end of the progress."""
        costs: list[tuple[Usage, float, bool]] = []
        while True:
            completion = await stream_answer(
                client,
                state.asked,
                progress,
                chars_per_token,
                state.received,
                findings=spec.mode == "review",
            )
            usage, estimated = usage_or_estimate(
                completion.usage, state.prompt_chars, len(completion.text), chars_per_token
            )
            cost = server.usage.add(
                usage, settings.price_for(state.asked.model), estimated, model=state.asked.model
            )
            costs.append((usage, cost, estimated))
            retry = _elision_retry(settings, spec, view, selection, args, state.asked, completion, len(costs))
            if retry is None:
                break
            progress.report("the answer left out code; asking again for all of it…", force=True)
            state.asked, state.received = retry, Received()
        state.answer = completion
        if spec.mode == "review":
            result = deliver_review(server, settings, job, selection, completion)
        else:
            instruction = "\n".join(i for i in (args.instruction, revise and revise.instruction) if i)
            result = await delivery.deliver(
                server,
                settings,
                spec,
                job,
                view,
                selection,
                completion,
                instruction,
                args,
                revise is not None,
            )
        total = Usage(
            prompt_tokens=sum(u.prompt_tokens for u, _, _ in costs),
            completion_tokens=sum(u.completion_tokens for u, _, _ in costs),
        )
        spent = sum(c for _, c, _ in costs)
        estimated = any(e for _, _, e in costs)
        result = dataclasses.replace(
            result,
            usage=_job_usage(total, spent, estimated, state.asked.model),
            requests=len(costs) if len(costs) > 1 else None,
        )
        tokens = describe_tokens(total, spent, estimated, state.asked.model)
        return result, f"{result.message} ({tokens})"

    # Progress starts beside the work: an editor slow to accept the token delays nothing, and
    # one that never answers costs only the progress.
    begin = asyncio.create_task(
        progress.begin(f"asking {request.model}…"), name=f"codestral-progress-{job.id}"
    )
    running = asyncio.create_task(work(), name=f"codestral-job-{job.id}")
    job.task = running
    if job.cancel_reason is not None:  # cancelled while it was being set up
        running.cancel()
    try:
        try:
            result, outcome = await running
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # the server itself is stopping this request
            reason = job.cancel_reason
            why = "" if reason in (None, "cancelled", "cancelled from the editor") else f" ({reason})"
            if job.edit_sent and state.answer is not None:
                kept = await delivery.keep_answer(
                    server,
                    view,
                    state.answer.text,
                    f"{name} was cancelled{why} before the editor confirmed the change, so it may or "
                    "may not have been applied.",
                )
                outcome = f"cancelled{why}; the change was not confirmed"
                return dataclasses.replace(kept, status="cancelled")
            spent, usage = _count_unfinished(
                server, settings, state.asked.model, state.prompt_chars, state.received, chars_per_token
            )
            outcome = f"cancelled{why}; nothing was changed{spent}"
            return ActionResult(
                status="cancelled", message=f"{name} cancelled{why}; nothing was changed.", usage=usage
            )
        return result
    except CodestralError as error:
        spent, usage = _count_unfinished(
            server, settings, state.asked.model, state.prompt_chars, state.received, chars_per_token
        )
        outcome = f"failed: {error}{spent}"
        server.tell_user(types.MessageType.Error, f"{spec.title} failed: {error}")
        return ActionResult(status="failed", message=str(error), usage=usage)
    finally:
        if not running.done():
            running.cancel()
        server.jobs.remove(job)
        if not begin.done():  # let a slow editor accept the token, so that begin comes before end
            await asyncio.wait({begin}, timeout=PROGRESS_GRACE_SECONDS)
            begin.cancel()
        with suppress(asyncio.CancelledError, Exception):
            await begin
        progress.end(outcome)


@dataclass
class _JobState:
    """Where a running action is: the request being asked (the first, or the retry after an
    elided answer), how much of its answer arrived, and the finished answer."""

    asked: ChatRequest
    received: Received
    answer: Completion | None = None

    @property
    def prompt_chars(self) -> int:
        """Characters of the request being asked (for estimating its tokens)."""
        return sum(len(m.content) for m in self.asked.messages)


def deliver_review(
    server: Session,
    settings: Settings,
    job: Any,
    selection: Selection,
    completion: Completion,
) -> ActionResult:
    """Publish a review's findings as diagnostics on the document as it is now; a bad answer,
    or code changed under the review, gives one sentence and publishes nothing."""
    first, last = selection.first_line + 1, selection.last_line + 1
    view = server.open_document_view(job.uri)
    try:
        if completion.truncated:
            raise review.ReviewError(
                f"The review was cut off at maxTokens ({settings.max_tokens}), so nothing was "
                "published; raise the maxTokens setting or select less code."
            )
        if view is None or job.conflicted:
            raise review.ReviewError("The reviewed code changed meanwhile, so nothing was published.")
        findings = review.parse_findings(completion.text, first, last)
    except review.ReviewError as error:
        server.tell_user(types.MessageType.Warning, str(error))
        return ActionResult(status="failed", message=str(error))
    shift = job.range.start.line - selection.range.start.line  # lines inserted or removed above
    moved = [dataclasses.replace(f, line=f.line + shift, end_line=f.end_line + shift) for f in findings]
    diagnostics = [review.to_diagnostic(f, view.lines, view.units) for f in moved]
    server.publish_review(job.uri, first - 1 + shift, last - 1 + shift, diagnostics)
    count = len(diagnostics)
    if count == 0:
        message = "Review found nothing to report."
    else:
        message = f"Review found {count} problem{'' if count == 1 else 's'}, shown as diagnostics."
    return ActionResult(status="shown", message=message, findings=count)


FIRMER = (
    "Your answer left out code ({detail}), so it cannot be applied. Reply again with the complete "
    "replacement of the selected lines in a single fenced code block: write out every line, the "
    "unchanged ones too, with no placeholder comment and no `...` standing for code."
)


def _elision_retry(
    settings: Settings,
    spec: ActionSpec,
    view: DocumentView,
    selection: Selection,
    args: ActionArgs,
    request: ChatRequest,
    completion: Completion,
    asked: int,
) -> ChatRequest | None:
    """The one follow-up request for a rewrite whose answer elided code, if ``retryOnElision``
    allows it; ``None`` otherwise (then the answer is delivered — kept, with its reason)."""
    if asked > 1 or not spec.rewrites or completion.truncated or not settings.retry_on_elision:
        return None
    plan = delivery.plan_for(spec, view, selection, completion.text, args.instruction or "")
    if not plan.elided:
        return None
    log.info("answer elided code (%s); asking once more", plan.detail)
    follow_up = [Message("assistant", completion.text), Message("user", FIRMER.format(detail=plan.detail))]
    return dataclasses.replace(request, messages=[*request.messages, *follow_up])


def _job_usage(usage: Usage, cost: float, estimated: bool, model: str) -> JobUsage:
    """A job's ``usage`` in its result."""
    return JobUsage(model, usage.prompt_tokens, usage.completion_tokens, cost, estimated)


def _count_unfinished(
    server: Session,
    settings: Settings,
    model: str,
    prompt_chars: int,
    received: Received,
    chars_per_token: float,
) -> tuple[str, JobUsage | None]:
    """Count a cancelled or failed job whose answer had started: tokens were spent (estimated,
    as the API reports usage only at the end). Returns `` (about N tokens (estimated))`` for the
    user and the result's ``usage``; nothing when no answer had arrived."""
    if received.chars == 0:
        return "", None
    usage, _ = usage_or_estimate(None, prompt_chars, received.chars, chars_per_token)
    cost = server.usage.add(usage, settings.price_for(model), True, kind="unfinished", model=model)
    return f" ({describe_tokens(usage, cost, True, model)})", _job_usage(usage, cost, True, model)


async def accept_proposal(
    server: Session, proposal_id: object, request_id: Any, instruction: str | None
) -> ActionResult:
    """``codestral.accept``: apply an open proposal with the usual guarantees, or — with an
    ``instruction`` — drop it and ask again on its (re-anchored) range. Raises
    :class:`ArgumentError` for an id that is not open."""
    proposal = server.take_proposal(proposal_id)
    if proposal is None:
        raise ArgumentError(CLOSED)
    if instruction and proposal.tracked.conflicted:  # its code is no longer what was proposed on
        return await delivery.keep_answer(
            server,
            proposal.view,
            proposal.answer,
            "You edited the proposed code after Codestral proposed its change, so it was not asked "
            "again there; select the code and run the action again.",
        )
    if instruction:
        settings = await server.current_settings()
        args = dataclasses.replace(proposal.args, range=proposal.tracked.range)
        server.proposals.hold(proposal)  # a retry that fails proposes the previous answer again
        try:
            result = await run_action(
                server, proposal.spec, args, request_id, settings, Revision(proposal.answer, instruction)
            )
        except BaseException as error:
            if server.proposals.release(proposal) and isinstance(error, ArgumentError):
                server.proposals.reopen(proposal)
            raise
        if not server.proposals.release(proposal) or result.status != "failed":
            return result
        again = await delivery.propose(server, settings, proposal.rewrite, proposal.args)
        if again.status != "proposed":  # its code was edited meanwhile: kept, with why
            return again
        name = proposal.spec.name
        still = f"{name} could not be asked again ({result.message}); its previous proposal is still open."
        return dataclasses.replace(again, message=still)
    return await delivery.apply_to_selection(
        server, proposal.rewrite, when="after Codestral proposed its change"
    )


def reject_proposal(server: Session, proposal_id: object) -> ActionResult:
    """``codestral.reject``: drop an open proposal; nothing changes. Raises
    :class:`ArgumentError` for an id that is not open."""
    proposal = server.take_proposal(proposal_id)
    if proposal is None:
        raise ArgumentError(CLOSED)
    name = proposal.spec.name
    return ActionResult(status="rejected", message=f"{name}'s proposal was rejected; nothing was changed.")
