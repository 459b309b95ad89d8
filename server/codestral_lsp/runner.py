"""One action from command to result: the path a request takes through the server.

``run_action``: validate the arguments against the open document → build the context and the
prompt → register the job (cancelling overlapping older ones) → stream the answer with progress
→ hand the finished answer to :mod:`codestral_lsp.delivery` (edit, document, or test file).
Failures of any kind end the progress, tell the user one sentence, and return a result.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import aclosing, suppress
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from codestral_lsp import delivery
from codestral_lsp.actions import ActionArgs, ActionSpec
from codestral_lsp.api import CodestralClient, CodestralError, Completion, TextDelta
from codestral_lsp.api.bodies import ChatRequest, Message
from codestral_lsp.context import CodeContext, DiagnosticInfo, build_context
from codestral_lsp.positions import ArgumentError, DocumentView, Selection
from codestral_lsp.progress import JobProgress
from codestral_lsp.prompts import PromptParts, describe_diagnostics, render_template, user_message
from codestral_lsp.usage import usage_or_estimate

if TYPE_CHECKING:
    from codestral_lsp.server import CodestralLanguageServer

log = logging.getLogger(__name__)

PROGRESS_GRACE_SECONDS = 1.0  # how long a finished job waits for the editor to accept its token
_SEVERITY = {1: "error", 2: "warning", 3: "info", 4: "hint"}


def diagnostics_for(selection: Selection, diagnostics: tuple[types.Diagnostic, ...]) -> list[DiagnosticInfo]:
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


def make_context(
    server: CodestralLanguageServer, view: DocumentView, selection: Selection, args: ActionArgs
) -> CodeContext:
    """The context of a selection, within the configured budget."""
    settings = server.settings.context
    return build_context(
        view.lines,
        selection.first_line,
        selection.last_line,
        selection.text,
        language=view.document.language_id or _language_from_path(view.uri),
        path=server.relative_path(view.uri),
        budget_chars=settings.budget_chars,
        nearby_lines=settings.nearby_lines,
        diagnostics=diagnostics_for(selection, args.diagnostics),
    )


def _language_from_path(uri: str) -> str:
    return PurePath(uri).suffix.lstrip(".")


def make_request(
    server: CodestralLanguageServer,
    spec: ActionSpec,
    context: CodeContext,
    args: ActionArgs,
    client: CodestralClient,
) -> ChatRequest:
    """The chat request for an action: its system prompt, the context, and the selection."""
    settings = server.settings
    if spec.template is not None:
        parts = PromptParts(
            selection=context.selection,
            language=context.language,
            path=context.path,
            diagnostics=describe_diagnostics(context),
            instruction=args.instruction or "",
        )
        task = render_template(spec.template, parts)
        content = user_message(context, task)
    else:
        content = user_message(context, spec.task, args.instruction)
    prediction = None
    predict = settings.predicted_outputs
    if spec.rewrites and (predict is True or (predict == "auto" and client.endpoint.is_mistral)):
        prediction = context.selection
    return ChatRequest(
        model=settings.model,
        messages=[Message("system", spec.system_prompt), Message("user", content)],
        temperature=settings.temperature,
        max_tokens=settings.max_tokens,
        prediction=prediction,
    )


async def stream_answer(
    client: CodestralClient, request: ChatRequest, progress: JobProgress, chars_per_token: float
) -> Completion:
    """Stream the answer, reporting progress; return the finished :class:`Completion`."""
    received = 0
    tail = ""
    completion: Completion | None = None

    def on_retry(notice: Any) -> None:
        progress.report(notice.describe(), force=True)

    async with aclosing(client.stream_chat(request, on_retry=on_retry)) as stream:
        async for item in stream:
            if isinstance(item, TextDelta):
                received += len(item.text)
                tail = (tail + item.text)[-400:]
                progress.streaming(received, int(received / chars_per_token), tail)
            else:
                completion = item
    assert completion is not None  # the client always ends a stream with one
    return completion


def _status(status: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"status": status, "message": message, **extra}


async def run_action(
    server: CodestralLanguageServer, spec: ActionSpec, args: ActionArgs, request_id: Any
) -> dict[str, Any]:
    """Run one action to its end; see the module docstring. Raises only :class:`ArgumentError`."""
    view = server.document_view(args.uri)
    selection = view.selection(args.range)
    if not selection.text.strip():
        raise ArgumentError(f"{spec.title} needs a selection: select the code first.")
    if spec.needs_instruction and not args.instruction:
        raise ArgumentError(f'{spec.title} needs an "instruction" saying what to change.')
    try:
        client = server.api_client()
    except CodestralError as error:
        server.tell_user(types.MessageType.Error, str(error))
        return _status("failed", str(error))

    context = make_context(server, view, selection, args)
    request = make_request(server, spec, context, args, client)
    job, superseded = server.jobs.add(args.uri, spec.title, selection.range, request_id)
    for old in superseded:
        server.tell_user(
            types.MessageType.Info,
            f"Cancelled the earlier {old.title}: a new one was started on the same code.",
        )
    progress = JobProgress(server, spec.title, on_cancel=lambda: job.cancel("cancelled from the editor"))
    outcome = "failed"
    answer: list[Completion] = []  # the finished answer, once it has arrived

    async def work() -> dict[str, Any]:
        completion = await stream_answer(client, request, progress, server.settings.context.chars_per_token)
        answer.append(completion)
        usage, estimated = usage_or_estimate(
            completion.usage,
            sum(len(m.content) for m in request.messages),
            len(completion.text),
            server.settings.context.chars_per_token,
        )
        cost = server.usage.add(usage, server.settings.price_for(request.model), estimated)
        result = await delivery.deliver(server, spec, job, view, selection, completion)
        tokens = f"{usage.total_tokens:,} tokens" + (f", ${cost:.4f}" if cost else "")
        result["usage"] = {
            "promptTokens": usage.prompt_tokens,
            "completionTokens": usage.completion_tokens,
            "estimatedCostUsd": round(cost, 6),
        }
        result["_outcome"] = f"{result['message']} ({tokens})"
        return result

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
            result = await running
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # the server itself is stopping this request
            reason = job.cancel_reason or "cancelled"
            if job.edit_sent and answer:
                kept = await delivery.keep_answer(
                    server,
                    view.uri,
                    answer[0].text,
                    f"{spec.title} was {reason} before the editor confirmed the change, so it may or may "
                    "not have been applied.",
                )
                outcome = f"cancelled: {reason}; the change was not confirmed"
                return {**kept, "status": "cancelled"}
            outcome = f"cancelled: {reason}; nothing was changed"
            return _status("cancelled", f"{spec.title} {outcome}.")
        outcome = result.pop("_outcome")
        return result
    except CodestralError as error:
        outcome = f"failed: {error}"
        server.tell_user(types.MessageType.Error, f"{spec.title} failed: {error}")
        return _status("failed", str(error))
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
