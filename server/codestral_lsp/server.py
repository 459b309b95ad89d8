"""The language server object: the state of one editor session, and the editor port.

:class:`CodestralLanguageServer` implements :class:`codestral_lsp.port.Session`, the narrow port
the stages (runner, delivery, completion, progress) are typed by; it imports neither them nor the
handlers. :func:`codestral_lsp.app.create_server` builds it and registers the handlers
(:mod:`codestral_lsp.handlers`), which stay thin: what they call lives in the stages and in pure
modules (context, prompts, answer, edits).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Awaitable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.capabilities import get_capability
from pygls.exceptions import JsonRpcException, JsonRpcInternalError, JsonRpcInvalidParams
from pygls.io_ import StdoutWriter, run_async
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method
from pygls.uris import to_fs_path

from codestral_lsp import __version__
from codestral_lsp.api.endpoint import Endpoint, allowed_key_vars, resolve_endpoint
from codestral_lsp.api.errors import CodestralError
from codestral_lsp.api.types import ModelInfo, RetryPolicy, Timeouts
from codestral_lsp.arguments import ArgumentError
from codestral_lsp.jobs import JobRegistry
from codestral_lsp.models import model_problems
from codestral_lsp.positions import DocumentView, LspTextDocument, document_key
from codestral_lsp.recent_edits import EditHistory
from codestral_lsp.redaction import REDACTOR
from codestral_lsp.review import ReviewStore
from codestral_lsp.settings import Settings, parse_settings
from codestral_lsp.transport import BoundedStdinReader
from codestral_lsp.usage import UsageTotals

if TYPE_CHECKING:  # imported where first used: start-up imports only what `initialize` needs
    from codestral_lsp.api.client import CodestralClient
    from codestral_lsp.arguments import ActionArgs
    from codestral_lsp.completion import InlineCompleter
    from codestral_lsp.crossfile import WindowCache
    from codestral_lsp.proposals import Proposal, ProposalStore, Rewrite
    from codestral_lsp.workspace_index import WorkspaceIndex

log = logging.getLogger(__name__)

SETTINGS_WAIT_SECONDS = 5.0
CLIENT_REQUEST_SECONDS = 30.0  # how long a request to the editor may go unanswered
DOCUMENT_CHANGE_SECONDS = 2.0  # how long to wait for the didChange that follows an applied edit
MODELS_RETRY_SECONDS = 300.0  # how soon an endpoint whose model list is not known is asked again


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    try:
        value = float(env.get(name, default))
    except ValueError:
        return default
    return value if 0 < value < 86400 else default


class CodestralProtocol(LanguageServerProtocol):
    """pygls's protocol, plus:

    - ``$/cancelRequest`` also cancels the job the request started (pygls answers the cancelled
      request itself but cannot reach a command handler that is already running);
    - every request sent to the editor is bounded: an editor that never answers raises
      :class:`TimeoutError` after ``client_timeout`` seconds instead of holding a job forever;
    - no key ever leaves in a message (see :mod:`codestral_lsp.redaction`).
    """

    def _send_data(self, data: Any) -> None:
        """Every message to the client passes here: hide the keys in all its strings (except, in
        an edit, a key the edited document already holds: that text is the user's own)."""
        if data and REDACTOR.secrets:
            text = json.dumps(data, default=self._serialize_message)
            if REDACTOR.might_contain(text):
                message = json.loads(text)
                data = REDACTOR.redact_json(message, keep=self._secrets_in_edited_documents(message))
        super()._send_data(data)  # type: ignore[no-untyped-call]

    def _secrets_in_edited_documents(self, message: Any) -> set[str]:
        if not isinstance(message, dict) or message.get("method") != types.WORKSPACE_APPLY_EDIT:
            return set()
        edit = (message.get("params") or {}).get("edit") or {}
        uris = set(edit.get("changes") or {})
        for change in edit.get("documentChanges") or []:
            uris.add(str((change.get("textDocument") or {}).get("uri")))
        documents = self._server.workspace.text_documents
        sources = [documents[uri].source for uri in uris if uri in documents]
        return {secret for secret in REDACTOR.secrets if any(secret in source for source in sources)}

    def send_request_async(self, method: str, params: Any | None = None, msg_id: Any = None) -> Any:
        future = super().send_request_async(method, params, msg_id)
        server = self._server
        timeout = CLIENT_REQUEST_SECONDS
        if isinstance(server, CodestralLanguageServer):
            timeout = server.client_timeout
        return self._bounded(future, method, timeout)

    async def _bounded(self, future: Awaitable[Any], method: str, timeout: float) -> Any:
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            log.warning("the editor did not answer %s within %g s", method, timeout)
            for msg_id, pending in list(self._request_futures.items()):
                if pending.done():
                    self._request_futures.pop(msg_id, None)
            raise

    # -- work-arounds for pygls 2 (reported upstream; see the README's notes) ------------------

    def structure_message(self, data: dict[str, Any]) -> Any:
        """pygls drops a message whose params do not match their type: a request is never
        answered. Answer it with InvalidParams; fail the awaiting request for a bad response."""
        try:
            return super().structure_message(data)
        except JsonRpcException as error:
            if "id" in data and "method" in data:
                cause = error.__cause__
                detail = f": {type(cause).__name__}" if cause is not None else ""
                reply: JsonRpcException = (
                    JsonRpcInvalidParams(message=f"Invalid params for {data['method']}{detail}")
                    if isinstance(error, JsonRpcInvalidParams)
                    else JsonRpcInternalError(message=f"Could not read the {data['method']} request")
                )
                if isinstance(data["id"], int | str):
                    self._send_response(data["id"], None, reply.to_response_error())
            elif "id" in data:
                future = self._request_futures.pop(data["id"], None)
                if future is not None and not future.done():
                    answer = json.dumps(data.get("result"))[:80]
                    future.set_exception(
                        JsonRpcInternalError(message=f"an answer that could not be read: {answer}")
                    )
            return None

    def handle_message(self, message: Any) -> None:
        """Skip what :meth:`structure_message` already answered (and skipped bodies)."""
        if message is None:
            return
        super().handle_message(message)

    @lsp_method(types.SHUTDOWN)
    def lsp_shutdown(self, *args: Any) -> Any:
        """As pygls's, but iterating over a copy: cancelling a request's future runs its
        callback at once, which removes it from the dictionary being iterated (pygls answers
        ``shutdown`` with "dictionary changed size during iteration")."""
        if (user_handler := self.fm.features.get(types.SHUTDOWN)) is not None:
            yield user_handler, args, None
        current_id = self.msg_id
        for msg_id, future in list(self._request_futures.items()):
            if msg_id != current_id and not future.done():
                future.cancel()
        self._shutdown = True
        return None

    @lsp_method(types.EXIT)
    def lsp_exit(self, *args: Any) -> Any:
        """Record the exit code the spec asks for (1 without a prior ``shutdown``); pygls's
        ``sys.exit`` is swallowed by its own ``start_io``."""
        server = self._server
        if isinstance(server, CodestralLanguageServer):
            server.exit_code = 0 if self._shutdown else 1
        yield from super().lsp_exit(*args)

    def _handle_cancel_notification(self, msg_id: Any) -> None:
        server = self._server
        if isinstance(server, CodestralLanguageServer):
            server.jobs.cancel_request(msg_id)
        super()._handle_cancel_notification(msg_id)


class CodestralLanguageServer(LanguageServer):
    """Settings, the API client, running jobs and usage totals of one editor session."""

    def __init__(self, env: Mapping[str, str]) -> None:
        super().__init__("codestral-lsp", __version__, protocol_cls=CodestralProtocol)
        self.env = dict(env)
        REDACTOR.add_env_keys(self.env, allowed_key_vars(self.env))
        self.settings = Settings()
        self.initialization_options: Any = None
        self.jobs = JobRegistry()
        self.usage = UsageTotals()
        self.reviews = ReviewStore()
        self._proposals: ProposalStore | None = None  # rewrites held for review
        self._models: tuple[Endpoint, list[ModelInfo]] | None = None
        self._models_asked: tuple[Endpoint, float] | None = None  # (endpoint, when) of the last ask
        self._model_check: asyncio.Task[Any] | None = None
        self._model_warnings: set[str] = set()
        self._client: CodestralClient | None = None
        self._client_config: tuple[Any, ...] | None = None
        self.settings_ready = asyncio.Event()
        self._completion_client: CodestralClient | None = None
        self._completer: InlineCompleter | None = None
        self.client_timeout = _seconds(self.env, "CODESTRAL_LSP_CLIENT_TIMEOUT", CLIENT_REQUEST_SECONDS)
        self.exit_code: int | None = None
        self._edit_locks: dict[str, asyncio.Lock] = {}
        self._document_events: dict[str, asyncio.Event] = {}

        self.index: WorkspaceIndex | None = None
        self.index_wanted = False  # set once initialized: the index follows the settings then
        self._index_key: tuple[object, ...] | None = None
        self._index_tasks: set[asyncio.Task[Any]] = set()
        self.open_paths: dict[str, str] = {}  # real path → URI of the open documents
        self.edits = EditHistory()  # regions edited recently (fed by didChange)
        self._windows: WindowCache | None = None  # similar-code windows of the open documents

    @property
    def completer(self) -> InlineCompleter:
        """Inline completion, made on first use (its modules and httpx are not needed before)."""
        if self._completer is None:
            from codestral_lsp.completion import InlineCompleter

            self._completer = InlineCompleter(self)
        return self._completer

    # -- transport ---------------------------------------------------------------------------

    def start_io(self, stdin: Any = None, stdout: Any = None) -> None:
        """Serve on stdio, reading through :class:`BoundedStdinReader`; exit with the code the
        LSP spec gives (1 when ``exit`` came without ``shutdown``)."""
        self._stop_event = threading.Event()
        reader = BoundedStdinReader(stdin or sys.stdin.buffer, self.thread_pool)
        self.protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))
        try:
            asyncio.run(
                run_async(
                    stop_event=self._stop_event,
                    reader=reader,
                    protocol=self.protocol,
                    logger=log,
                    error_handler=self.report_server_error,
                )
            )
        except BrokenPipeError:
            log.error("the connection to the editor is lost; stopping")
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            self.shutdown()  # type: ignore[no-untyped-call]
        if self.exit_code:
            raise SystemExit(self.exit_code)

    # -- requests to the editor --------------------------------------------------------------

    def edit_lock(self, uri: str) -> asyncio.Lock:
        """The lock that serialises the edits sent for one document: each is computed from the
        text the previous one left, so positions never go stale."""
        return self._edit_locks.setdefault(document_key(uri), asyncio.Lock())

    def document_updated(self, uri: str) -> None:
        """Called after each ``didChange``: wakes :meth:`wait_for_change`."""
        event = self._document_events.pop(document_key(uri), None)
        if event is not None:
            event.set()

    async def wait_for_change(self, uri: str, version: int | None) -> None:
        """Wait (bounded) until the server's copy of ``uri`` is past ``version``: after an edit
        is applied, the editor reports it with ``didChange``, maybe after its answer."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DOCUMENT_CHANGE_SECONDS
        while True:
            view = self.open_document_view(uri)
            if view is None or view.version != version:
                return
            event = self._document_events.setdefault(document_key(uri), asyncio.Event())
            try:
                await asyncio.wait_for(event.wait(), deadline - loop.time())
            except TimeoutError:
                log.warning("no didChange for %s after an applied edit", uri)
                return

    # -- talking to the user -----------------------------------------------------------------

    def tell_user(self, kind: types.MessageType, message: str) -> None:
        """One plain sentence in the editor (and the log)."""
        log.log(logging.ERROR if kind == types.MessageType.Error else logging.INFO, "%s", message)
        self.window_show_message(types.ShowMessageParams(type=kind, message=message))

    def client_declares(self, name: str) -> bool:
        """A flag our own editor plugins declare in ``experimental.codestral``:
        ``promptForInstruction`` (they ask for codestral.edit's instruction themselves),
        ``showsExplanations`` (they display an explanation from the command result) and
        ``reviewsEdits`` (they show a proposed edit and answer it with codestral.accept/reject)."""
        experimental = get_capability(self.client_capabilities, "experimental", None)
        ours = experimental.get("codestral") if isinstance(experimental, dict) else None
        return isinstance(ours, dict) and bool(ours.get(name))

    # -- proposals (review before apply) -------------------------------------------------------

    @property
    def proposals(self) -> ProposalStore:
        """The rewrites held for review (made on first use: start-up does not import difflib)."""
        if self._proposals is None:
            from codestral_lsp.proposals import ProposalStore

            self._proposals = ProposalStore()
        return self._proposals

    def open_proposal(self, rewrite: Rewrite, args: ActionArgs, settings: Settings) -> Proposal:
        """Hold a finished rewrite's edit for the user; it expires after ``reviewExpirySeconds``."""
        loop = asyncio.get_running_loop()
        seconds = settings.review_expiry_seconds
        proposal = self.proposals.add(rewrite, args, loop.time() + seconds)
        loop.call_later(seconds, self.expire_proposals)
        return proposal

    def take_proposal(self, proposal_id: object) -> Proposal | None:
        """Remove and return an open proposal (``None`` when it is unknown, answered or expired)."""
        return self.proposals.take(proposal_id, asyncio.get_running_loop().time())

    def expire_proposals(self) -> int:
        """Drop the proposals whose time is up, telling the user; return how many are open."""
        for proposal in self.proposals.expire(asyncio.get_running_loop().time()):
            name = proposal.spec.name
            self.tell_user(
                types.MessageType.Info,
                f"Codestral's {name} proposal for {self.relative_path(proposal.view.uri)} expired "
                "unanswered; nothing was changed.",
            )
        return len(self.proposals.open)

    # -- review diagnostics ------------------------------------------------------------------

    def pulls_diagnostics(self) -> bool:
        """True when the client pulls diagnostics (``textDocument/diagnostic``) and can be told
        to pull again (``workspace/diagnostic/refresh``); otherwise they are pushed."""
        caps = self.client_capabilities
        return get_capability(caps, "text_document.diagnostic", None) is not None and bool(
            get_capability(caps, "workspace.diagnostics.refresh_support", False)
        )

    def publish_review(
        self, uri: str, first_line: int, last_line: int, diagnostics: list[types.Diagnostic]
    ) -> None:
        """Show a review's diagnostics for 0-based lines ``first_line``–``last_line``."""
        self.reviews.replace(uri, first_line, last_line, diagnostics)
        self.send_review_diagnostics(uri)

    def send_review_diagnostics(self, *uris: str) -> None:
        """Tell the client the review diagnostics of ``uris`` changed (push, or ask for a pull)."""
        if not uris:
            return
        if self.pulls_diagnostics():
            self.workspace_diagnostic_refresh(None).add_done_callback(_log_refusal)
            return
        for uri in uris:
            document = self.workspace.text_documents.get(uri)
            self.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(
                    uri=uri,
                    diagnostics=self.reviews.diagnostics(uri),
                    version=document.version if document is not None else None,
                )
            )

    # -- documents ---------------------------------------------------------------------------

    def open_document_view(self, uri: str) -> DocumentView | None:
        """A view of an open document, or ``None`` when the editor has not opened it."""
        document = self.workspace.text_documents.get(document_key(uri))
        return DocumentView(document) if document is not None else None

    def document_view(self, uri: str) -> DocumentView:
        """A view of an open document; :class:`ArgumentError` when it is not open."""
        view = self.open_document_view(uri)
        if view is None:
            raise ArgumentError(f"The document {uri} is not open in the editor; open it and try again.")
        return view

    def detached_view(self, uri: str, source: str) -> DocumentView:
        """A view of text the editor does not have open (a file read from disk), with the
        client's position encoding."""
        return DocumentView(LspTextDocument(uri, source=source, position_codec=self.workspace.position_codec))

    def client_capability(self, field: str, default: Any = None) -> Any:
        """A client capability by its dotted snake_case path (``"window.show_document.support"``)."""
        return get_capability(self.client_capabilities, field, default)

    async def apply_edit(self, edit: types.WorkspaceEdit, label: str) -> Any:
        """``workspace/applyEdit``: the editor's answer (an ``ApplyWorkspaceEditResult``, or
        whatever it sent). Raises :class:`TimeoutError` when it does not answer in time."""
        return await self.workspace_apply_edit_async(types.ApplyWorkspaceEditParams(edit=edit, label=label))

    async def show_document(self, uri: str, take_focus: bool = False) -> bool:
        """``window/showDocument`` where the client supports it: True when it was shown."""
        if not self.client_capability("window.show_document.support", False):
            return False
        try:
            params = types.ShowDocumentParams(uri=uri, take_focus=take_focus)
            shown = await self.window_show_document_async(params)
        except Exception as exc:
            log.warning("showDocument failed: %s", exc)
            return False
        return isinstance(shown, types.ShowDocumentResult) and bool(shown.success)

    def workspace_root(self) -> Path | None:
        """The first workspace folder, as a path."""
        for folder in self.workspace.folders.values():
            path = to_fs_path(folder.uri)
            if path:
                return Path(path)
        root = self.workspace.root_path
        return Path(root) if root else None

    def relative_path(self, uri: str) -> str:
        """The document's path relative to its workspace folder (else its file name or URI)."""
        path = to_fs_path(uri)
        if not path:
            return uri
        if not os.path.isabs(path):  # a relative file: URI (not valid, but sent): already relative
            return path
        for folder in self.workspace.folders.values():
            base = to_fs_path(folder.uri)
            if base and os.path.isabs(base) and os.path.commonpath([base, path]) == base:
                return os.path.relpath(path, base)
        root = self.workspace_root()
        if root is not None and root.is_absolute() and os.path.commonpath([str(root), path]) == str(root):
            return os.path.relpath(path, root)
        return Path(path).name

    # -- settings and the API client ---------------------------------------------------------

    def apply_settings(self, *sources: Any) -> None:
        """Replace the settings from raw sources (lowest precedence first); report problems."""
        self.settings, problems = parse_settings(*sources)
        if self._completer is not None:
            self._completer.settings_changed()
        if self.index_wanted:
            self.start_index()
        for problem in problems:
            self.tell_user(types.MessageType.Warning, problem)

    async def reload_settings(self, pushed: Any = None) -> None:
        """Read ``workspace/configuration`` (section ``codestral``) when the client offers it,
        else use settings pushed with ``didChangeConfiguration``; initializationOptions below."""
        configured: Any = pushed
        if get_capability(self.client_capabilities, "workspace.configuration", False):
            try:
                items = await self.workspace_configuration_async(
                    types.ConfigurationParams(items=[types.ConfigurationItem(section="codestral")])
                )
                configured = items[0] if items else None
            except Exception as exc:
                log.warning("workspace/configuration failed: %s", exc)
        self.apply_settings(self.initialization_options, configured)
        self.settings_ready.set()

    async def current_settings(self) -> Settings:
        """The settings, once the first read of the client's configuration has finished."""
        if not self.settings_ready.is_set():
            try:
                await asyncio.wait_for(self.settings_ready.wait(), SETTINGS_WAIT_SECONDS)
            except TimeoutError:
                log.warning("no configuration after %s s; using what is known", SETTINGS_WAIT_SECONDS)
                self.settings_ready.set()
        return self.settings

    def api_client(self, settings: Settings | None = None) -> CodestralClient:
        """The client for ``settings`` (a job's snapshot; the current settings by default),
        rebuilt when they change what it depends on.

        Raises :class:`~codestral_lsp.api.CodestralError` when the endpoint cannot be used.
        """
        s = settings if settings is not None else self.settings
        config = (s.base_url, s.api_key_env, s.timeouts, s.retry)
        if self._client is None or config != self._client_config:
            from codestral_lsp.api.client import CodestralClient

            endpoint = resolve_endpoint(self.env, s.base_url, s.api_key_env)
            old = self._client
            self._client = CodestralClient(endpoint, timeouts=s.timeouts.to_api(), retry=s.retry.to_api())
            self._client_config = config
            if old is not None:
                self.jobs.spawn(_close_when_idle(old, self.jobs.running_tasks()), "close-old-client")
        return self._client

    async def endpoint_models(self, refresh: bool = False) -> list[ModelInfo]:
        """The endpoint's ``GET /models``, cached per endpoint (``refresh`` asks again).

        Raises :class:`~codestral_lsp.api.CodestralError` when it cannot be had."""
        client = self.api_client()
        if not refresh and self._models is not None and self._models[0] == client.endpoint:
            return self._models[1]
        self._models_asked = (client.endpoint, time.monotonic())
        models = await client.list_models()
        self._models = (client.endpoint, models)
        return models

    def known_models(self, client: CodestralClient) -> list[ModelInfo] | None:
        """The cached ``GET /models`` of ``client``'s endpoint, never waiting for it: when it is
        not cached, ``None``, and the list is fetched in the background for the next requests
        (an endpoint without the list is asked again only after a few minutes)."""
        if self._models is not None and self._models[0] == client.endpoint:
            return self._models[1]
        asked = self._models_asked
        now = time.monotonic()
        if asked is None or asked[0] != client.endpoint or now - asked[1] > MODELS_RETRY_SECONDS:
            self._models_asked = (client.endpoint, now)
            self.start_model_check()
        return None

    def start_model_check(self) -> None:
        """In the background: warn once about configured models the endpoint does not serve, or
        a completion model without fill-in-the-middle (each warning names the setting)."""
        self._model_check = self.jobs.spawn(self._check_models(), "check-models")

    async def model_check_done(self) -> None:
        """Wait for the check started by :meth:`start_model_check`, if any."""
        if self._model_check is not None and not self._model_check.done():
            await asyncio.wait([self._model_check])

    async def _check_models(self) -> None:
        try:
            models = await self.endpoint_models()
        except CodestralError as error:  # no list (404 on many servers), no key…: nothing to check
            log.info("models not checked: %s", error)
            return
        for problem in model_problems(self.settings, models):
            if problem not in self._model_warnings:
                self._model_warnings.add(problem)
                self.tell_user(types.MessageType.Warning, problem)

    def completion_client(self, settings: Settings | None = None) -> CodestralClient:
        """A client for inline completion: the same endpoint, shorter limits, no retries
        (a completion that is late is worthless: the user has typed on). ``settings`` as for
        :meth:`api_client`."""
        s = settings if settings is not None else self.settings
        chat = self.api_client(s)
        limit = s.completion.timeout
        timeouts = Timeouts(
            connect=min(chat.timeouts.connect, limit), first_byte=limit, idle=min(chat.timeouts.idle, limit)
        )
        client = self._completion_client
        if client is None or client.endpoint != chat.endpoint or client.timeouts != timeouts:
            if client is not None:
                self.jobs.spawn(client.aclose(), "close-old-completion-client")
            from codestral_lsp.api.client import CodestralClient

            client = CodestralClient(chat.endpoint, timeouts=timeouts, retry=RetryPolicy(max_attempts=1))
            self._completion_client = client
        return client

    # -- the workspace index ------------------------------------------------------------------

    def workspace_folders(self) -> list[Path]:
        """Every workspace folder (else the root), as paths."""
        folders = [Path(p) for f in self.workspace.folders.values() if (p := to_fs_path(f.uri))]
        root = self.workspace_root()
        return folders or ([root] if root is not None else [])

    def buffer_text(self, path: str) -> str | None:
        """The editor's text of the open document at a real path, if it is open."""
        uri = self.open_paths.get(path)
        document = self.workspace.text_documents.get(uri) if uri else None
        return document.source if document is not None else None

    def buffer_lines(self, path: str) -> Sequence[str] | None:
        """The editor's lines of the open document at a real path, if it is open."""
        uri = self.open_paths.get(path)
        document = self.workspace.text_documents.get(uri) if uri else None
        return document.lines if document is not None else None

    @property
    def windows(self) -> WindowCache:
        """The similar-code windows of the open documents (made on first use: start-up does not
        import the context modules)."""
        if self._windows is None:
            from codestral_lsp.crossfile import WindowCache

            self._windows = WindowCache()
        return self._windows

    def similar_sources(
        self, index: WorkspaceIndex, path: str
    ) -> tuple[list[tuple[str, str]], list[tuple[str, int, str]]]:
        """Where similar code is looked for, for the document at ``path``: the other open
        documents (rel path, text) and the regions edited recently (rel path, first line, text),
        those the index may read only."""
        from codestral_lsp.crossfile import edited_regions, open_documents

        documents = self.workspace.text_documents
        texts = [(p, documents[uri].source) for p, uri in self.open_paths.items() if uri in documents]
        regions = self.edits.snippets(self.buffer_lines, os.path.realpath(path), os.path.isfile)
        return open_documents(index, texts, path), edited_regions(index, regions, path)

    def start_index(self) -> None:
        """(Re)build the workspace index in the background when what it depends on changed.

        Never awaited by a request: until the scan is done, context uses what it has (the open
        documents). The scan runs in a thread; its result is installed on the event loop.
        """
        self.index_wanted = True
        settings = self.settings.context
        folders = self.workspace_folders()
        key = (settings.workspace, settings.exclude, tuple(folders))
        if key == self._index_key:
            return
        self._index_key = key
        if not settings.workspace or not folders:
            self.index = None
            return
        from codestral_lsp.workspace_index import WorkspaceIndex

        index = WorkspaceIndex(folders, settings.exclude, buffer_text=self.buffer_text)
        index.dirty.update(self.open_paths)
        self.index = index
        self.index_background(self._build_index(index), "workspace-index")

    async def _build_index(self, index: WorkspaceIndex) -> None:
        started = time.perf_counter()
        from codestral_lsp.workspace_index import build, indexing_executor

        executor = indexing_executor()
        try:
            result = await build(index, executor)
        finally:
            executor.shutdown(wait=False, cancel_futures=True)
        if self.index is index:
            index.install(result)
            log.info(
                "indexed %d files in %.2f s (skipped: %s%s)",
                len(index.files),
                time.perf_counter() - started,
                result.skipped or "none",
                "; stopped at the file limit" if result.truncated else "",
            )

    def index_background(self, coroutine: Any, name: str) -> None:
        """Run index work as a tracked task (failures logged, cancelled at shutdown)."""
        task = asyncio.create_task(coroutine, name=name)
        self._index_tasks.add(task)

        def finished(done: asyncio.Task[Any]) -> None:
            self._index_tasks.discard(done)
            if not done.cancelled() and done.exception() is not None:
                log.error("%s failed", name, exc_info=done.exception())

        task.add_done_callback(finished)

    async def index_settled(self) -> None:
        """Wait for the index work under way (for tests and benchmarks)."""
        while self._index_tasks:
            await asyncio.wait(list(self._index_tasks))

    async def close(self) -> None:
        """Cancel every job and close the connection pool (at shutdown)."""
        self.jobs.cancel(reason="the server is shutting down")
        for task in list(self._index_tasks):
            task.cancel()
        for client in (self._client, self._completion_client):
            if client is not None:
                await client.aclose()
        self._client = self._completion_client = None


def _log_refusal(future: Any) -> None:
    """Log (never raise) a client's error answer to a request whose result is not needed."""
    if not future.cancelled() and future.exception() is not None:
        log.info("the client refused a request: %s", future.exception())


async def _close_when_idle(client: CodestralClient, tasks: list[asyncio.Task[Any]]) -> None:
    """Close a replaced client once the jobs that were using it have finished."""
    if tasks:
        await asyncio.wait(tasks)
    await client.aclose()
