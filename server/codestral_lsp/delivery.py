"""What becomes of a finished answer: an edit, a document, or a test file.

Edits are minimal (only changed hunks), inside the selection, and version-guarded: if the user
edited inside the selection meanwhile, or the editor refuses or declines the edit, nothing is
applied and the answer is kept in private files (its code in the document's language, opened for
the user, and the whole answer as Markdown when it had prose) — a paid-for answer is never
silently lost. Generated tests go to the project's test file, inside the workspace only (see
:mod:`codestral_lsp.project_files`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.uris import from_fs_path, to_fs_path

from codestral_lsp import proposals
from codestral_lsp.actions import ActionSpec
from codestral_lsp.answer import extract_code, fit_to_selection, lines_after_selection
from codestral_lsp.api import Completion
from codestral_lsp.arguments import ActionArgs
from codestral_lsp.edits import Hunk, minimal_hunks
from codestral_lsp.jobs import Job
from codestral_lsp.placement import test_file_for
from codestral_lsp.positions import DocumentView, Selection
from codestral_lsp.private_files import answers_dir, suffix_for, write_private
from codestral_lsp.project_files import (
    ProjectFileError,
    check_inside,
    create_new,
    is_inside,
    read_regular,
    real,
)
from codestral_lsp.proposals import Rewrite
from codestral_lsp.results import ActionResult
from codestral_lsp.settings import Settings
from codestral_lsp.shapes import Plan, plan_rewrite

if TYPE_CHECKING:
    from codestral_lsp.port import Editor, Session

log = logging.getLogger(__name__)


def _stem(uri: str) -> str:
    return Path(to_fs_path(uri) or uri).stem or "answer"


def plan_for(
    spec: ActionSpec, view: DocumentView, selection: Selection, answer: str, instruction: str
) -> Plan:
    """What a rewrite's answer means for the selection: its replacement, or why to keep it."""
    return plan_rewrite(
        answer,
        view.source[: selection.start],
        selection.text,
        view.source[selection.end :],
        language=view.document.language_id or Path(to_fs_path(view.uri) or view.uri).suffix.lstrip("."),
        action=spec.id,
        instruction=instruction,
    )


async def deliver(
    server: Session,
    settings: Settings,
    spec: ActionSpec,
    job: Job,
    view: DocumentView,
    selection: Selection,
    completion: Completion,
    instruction: str = "",
    args: ActionArgs | None = None,
    retry: bool = False,
) -> ActionResult:
    """Turn ``completion`` into the action's outcome; return the command's result.

    Under review (see :func:`codestral_lsp.proposals.review_mode`) an edit becomes a proposal
    (needs ``args``, to run it again on a retry), an annotated edit, or a kept answer. ``retry``:
    the job revises a proposal.

    A rewrite's answer goes through :func:`codestral_lsp.shapes.plan_rewrite`: an answer that
    cannot be mapped exactly onto the selection is kept, with the reason, never applied.
    ``settings`` is the job's snapshot (the limits the answer was asked with).
    """
    if spec.mode == "explain":
        cut = settings.max_tokens if completion.finish_reason == "length" else None
        return await show_markdown(server, spec, view.uri, completion.text, cut_at=cut)
    if completion.finish_reason == "length":
        return await keep_answer(
            server,
            view,
            completion.text,
            f"The answer was cut off at maxTokens ({settings.max_tokens}), so it was not applied; "
            f"raise the maxTokens setting or select less code.",
        )
    why = completion.why_incomplete()
    if why is not None:  # only "stop" means the model finished: never apply a partial answer
        return await keep_answer(server, view, completion.text, f"The answer was not applied: {why}.")
    if spec.mode == "replace":
        plan = plan_for(spec, view, selection, completion.text, instruction)
        if plan.kept:
            log.info("answer kept (%s): %s", plan.shape, plan.sentence())
            kept = await keep_answer(server, view, completion.text, plan.sentence())
            return dataclasses.replace(kept, reason=plan.reason)
        code = plan.code or ""
    else:
        code = extract_code(completion.text)
    if not code.strip():
        message = "The answer had no code in it; nothing was changed."
        server.tell_user(types.MessageType.Warning, message)
        return ActionResult(status="failed", message=message)
    if spec.mode == "tests":
        return await place_tests(server, view, code, completion.text)
    if spec.mode == "insertAfter":
        insert = lines_after_selection(code, selection.text, selection.line_prefix, view.eol)
        hunks = [Hunk(len(selection.text), len(selection.text), insert)]
    else:
        new_text = fit_to_selection(code, selection.text, selection.line_prefix, view.eol)
        hunks = minimal_hunks(selection.text, new_text)
    if not hunks:
        return ActionResult(
            status="unchanged", message="nothing to change: the answer is the code as it already is"
        )
    mode = proposals.review_mode(
        settings.review,
        server.client_declares("reviewsEdits"),
        can_annotate(server),
        proposals.is_multiline_change(selection.text, hunks),
        retry=retry,
    )
    rewrite = Rewrite(spec, job, view, selection, hunks, completion.text)
    if mode == "propose" and args is not None:
        return await propose(server, settings, rewrite, args)
    if mode == "keep":
        return await keep_answer(
            server,
            view,
            completion.text,
            f'The review setting is "always" and this editor cannot show a proposal, so '
            f"{spec.name}'s answer was not applied.",
        )
    return await apply_to_selection(server, rewrite, annotate=mode == "annotate")


def can_annotate(server: Editor) -> bool:
    """True when the client confirms annotated edits (``changeAnnotationSupport``, which needs
    ``documentChanges`` to carry them)."""
    return server.client_capability(
        "workspace.workspace_edit.change_annotation_support", None
    ) is not None and bool(server.client_capability("workspace.workspace_edit.document_changes", False))


async def propose(server: Session, settings: Settings, rewrite: Rewrite, args: ActionArgs) -> ActionResult:
    """Hold the edit as a proposal and answer with it; nothing is applied."""
    spec, job, view, selection, hunks, answer = (
        rewrite.spec, rewrite.job, rewrite.view, rewrite.selection, rewrite.hunks, rewrite.answer
    )  # fmt: skip
    current = server.open_document_view(view.uri)
    located = _locate(current, job, view, selection, "while Codestral was answering")
    if isinstance(located, str):
        return await keep_answer(server, view, answer, located)
    assert current is not None
    proposal = server.open_proposal(rewrite, args, settings)
    edit = _workspace_edit(server, current, _text_edits(current, located, hunks, None))
    name = spec.name
    now = current.range_of(located, located + len(selection.text))  # where the code is now
    return ActionResult(
        status="proposed",
        message=f"{name} proposes {proposals.describe_change(selection.text, hunks)}: accept or reject.",
        job_id=proposal.id,
        uri=view.uri,
        range=now,
        diff=proposals.selection_diff(server.relative_path(view.uri), view, selection, hunks, now.start.line),
        edit=edit,
    )


async def apply_to_selection(
    server: Session, rewrite: Rewrite, annotate: bool = False, when: str = "while Codestral was answering"
) -> ActionResult:
    """Apply hunks (relative to the selection) where the selection is now, if it is intact.

    The edits of one document are sent one at a time, each computed from the text the previous
    one left (a client without versioned edits would otherwise apply them at stale positions).
    ``annotate``: the edits carry a change annotation the user must confirm. ``when`` says when
    a change of the selection would have happened, for the sentence refusing the edit.
    """
    uri = rewrite.view.uri
    lock = server.edit_lock(uri)
    await lock.acquire()
    try:
        result, applied_at = await _apply_now(server, rewrite, annotate, when)
    except BaseException:
        lock.release()
        raise
    if applied_at is None:
        lock.release()
    else:  # hold the document until the editor reports the edit; the result goes out now
        server.jobs.spawn(_release_after_change(server, lock, uri, applied_at), "edit-lock")
    return result


async def _release_after_change(server: Session, lock: asyncio.Lock, uri: str, version: int | None) -> None:
    try:
        await server.wait_for_change(uri, version)
    finally:
        lock.release()


async def _apply_now(
    server: Session, rewrite: Rewrite, annotate: bool, when: str
) -> tuple[ActionResult, int | None]:
    """The result, and the document version the applied edit was computed for (else None)."""
    kept = await _apply_or_reason(server, rewrite, annotate, when)
    if isinstance(kept, str):
        return await keep_answer(server, rewrite.view, rewrite.answer, kept), None
    message = f"applied {proposals.describe_change(rewrite.selection.text, rewrite.hunks)}"
    return ActionResult(status="applied", message=message), kept


async def _apply_or_reason(server: Session, rewrite: Rewrite, annotate: bool, when: str) -> str | int | None:
    """Send the edit; the reason it was not applied, or the document version it was made for."""
    spec, job, view, selection = rewrite.spec, rewrite.job, rewrite.view, rewrite.selection
    hunks = rewrite.hunks
    current = server.open_document_view(view.uri)
    start = _locate(current, job, view, selection, when)
    if isinstance(start, str):
        return start
    assert current is not None
    annotation = None
    if annotate:
        name = spec.name
        annotation = types.ChangeAnnotation(
            label=spec.title, needs_confirmation=True, description=f"Codestral's answer to {name}"
        )
    edit = _workspace_edit(server, current, _text_edits(current, start, hunks, annotation))
    if annotation is not None:
        edit.change_annotations = {proposals.ANNOTATION_ID: annotation}
    job.edit_sent = True
    try:
        result = await server.apply_edit(edit, spec.title)
    except TimeoutError:
        return (
            f"The editor did not confirm the change within {server.client_timeout:g} s, so it may "
            "not have been applied."
        )
    except Exception as error:  # the editor answered with an error (or an answer pygls cannot read)
        log.warning("workspace/applyEdit failed: %s", error)
        return f"The editor answered the change with an error ({_reason(error)})."
    if not isinstance(result, types.ApplyWorkspaceEditResult):
        return "The editor did not say whether it applied the change."
    if not result.applied:
        return _declined("apply the change", result.failure_reason)
    return current.version


def _locate(
    current: DocumentView | None, job: Job, view: DocumentView, selection: Selection, when: str
) -> int | str:
    """Where the selection starts in ``current`` (re-anchored past edits outside it), or the
    sentence saying why the answer cannot be applied there."""
    if current is None:
        return "The document was closed before the answer arrived, so it was not applied."
    if job.conflicted:
        return f"You edited the selected code {when}, so the answer was not applied over your changes."
    if current.version == view.version:
        return selection.start
    start = current.offset_at(job.range.start)
    if current.source[start : start + len(selection.text)] != selection.text:
        return f"The selected code changed {when}, so the answer was not applied."
    return start


def _text_edits(
    current: DocumentView, start: int, hunks: list[Hunk], annotation: types.ChangeAnnotation | None
) -> list[types.TextEdit | types.AnnotatedTextEdit]:
    """The hunks as edits of ``current``, the selection starting at ``start``."""
    if annotation is None:
        return [  # (annotated edits are TextEdits on the wire; the union keeps mypy honest)
            types.TextEdit(range=current.range_of(start + h.start, start + h.end), new_text=h.text)
            for h in hunks
        ]
    return [
        types.AnnotatedTextEdit(
            range=current.range_of(start + h.start, start + h.end),
            new_text=h.text,
            annotation_id=proposals.ANNOTATION_ID,
        )
        for h in hunks
    ]


def _reason(error: Exception) -> str:
    text = " ".join(str(getattr(error, "message", None) or error).split())
    return (text[:200] + "…") if len(text) > 200 else text or type(error).__name__



def _workspace_edit(
    server: Editor, view: DocumentView, edits: list[types.TextEdit | types.AnnotatedTextEdit]
) -> types.WorkspaceEdit:
    if server.client_capability("workspace.workspace_edit.document_changes", False):
        return types.WorkspaceEdit(
            document_changes=[
                types.TextDocumentEdit(
                    text_document=types.OptionalVersionedTextDocumentIdentifier(
                        uri=view.uri, version=view.version
                    ),
                    edits=list(edits),
                )
            ]
        )
    plain = [types.TextEdit(range=e.range, new_text=e.new_text) for e in edits]  # no annotations here
    return types.WorkspaceEdit(changes={view.uri: plain})


def _declined(what: str, failure_reason: str | None) -> str:
    """The sentence for an edit the editor answered with ``applied: false``."""
    why = f": {failure_reason.strip().rstrip('.')}" if failure_reason and failure_reason.strip() else ""
    return f"The editor did not {what}{why}; nothing was changed."


async def _show(server: Editor, path: Path, take_focus: bool = False) -> bool:
    return await server.show_document(from_fs_path(str(path)) or path.as_uri(), take_focus)


def _cut_note(max_tokens: int) -> str:
    return (
        f"\n\n---\n*This explanation was cut off at maxTokens ({max_tokens}): raise the maxTokens "
        f"setting or select less code to read all of it.*\n"
    )


async def show_markdown(
    server: Session, spec: ActionSpec, uri: str, markdown: str, cut_at: int | None = None
) -> ActionResult:
    """An explanation: returned as the result and, where the client can, opened as a document.

    ``cut_at`` is the maxTokens an explanation was cut off at: it then ends with a note saying so.
    """
    message = "explanation ready"
    if cut_at is not None:
        markdown = markdown.rstrip("\n") + _cut_note(cut_at)
        message = f"explanation ready, but cut off at maxTokens ({cut_at})"
    shown = ActionResult(status="shown", message=message, markdown=markdown, truncated=cut_at is not None)
    if server.client_declares("showsExplanations"):
        return shown
    if server.client_capability("window.show_document.support", False):
        try:
            path = write_private(answers_dir(server.env), f"{spec.id}-{_stem(uri)}", ".md", markdown)
        except OSError as error:  # the result still carries the explanation
            log.error("could not write the explanation: %s", error)
            return shown
        await _show(server, path)
        return dataclasses.replace(shown, document_uri=path.as_uri())
    return shown


_FENCE_LINE = re.compile(r"^[ \t]*(`{3,}|~{3,})[^\n`]*$", re.MULTILINE)


def has_prose(answer: str, code: str) -> bool:
    """True when ``answer`` says more than ``code`` and the fences around it."""
    text = answer.replace("\r\n", "\n").replace("\r", "\n")
    body = code.strip("\n")
    rest = text.replace(body, "", 1) if body else text
    return bool(_FENCE_LINE.sub("", rest).strip())


async def keep_answer(
    server: Session, document: DocumentView | str, answer: str, reason: str
) -> ActionResult:
    """Do not apply; keep the answer where the user can use it, open it, and say where and why.

    ``document`` is the document the answer was for (its view, or its URI). ``reason`` is one
    sentence saying why nothing was applied: it starts the message and is the result's
    ``reason``. The code (lifted out of the answer) is kept as a file in the document's language;
    when the answer also had prose, the whole answer is kept beside it as Markdown. Files are
    private (see :mod:`private_files`).
    """
    uri = document if isinstance(document, str) else document.uri
    language = None if isinstance(document, str) else document.document.language_id
    code = extract_code(answer) if answer.strip() else answer
    stem = f"{_stem(uri)}-answer"
    directory = answers_dir(server.env)
    try:
        path = write_private(directory, stem, suffix_for(uri, language), code)
        full = write_private(directory, stem, ".md", answer) if has_prose(answer, code) else None
    except OSError as error:
        log.error("could not keep the answer in %s: %s", directory, error)
        message = (
            f"{reason} The answer could not be saved to a file ({error.strerror}); "
            f"it is in the command result."
        )
        server.tell_user(types.MessageType.Warning, message)
        return ActionResult(status="kept", message=message, answer=answer, reason=reason)
    opened = await _show(server, path)
    where = "The proposed code is open beside yours:" if opened else "The proposed code is kept in"
    message = f"{reason} {where} {path}"
    if full is not None:
        message += f" (the full answer, with Codestral's explanation: {full})"
    server.tell_user(types.MessageType.Warning, message)
    return ActionResult(
        status="kept",
        message=message,
        answer=answer,
        reason=reason,
        answer_uri=path.as_uri(),
        full_answer_uri=full.as_uri() if full is not None else None,
    )


def _append_text(existing: str, code: str, eol: str) -> str:
    """What to add after ``existing`` so ``code`` follows it after a blank line or two."""
    if not existing.strip():
        return code.replace("\n", eol) if eol != "\n" else code
    text = existing.replace("\r\n", "\n").replace("\r", "\n")
    gap = "\n\n\n" if not text.endswith("\n") else ("\n\n" if not text.endswith("\n\n") else "\n")
    added = gap + code
    return added.replace("\n", eol) if eol != "\n" else added


async def place_tests(server: Session, view: DocumentView, code: str, answer: str) -> ActionResult:
    """Put generated tests in the test file a developer would expect, creating it if needed.

    Only inside the workspace folder holding the source (real paths: a symbolic link out of the
    workspace is refused); an existing file is appended to with an edit the editor applies, a new
    one is created by the editor where it can create files, else on disk by the server and then
    opened with ``window/showDocument``.
    """
    source_text = to_fs_path(view.uri)
    if not source_text:
        return await keep_answer(
            server, view, answer, "Generated tests need the document saved as a file to sit beside."
        )
    source = Path(os.path.normpath(source_text))
    folders = server.workspace_folders()
    root = next((f for f in folders if is_inside(source, f)), None)
    # The boundary: every workspace folder, or only its own folder for a document outside them.
    allowed = [real(f) for f in folders] if root is not None else [real(source.parent)]
    target = test_file_for(source, view.document.language_id or "", root)
    shown_as = server.relative_path(from_fs_path(str(target)) or target.as_uri())
    target_uri = from_fs_path(str(target)) or target.as_uri()
    document_changes = bool(server.client_capability("workspace.workspace_edit.document_changes", False))
    operations = server.client_capability("workspace.workspace_edit.resource_operations", None) or []
    can_create = document_changes and types.ResourceOperationKind.Create in operations
    new_text = code.replace("\n", view.eol) if view.eol != "\n" else code  # as the source's lines end
    try:
        real_target = check_inside(target, allowed, f"The test file {shown_as}")
        open_view = server.open_document_view(target_uri)
        if open_view is None and not target.exists() and not target.is_symlink() and not can_create:
            await asyncio.to_thread(create_new, real_target, new_text, f"The test file {shown_as}")
            opened = await _show(server, target, take_focus=True)
            where = "" if opened else f" ({target})"
            return ActionResult(
                status="applied",
                message=f"tests written to the new file {shown_as}{where}",
                test_uri=target_uri,
            )
        if open_view is None and (target.exists() or target.is_symlink()):
            existing = await asyncio.to_thread(read_regular, real_target, f"The test file {shown_as}")
            open_view = server.detached_view(target_uri, existing)
            version = None
        else:
            version = open_view.version if open_view is not None else None
    except ProjectFileError as error:
        return await keep_answer(server, view, answer, str(error))

    if open_view is not None:
        end = open_view.position_at(len(open_view.source))
        added = _append_text(open_view.source, code, open_view.eol)
        text_edit = types.TextEdit(range=types.Range(start=end, end=end), new_text=added)
        new_file = False
    else:
        origin = types.Position(line=0, character=0)
        text_edit = types.TextEdit(range=types.Range(start=origin, end=origin), new_text=new_text)
        new_file = True
    if document_changes:
        changes: list[Any] = []
        if new_file:
            changes.append(
                types.CreateFile(uri=target_uri, options=types.CreateFileOptions(ignore_if_exists=True))
            )
        changes.append(
            types.TextDocumentEdit(
                text_document=types.OptionalVersionedTextDocumentIdentifier(uri=target_uri, version=version),
                edits=[text_edit],
            )
        )
        edit = types.WorkspaceEdit(document_changes=changes)
    else:
        edit = types.WorkspaceEdit(changes={target_uri: [text_edit]})
    result = await server.apply_edit(edit, "Codestral: Generate tests")
    if not result.applied:
        what = f"create {shown_as}" if new_file else f"add the tests to {shown_as}"
        return await keep_answer(server, view, answer, _declined(what, result.failure_reason))
    await _show(server, target)
    verb = "written to the new file" if new_file else "added to"
    return ActionResult(status="applied", message=f"tests {verb} {shown_as}", test_uri=target_uri)
