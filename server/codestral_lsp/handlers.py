"""LSP handlers: thin adapters from requests to the modules that do the work.

A command's path: ``execute`` (here) → :func:`codestral_lsp.runner.run_action` →
:mod:`codestral_lsp.api.client` (HTTP) → :mod:`codestral_lsp.delivery` (``workspace/applyEdit``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.capabilities import get_capability
from pygls.exceptions import JsonRpcInternalError, JsonRpcInvalidParams
from pygls.uris import to_fs_path

from codestral_lsp.actions import (
    ACCEPT_COMMAND,
    BUILTIN_ACTIONS,
    CANCEL_COMMAND,
    CLEAR_REVIEW_COMMAND,
    CUSTOM_COMMAND,
    INDEX_COMMAND,
    MENU_ORDER,
    MODELS_COMMAND,
    REJECT_COMMAND,
    STATUS_COMMAND,
    UNDIAGNOSED_FIX,
    USAGE_COMMAND,
    ActionSpec,
    custom_spec,
    diagnostic_json,
    kind_allowed,
    parse_action_args,
    range_json,
    ranges_intersect,
)
from codestral_lsp.api import CodestralError
from codestral_lsp.models import models_json
from codestral_lsp.positions import ArgumentError, LspTextDocument, document_key, use_lsp_lines
from codestral_lsp.review import SOURCE as REVIEW_SOURCE
from codestral_lsp.server import CodestralLanguageServer

if TYPE_CHECKING:  # imported where first used: start-up imports only what `initialize` needs
    from codestral_lsp.completion import Suggestion

log = logging.getLogger(__name__)

_WORD_END = re.compile(r"\w*$")

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


def client_has_inline_completion(server: CodestralLanguageServer) -> bool:
    """True when the client declared ``textDocument.inlineCompletion`` (LSP 3.18)."""
    return get_capability(server.client_capabilities, "text_document.inline_completion", None) is not None


def completion_item(
    server: CodestralLanguageServer, uri: str, suggestion: Suggestion
) -> types.CompletionItem:
    """The suggestion as one completion item, for clients without inline completion.

    Its edit starts at the word being typed, so the client's filtering on that word keeps it.
    """
    view = server.open_document_view(uri)
    position = suggestion.position
    word = ""
    if view is not None:
        offset = view.offset_at(position)
        line_start = view.source.rfind("\n", 0, offset) + 1
        word = _WORD_END.search(view.source[line_start:offset]).group(0)  # type: ignore[union-attr]
        start = view.position_at(offset - len(word))
    else:
        start = position
    first_line = suggestion.text.strip().splitlines()[0] if suggestion.text.strip() else suggestion.text
    return types.CompletionItem(
        label=(word + first_line)[:80],
        kind=types.CompletionItemKind.Text,
        detail="Codestral",
        filter_text=word + suggestion.text,
        sort_text="0",
        text_edit=types.TextEdit(
            range=types.Range(start=start, end=position), new_text=word + suggestion.text
        ),
        insert_text_format=types.InsertTextFormat.PlainText,
    )


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
    server: CodestralLanguageServer, params: types.CodeActionParams
) -> list[types.CodeAction]:
    """The Codestral code actions for a range: no I/O, no document access."""
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
    prompts = server.client_declares("promptForInstruction")
    specs: list[ActionSpec] = [
        BUILTIN_ACTIONS[a] for a in MENU_ORDER if a != "fix" and (a != "edit" or prompts)
    ]
    specs += [custom_spec(a) for a in server.settings.actions]
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


async def execute(server: CodestralLanguageServer, command: str, raw: tuple[Any, ...]) -> dict[str, Any]:
    """Run an action command; bad arguments answer InvalidParams and tell the user why."""
    request_id = server.protocol.msg_id
    settings = await server.current_settings()  # the job's snapshot, read once
    try:
        args = parse_action_args(command, list(raw))
        if command == CUSTOM_COMMAND:
            action = settings.action(args.action or "")
            if action is None:
                known = ", ".join(a.id for a in settings.actions) or "none defined"
                raise ArgumentError(
                    f"There is no action {args.action!r} in the codestral.actions setting (known: {known})."
                )
            spec = custom_spec(action)
        else:
            spec = BUILTIN_ACTIONS[command.removeprefix("codestral.")]
            if spec.id == "fix" and not args.diagnostics:
                spec = UNDIAGNOSED_FIX
        from codestral_lsp.runner import run_action

        return await run_action(server, spec, args, request_id, settings)
    except ArgumentError as error:
        server.tell_user(types.MessageType.Error, str(error))
        raise JsonRpcInvalidParams(message=str(error)) from None
    except JsonRpcInvalidParams:
        raise
    except Exception as error:  # a bug: say so plainly, keep the traceback for the log only
        log.exception("%s failed", command)
        message = (
            f"{command} failed unexpectedly ({type(error).__name__}); the log has details. Please report it."
        )
        server.tell_user(types.MessageType.Error, message)
        raise JsonRpcInternalError(message=message) from None


def _proposal_args(command: str, raw: tuple[Any, ...]) -> tuple[object, str | None]:
    """The ``jobId`` (and, for a retry, the ``instruction``) of codestral.accept / reject."""
    if len(raw) != 1 or not isinstance(raw[0], dict):
        raise ArgumentError(f'{command} takes one argument object {{"jobId": …}}.')
    instruction = raw[0].get("instruction")
    if "instruction" not in raw[0] or command == REJECT_COMMAND:  # null too is a retry, refused
        return raw[0].get("jobId"), None
    if not isinstance(instruction, str) or not instruction.strip():  # never an accept by mistake
        raise ArgumentError(
            f'A retry needs an "instruction" saying what to change, got {instruction!r}; '
            "the proposal is still open."
        )
    return raw[0].get("jobId"), instruction.strip()


async def answer_proposal(
    server: CodestralLanguageServer, command: str, raw: tuple[Any, ...]
) -> dict[str, Any]:
    """codestral.accept / codestral.reject; a proposal that is not open answers InvalidParams."""
    request_id = server.protocol.msg_id
    try:
        proposal_id, instruction = _proposal_args(command, raw)
        from codestral_lsp.runner import accept_proposal, reject_proposal

        if command == REJECT_COMMAND:
            return reject_proposal(server, proposal_id)
        return await accept_proposal(server, proposal_id, request_id, instruction)
    except ArgumentError as error:
        server.tell_user(types.MessageType.Error, str(error))
        raise JsonRpcInvalidParams(message=str(error)) from None
    except Exception as error:  # a bug: say so plainly, keep the traceback for the log only
        log.exception("%s failed", command)
        message = (
            f"{command} failed unexpectedly ({type(error).__name__}); the log has details. Please report it."
        )
        server.tell_user(types.MessageType.Error, message)
        raise JsonRpcInternalError(message=message) from None


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
        if get_capability(
            ls.client_capabilities, "workspace.did_change_watched_files.dynamic_registration", False
        ):
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
        return offered_actions(ls, params) or None

    def action_command(name: str) -> None:
        @server.command(name)
        async def run(ls: CodestralLanguageServer, *raw: Any) -> dict[str, Any]:
            return await execute(ls, name, raw)

    for name in [*(f"codestral.{a}" for a in BUILTIN_ACTIONS), CUSTOM_COMMAND]:
        action_command(name)

    @server.command(CANCEL_COMMAND)
    def cancel(ls: CodestralLanguageServer, *raw: Any) -> dict[str, int]:
        uri = raw[0].get("uri") if raw and isinstance(raw[0], dict) else None
        count = ls.jobs.cancel(uri if isinstance(uri, str) else None, reason="cancelled")
        return {"cancelled": count}

    def proposal_command(name: str) -> None:
        @server.command(name)
        async def run(ls: CodestralLanguageServer, *raw: Any) -> dict[str, Any]:
            return await answer_proposal(ls, name, raw)

    proposal_command(ACCEPT_COMMAND)
    proposal_command(REJECT_COMMAND)

    @server.command(CLEAR_REVIEW_COMMAND)
    def clear_review(ls: CodestralLanguageServer, *raw: Any) -> dict[str, int]:
        uri = raw[0].get("uri") if raw and isinstance(raw[0], dict) else None
        cleared = ls.reviews.clear(uri if isinstance(uri, str) else None)
        ls.send_review_diagnostics(*cleared)
        return {"cleared": len(cleared)}

    @server.command(MODELS_COMMAND)
    async def models(ls: CodestralLanguageServer, *raw: Any) -> dict[str, Any]:
        await ls.current_settings()
        await ls.model_check_done()
        refresh = bool(raw and isinstance(raw[0], dict) and raw[0].get("refresh"))
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
        wait = bool(raw and isinstance(raw[0], dict) and raw[0].get("wait"))
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
        if suggestion is None:
            return None
        here = types.Range(start=suggestion.position, end=suggestion.position)
        return types.InlineCompletionList(
            items=[types.InlineCompletionItem(insert_text=suggestion.text, range=here)]
        )

    @server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions())
    async def completion(
        ls: CodestralLanguageServer, params: types.CompletionParams
    ) -> types.CompletionList | None:
        await ls.current_settings()
        if not ls.settings.completion.fallback_completion_item or client_has_inline_completion(ls):
            return None
        explicit = (
            params.context is not None and params.context.trigger_kind == types.CompletionTriggerKind.Invoked
        )
        suggestion = await suggest_at(ls, params.text_document.uri, params.position, explicit)
        if suggestion is None:
            return None
        return types.CompletionList(
            is_incomplete=True, items=[completion_item(ls, params.text_document.uri, suggestion)]
        )

    @server.feature(types.SHUTDOWN)
    async def shutdown(ls: CodestralLanguageServer, params: None) -> None:
        await ls.close()
