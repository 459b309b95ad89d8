"""What becomes of a finished answer: an edit, a document, or a test file.

Edits are minimal (only changed hunks), inside the selection, and version-guarded: if the user
edited inside the selection meanwhile, or the editor refuses the edit, nothing is applied and
the answer is kept in a private file that is opened for the user — a paid-for answer is never
silently lost.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.capabilities import get_capability
from pygls.uris import from_fs_path, to_fs_path

from codestral_lsp.actions import ActionSpec
from codestral_lsp.answer import extract_code, fit_to_selection, lines_after_selection
from codestral_lsp.api import Completion
from codestral_lsp.edits import Hunk, minimal_hunks
from codestral_lsp.jobs import Job
from codestral_lsp.placement import test_file_for
from codestral_lsp.positions import DocumentView, Selection
from codestral_lsp.private_files import answers_dir, write_private

if TYPE_CHECKING:
    from codestral_lsp.server import CodestralLanguageServer

log = logging.getLogger(__name__)


def _result(status: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"status": status, "message": message, **extra}


def _stem(uri: str) -> str:
    return Path(to_fs_path(uri) or uri).stem or "answer"


async def deliver(
    server: CodestralLanguageServer,
    spec: ActionSpec,
    job: Job,
    view: DocumentView,
    selection: Selection,
    completion: Completion,
) -> dict[str, Any]:
    """Turn ``completion`` into the action's outcome; return the command's result."""
    if spec.mode == "explain":
        return await show_markdown(server, spec, view.uri, completion.text)
    if completion.truncated:
        return await keep_answer(
            server,
            view.uri,
            completion.text,
            f"The answer was cut off at maxTokens ({server.settings.max_tokens}), so it was not applied; "
            f"raise the maxTokens setting or select less code.",
        )
    code = extract_code(completion.text)
    if not code.strip():
        message = "Codestral answered with no code; nothing was changed."
        server.tell_user(types.MessageType.Warning, message)
        return _result("failed", message)
    if spec.mode == "tests":
        return await place_tests(server, view, code)
    if spec.mode == "insertAfter":
        insert = lines_after_selection(code, selection.text, selection.line_prefix, view.eol)
        hunks = [Hunk(len(selection.text), len(selection.text), insert)]
    else:
        new_text = fit_to_selection(code, selection.text, selection.line_prefix, view.eol)
        hunks = minimal_hunks(selection.text, new_text)
    if not hunks:
        return _result("unchanged", "nothing to change: Codestral kept the code as it is")
    return await apply_to_selection(server, spec, job, view, selection, hunks, completion.text)


async def apply_to_selection(
    server: CodestralLanguageServer,
    spec: ActionSpec,
    job: Job,
    view: DocumentView,
    selection: Selection,
    hunks: list[Hunk],
    answer: str,
) -> dict[str, Any]:
    """Apply hunks (relative to the selection) where the selection is now, if it is intact.

    The edits of one document are sent one at a time, each computed from the text the previous
    one left (a client without versioned edits would otherwise apply them at stale positions).
    """
    lock = server.edit_lock(view.uri)
    await lock.acquire()
    try:
        result, applied_at = await _apply_now(server, spec, job, view, selection, hunks, answer)
    except BaseException:
        lock.release()
        raise
    if applied_at is None:
        lock.release()
    else:  # hold the document until the editor reports the edit; the result goes out now
        server.jobs.spawn(_release_after_change(server, lock, view.uri, applied_at), "edit-lock")
    return result


async def _release_after_change(
    server: CodestralLanguageServer, lock: asyncio.Lock, uri: str, version: int | None
) -> None:
    try:
        await server.wait_for_change(uri, version)
    finally:
        lock.release()


async def _apply_now(
    server: CodestralLanguageServer,
    spec: ActionSpec,
    job: Job,
    view: DocumentView,
    selection: Selection,
    hunks: list[Hunk],
    answer: str,
) -> tuple[dict[str, Any], int | None]:
    """The result, and the document version the applied edit was computed for (else None)."""
    kept = await _apply_or_reason(server, spec, job, view, selection, hunks)
    if isinstance(kept, str):
        return await keep_answer(server, view.uri, answer, kept), None
    version, hunk_count, changed = kept
    message = f"applied {_plural(hunk_count, 'change')} ({_plural(changed, 'line')})"
    return _result("applied", message), version


async def _apply_or_reason(
    server: CodestralLanguageServer,
    spec: ActionSpec,
    job: Job,
    view: DocumentView,
    selection: Selection,
    hunks: list[Hunk],
) -> str | tuple[int | None, int, int]:
    """Send the edit; the reason it was not applied, or (version, hunks, lines changed)."""
    current = server.open_document_view(view.uri)
    if current is None:
        return "The document was closed before the answer arrived, so it was not applied."
    if job.conflicted:
        return (
            "You edited the selected code while Codestral was answering, so the answer was not "
            "applied over your changes."
        )
    if current.version == view.version:
        start = selection.start
    else:
        start = current.offset_at(job.range.start)
        if current.source[start : start + len(selection.text)] != selection.text:
            return "The selected code changed while Codestral was answering, so the answer was not applied."
    edits = [
        types.TextEdit(range=current.range_of(start + h.start, start + h.end), new_text=h.text) for h in hunks
    ]
    edit = _workspace_edit(server, current, edits)
    job.edit_sent = True
    try:
        result = await server.workspace_apply_edit_async(
            types.ApplyWorkspaceEditParams(edit=edit, label=spec.title)
        )
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
        reason = f" ({result.failure_reason})" if result.failure_reason else ""
        return f"The editor did not apply the change{reason}."
    changed = sum(max(1, len(h.text.splitlines())) for h in hunks)
    return current.version, len(hunks), changed


def _reason(error: Exception) -> str:
    text = " ".join(str(getattr(error, "message", None) or error).split())
    return (text[:200] + "…") if len(text) > 200 else text or type(error).__name__


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _workspace_edit(
    server: CodestralLanguageServer, view: DocumentView, edits: list[types.TextEdit]
) -> types.WorkspaceEdit:
    if get_capability(server.client_capabilities, "workspace.workspace_edit.document_changes", False):
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
    return types.WorkspaceEdit(changes={view.uri: list(edits)})


async def _show(server: CodestralLanguageServer, path: Path) -> bool:
    if not get_capability(server.client_capabilities, "window.show_document.support", False):
        return False
    uri = from_fs_path(str(path)) or path.as_uri()
    try:
        shown = await server.window_show_document_async(types.ShowDocumentParams(uri=uri, take_focus=False))
    except Exception as exc:
        log.warning("showDocument failed: %s", exc)
        return False
    return isinstance(shown, types.ShowDocumentResult) and bool(shown.success)


async def show_markdown(
    server: CodestralLanguageServer, spec: ActionSpec, uri: str, markdown: str
) -> dict[str, Any]:
    """An explanation: returned as the result and, where the client can, opened as a document."""
    extra: dict[str, Any] = {"markdown": markdown}
    if server.client_declares("showsExplanations"):
        return _result("shown", "explanation ready", **extra)
    if get_capability(server.client_capabilities, "window.show_document.support", False):
        path = write_private(answers_dir(server.env), f"{spec.id}-{_stem(uri)}", ".md", markdown)
        extra["documentUri"] = path.as_uri()
        await _show(server, path)
    return _result("shown", "explanation ready", **extra)


async def keep_answer(server: CodestralLanguageServer, uri: str, answer: str, reason: str) -> dict[str, Any]:
    """Do not apply; keep the answer in a private file, open it, and tell the user where."""
    suffix = Path(to_fs_path(uri) or uri).suffix or ".txt"
    path = write_private(answers_dir(server.env), f"{_stem(uri)}-answer", suffix, answer)
    opened = await _show(server, path)
    where = "It is open beside your code" if opened else "It is kept"
    message = f"{reason} {where}: {path}"
    server.tell_user(types.MessageType.Warning, message)
    return _result("kept", message, answerUri=path.as_uri(), answer=answer)


async def place_tests(server: CodestralLanguageServer, view: DocumentView, code: str) -> dict[str, Any]:
    """Put generated tests in the test file a developer would expect, creating it if needed."""
    source_path = to_fs_path(view.uri)
    caps = server.client_capabilities
    operations = get_capability(caps, "workspace.workspace_edit.resource_operations", None) or []
    can_create = types.ResourceOperationKind.Create in operations and get_capability(
        caps, "workspace.workspace_edit.document_changes", False
    )
    if not source_path or not can_create:
        return await keep_answer(
            server, view.uri, code, "Generated tests could not be written into your project by this editor."
        )
    target = test_file_for(Path(source_path), view.document.language_id or "", server.workspace_root())
    target_uri = from_fs_path(str(target)) or target.as_uri()
    open_view = server.open_document_view(target_uri)
    changes: list[Any] = []
    if open_view is not None or target.exists():
        existing = (
            open_view.source
            if open_view is not None
            else target.read_text(encoding="utf-8", errors="replace")
        )
        end_line = existing.count("\n")
        end_char = len(existing) - (existing.rfind("\n") + 1)
        separator = (
            "" if not existing or existing.endswith("\n\n") else ("\n" if existing.endswith("\n") else "\n\n")
        )
        if open_view is not None:
            position = open_view.position_at(len(existing))
        else:
            position = types.Position(line=end_line, character=end_char)
        text_edit = types.TextEdit(
            range=types.Range(start=position, end=position), new_text=separator + "\n" + code
        )
        version = open_view.version if open_view is not None else None
    else:
        changes.append(
            types.CreateFile(uri=target_uri, options=types.CreateFileOptions(ignore_if_exists=True))
        )
        origin = types.Position(line=0, character=0)
        text_edit = types.TextEdit(range=types.Range(start=origin, end=origin), new_text=code)
        version = None
    changes.append(
        types.TextDocumentEdit(
            text_document=types.OptionalVersionedTextDocumentIdentifier(uri=target_uri, version=version),
            edits=[text_edit],
        )
    )
    result = await server.workspace_apply_edit_async(
        types.ApplyWorkspaceEditParams(
            edit=types.WorkspaceEdit(document_changes=changes), label="Codestral: Generate tests"
        )
    )
    if not result.applied:
        reason = f" ({result.failure_reason})" if result.failure_reason else ""
        return await keep_answer(server, view.uri, code, f"The editor did not create the test file{reason}.")
    await _show(server, target)
    return _result("applied", f"tests written to {target.name}", testUri=target_uri)
