"""LSP handlers: they register the features and translate between LSP and the stages.

A command's path: ``execute`` (here) → :func:`codestral_lsp.runner.run_action` →
:mod:`codestral_lsp.api.client` (HTTP) → :mod:`codestral_lsp.delivery` (``workspace/applyEdit``)
→ a :class:`codestral_lsp.results.ActionResult`, sent as the command's answer. What the handlers
call lives elsewhere: the menu in :mod:`codestral_lsp.menu`, argument checks in
:mod:`codestral_lsp.arguments`, the catalogue of actions in :mod:`codestral_lsp.actions`,
completion items in :mod:`codestral_lsp.completion_items`. :mod:`codestral_lsp.app` registers
them on the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInternalError, JsonRpcInvalidParams
from pygls.uris import to_fs_path

from codestral_lsp.actions import (
    ACCEPT_COMMAND,
    BUILTIN_ACTIONS,
    CANCEL_COMMAND,
    CLEAR_REVIEW_COMMAND,
    CUSTOM_COMMAND,
    INDEX_COMMAND,
    MODELS_COMMAND,
    REJECT_COMMAND,
    STATUS_COMMAND,
    USAGE_COMMAND,
    spec_for,
)
from codestral_lsp.api import CodestralError
from codestral_lsp.arguments import ArgumentError, option, parse_action_args, proposal_args
from codestral_lsp.completion_items import completion_item, inline_items
from codestral_lsp.menu import CODE_ACTION_KINDS, offered_actions
from codestral_lsp.models import models_json
from codestral_lsp.positions import LspTextDocument, document_key, use_lsp_lines
from codestral_lsp.results import ActionResultJson  # at run time: pygls reads handlers' hints
from codestral_lsp.server import CodestralLanguageServer

if TYPE_CHECKING:  # imported where first used: start-up imports only what `initialize` needs
    from codestral_lsp.completion import Suggestion
    from codestral_lsp.results import ActionResult

log = logging.getLogger(__name__)


async def suggest_at(
    server: CodestralLanguageServer, uri: str, position: types.Position, explicit: bool
) -> Suggestion | None:
    """A completion suggestion; a document the server does not have, or a position outside it,
    answers InvalidParams (a plain sentence, no traceback)."""
    try:
        server.document_view(uri).check_position(position)
    except ArgumentError as error:
        raise JsonRpcInvalidParams(message=str(error)) from None
    return await server.completer.suggest(uri, position, explicit)


async def answered(
    server: CodestralLanguageServer, command: str, work: Callable[[], Awaitable[ActionResult]]
) -> ActionResultJson:
    """Run a command's ``work`` and send its result; bad arguments answer InvalidParams and tell
    the user why, a bug answers InternalError with a plain sentence (the traceback goes to the
    log only)."""
    try:
        return (await work()).to_json()
    except ArgumentError as error:
        server.tell_user(types.MessageType.Error, str(error))
        raise JsonRpcInvalidParams(message=str(error)) from None
    except JsonRpcInvalidParams:
        raise
    except Exception as error:
        log.exception("%s failed", command)
        message = (
            f"{command} failed unexpectedly ({type(error).__name__}); the log has details. Please report it."
        )
        server.tell_user(types.MessageType.Error, message)
        raise JsonRpcInternalError(message=message) from None


async def execute(server: CodestralLanguageServer, command: str, raw: tuple[Any, ...]) -> ActionResultJson:
    """Run an action command (see :func:`answered` for failures)."""
    request_id = server.protocol.msg_id
    settings = await server.current_settings()  # the job's snapshot, read once

    async def work() -> ActionResult:
        args = parse_action_args(command, list(raw))
        spec = spec_for(command, args, settings)
        from codestral_lsp.runner import run_action

        return await run_action(server, spec, args, request_id, settings)

    return await answered(server, command, work)


async def answer_proposal(
    server: CodestralLanguageServer, command: str, raw: tuple[Any, ...]
) -> ActionResultJson:
    """codestral.accept / codestral.reject; a proposal that is not open answers InvalidParams."""
    request_id = server.protocol.msg_id

    async def work() -> ActionResult:
        proposal_id, instruction = proposal_args(command, raw, retries=command == ACCEPT_COMMAND)
        from codestral_lsp.runner import accept_proposal, reject_proposal

        if command == REJECT_COMMAND:
            return reject_proposal(server, proposal_id)
        return await accept_proposal(server, proposal_id, request_id, instruction)

    return await answered(server, command, work)


def _real(uri: str) -> str | None:
    path = to_fs_path(uri)
    return os.path.realpath(path) if path else None


def _buffer_changed(ls: CodestralLanguageServer, uri: str) -> None:
    """An open document changed: the index re-reads its buffer when it next needs it."""
    path = _real(uri)
    if ls.index is not None and path is not None:
        ls.index.mark_dirty(path)


def _reload(ls: CodestralLanguageServer, path: str) -> None:
    """Read a file again from disk, in a thread (the index forgets it if it is gone)."""
    index = ls.index
    if index is None:
        return
    index.dirty.discard(path)

    async def reload() -> None:
        text = await asyncio.to_thread(index.read_again, path)
        if path not in ls.open_paths:  # reopened meanwhile: its buffer counts
            index.reloaded(path, text)

    ls.index_background(reload(), "index-reload")


async def _watch_files(ls: CodestralLanguageServer) -> None:
    """Ask the client to tell us about file changes in the workspace (dynamic registration)."""
    watcher = types.DidChangeWatchedFilesRegistrationOptions(
        watchers=[types.FileSystemWatcher(glob_pattern="**/*")]
    )
    registration = types.Registration(
        id="codestral-watched-files",
        method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
        register_options=watcher,
    )
    await ls.client_register_capability_async(types.RegistrationParams(registrations=[registration]))


def register(server: CodestralLanguageServer) -> None:
    """Register every feature and command on ``server``."""

    @server.feature(types.INITIALIZE)
    def initialize(ls: CodestralLanguageServer, params: types.InitializeParams) -> None:
        ls.initialization_options = params.initialization_options
        use_lsp_lines(ls.workspace)
        ls.apply_settings(params.initialization_options)

    @server.feature(types.INITIALIZED)
    async def initialized(ls: CodestralLanguageServer, params: types.InitializedParams) -> None:
        ls.index_wanted = True  # from the first settings read on, the index follows them
        await ls.reload_settings()
        ls.start_model_check()
        ls.start_index()
        if ls.client_capability("workspace.did_change_watched_files.dynamic_registration", False):
            ls.index_background(_watch_files(ls), "register-file-watcher")

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def configuration_changed(
        ls: CodestralLanguageServer, params: types.DidChangeConfigurationParams
    ) -> None:
        await ls.reload_settings(pushed=params.settings)
        ls.start_model_check()

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def document_changed(ls: CodestralLanguageServer, params: types.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        document = ls.workspace.text_documents.get(document_key(uri))
        if not isinstance(document, LspTextDocument):
            return
        changes, document.last_changes = document.last_changes, []
        moved = False
        path = _real(uri)
        for change in changes:  # as applied: clamped, whole-document changes narrowed
            ls.jobs.document_changed(uri, change, document.units.count)
            ls.proposals.document_changed(uri, change, document.units.count)
            moved = ls.reviews.document_changed(uri, change, document.units.count) or moved
            if path is not None:
                start, end = change.range.start.line, change.range.end.line
                ls.edits.changed(path, start, end, change.text, document.source)
        ls.document_updated(uri)
        if moved:
            ls.send_review_diagnostics(uri)
        _buffer_changed(ls, uri)

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def document_opened(ls: CodestralLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
        path = _real(params.text_document.uri)
        if path is not None:
            ls.open_paths[path] = params.text_document.uri
        _buffer_changed(ls, params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def document_saved(ls: CodestralLanguageServer, params: types.DidSaveTextDocumentParams) -> None:
        _buffer_changed(ls, params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def document_closed(ls: CodestralLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
        path = _real(params.text_document.uri)
        if path is not None:
            ls.open_paths.pop(path, None)
            _reload(ls, path)  # the disk's version counts again
        ls.proposals.drop_document(params.text_document.uri)
        if ls.reviews.clear(params.text_document.uri):
            ls.send_review_diagnostics(params.text_document.uri)

    @server.feature(
        types.TEXT_DOCUMENT_DIAGNOSTIC,
        types.DiagnosticOptions(
            identifier="codestral", inter_file_dependencies=False, workspace_diagnostics=False
        ),
    )
    def pull_diagnostics(
        ls: CodestralLanguageServer, params: types.DocumentDiagnosticParams
    ) -> types.RelatedFullDocumentDiagnosticReport:
        # Only clients that can be told to pull again get them here; the others get them pushed.
        uri = params.text_document.uri
        items = ls.reviews.diagnostics(uri) if ls.pulls_diagnostics() else []
        return types.RelatedFullDocumentDiagnosticReport(items=items)

    @server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    def folders_changed(ls: CodestralLanguageServer, params: types.DidChangeWorkspaceFoldersParams) -> None:
        ls.start_index()  # (re)built for the new set of folders

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def files_changed(ls: CodestralLanguageServer, params: types.DidChangeWatchedFilesParams) -> None:
        index = ls.index
        if index is None:
            return
        for change in params.changes:
            path = _real(change.uri)
            if path is None or path in ls.open_paths:
                continue  # an open document's buffer wins over the disk
            if change.type == types.FileChangeType.Deleted:
                ls.edits.forget(path)
                index.remove(path)
                for known in [p for p in index.files if p.startswith(path + os.sep)]:
                    index.remove(known)  # a deleted folder
            else:
                _reload(ls, path)

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(code_action_kinds=CODE_ACTION_KINDS)
    )
    async def code_action(
        ls: CodestralLanguageServer, params: types.CodeActionParams
    ) -> list[types.CodeAction] | None:
        if not ls.settings_ready.is_set():  # right after start-up: user actions come from settings
            await ls.current_settings()
        prompts = ls.client_declares("promptForInstruction")
        return offered_actions(params, ls.settings.actions, prompts) or None

    def action_command(name: str) -> None:
        @server.command(name)
        async def run(ls: CodestralLanguageServer, *raw: Any) -> ActionResultJson:
            return await execute(ls, name, raw)

    for name in [*(f"codestral.{a}" for a in BUILTIN_ACTIONS), CUSTOM_COMMAND]:
        action_command(name)

    @server.command(CANCEL_COMMAND)
    def cancel(ls: CodestralLanguageServer, *raw: Any) -> dict[str, int]:
        uri = option(raw, "uri")
        count = ls.jobs.cancel(uri if isinstance(uri, str) else None, reason="cancelled")
        return {"cancelled": count}

    def proposal_command(name: str) -> None:
        @server.command(name)
        async def run(ls: CodestralLanguageServer, *raw: Any) -> ActionResultJson:
            return await answer_proposal(ls, name, raw)

    proposal_command(ACCEPT_COMMAND)
    proposal_command(REJECT_COMMAND)

    @server.command(CLEAR_REVIEW_COMMAND)
    def clear_review(ls: CodestralLanguageServer, *raw: Any) -> dict[str, int]:
        uri = option(raw, "uri")
        cleared = ls.reviews.clear(uri if isinstance(uri, str) else None)
        ls.send_review_diagnostics(*cleared)
        return {"cleared": len(cleared)}

    @server.command(MODELS_COMMAND)
    async def models(ls: CodestralLanguageServer, *raw: Any) -> dict[str, Any]:
        await ls.current_settings()
        await ls.model_check_done()
        refresh = bool(option(raw, "refresh"))
        try:
            served = await ls.endpoint_models(refresh=refresh)
        except CodestralError as error:
            message = f"The endpoint's models could not be listed: {error}"
            ls.tell_user(types.MessageType.Error, message)
            return {"status": "failed", "message": message}
        return {"status": "shown", "models": models_json(served)}

    @server.command(STATUS_COMMAND)
    def status(ls: CodestralLanguageServer, *raw: Any) -> dict[str, int]:
        return {
            "runningJobs": len(ls.jobs.jobs),
            "backgroundTasks": len(ls.jobs.background),
            "completionsInFlight": ls.completer.in_flight(),
            "openProposals": ls.expire_proposals(),
        }

    @server.command(INDEX_COMMAND)
    async def index_status(ls: CodestralLanguageServer, *raw: Any) -> dict[str, object]:
        wait = bool(option(raw, "wait"))
        await ls.current_settings()
        if wait:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ls.index_settled(), 60)
        index = ls.index
        return {
            "enabled": index is not None,
            "ready": bool(index and index.ready),
            "files": len(index.files) if index else 0,
            "definitions": sum(len(e.definitions) for e in index.files.values()) if index else 0,
        }

    @server.command(USAGE_COMMAND)
    def usage(ls: CodestralLanguageServer, *raw: Any) -> dict[str, object]:
        return ls.usage.as_result()

    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(
        ls: CodestralLanguageServer, params: types.InlineCompletionParams
    ) -> types.InlineCompletionList | None:
        await ls.current_settings()
        explicit = params.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked
        suggestion = await suggest_at(ls, params.text_document.uri, params.position, explicit)
        return inline_items(suggestion) if suggestion is not None else None

    @server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions())
    async def completion(
        ls: CodestralLanguageServer, params: types.CompletionParams
    ) -> types.CompletionList | None:
        await ls.current_settings()
        inline = ls.client_capability("text_document.inline_completion", None) is not None
        if not ls.settings.completion.fallback_completion_item or inline:  # inline items are better
            return None
        explicit = (
            params.context is not None and params.context.trigger_kind == types.CompletionTriggerKind.Invoked
        )
        suggestion = await suggest_at(ls, params.text_document.uri, params.position, explicit)
        if suggestion is None:
            return None
        view = ls.open_document_view(params.text_document.uri)
        return types.CompletionList(is_incomplete=True, items=[completion_item(view, suggestion)])

    @server.feature(types.SHUTDOWN)
    async def shutdown(ls: CodestralLanguageServer, params: None) -> None:
        await ls.close()
