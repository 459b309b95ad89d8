"""The language server object: state shared by the handlers, built by :func:`create_server`.

Handlers live in :mod:`codestral_lsp.handlers` and stay thin; what they call lives in pure
modules (context, prompts, answer, edits) and in :mod:`codestral_lsp.runner`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.capabilities import get_capability
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.uris import to_fs_path

from codestral_lsp import __version__
from codestral_lsp.api import CodestralClient, RetryPolicy, Timeouts, resolve_endpoint
from codestral_lsp.completion import InlineCompleter
from codestral_lsp.jobs import JobRegistry
from codestral_lsp.logs import redact_also
from codestral_lsp.positions import ArgumentError, DocumentView
from codestral_lsp.settings import Settings, parse_settings
from codestral_lsp.usage import UsageTotals
from codestral_lsp.workspace_index import WorkspaceIndex, build, indexing_executor

log = logging.getLogger(__name__)

SETTINGS_WAIT_SECONDS = 5.0


class CodestralProtocol(LanguageServerProtocol):
    """pygls's protocol, plus: ``$/cancelRequest`` also cancels the job the request started.

    (pygls answers the cancelled request itself but cannot reach a command handler that is
    already running.)
    """

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
        self.settings = Settings()
        self.initialization_options: Any = None
        self.jobs = JobRegistry()
        self.usage = UsageTotals()
        self._client: CodestralClient | None = None
        self._client_config: tuple[Any, ...] | None = None
        self.settings_ready = asyncio.Event()
        self._completion_client: CodestralClient | None = None
        self.completer = InlineCompleter(self)
        self.index: WorkspaceIndex | None = None
        self.index_wanted = False  # set once initialized: the index follows the settings then
        self._index_key: tuple[object, ...] | None = None
        self._index_tasks: set[asyncio.Task[Any]] = set()
        self.open_paths: dict[str, str] = {}  # real path → URI of the open documents

    # -- talking to the user -----------------------------------------------------------------

    def tell_user(self, kind: types.MessageType, message: str) -> None:
        """One plain sentence in the editor (and the log)."""
        log.log(logging.ERROR if kind == types.MessageType.Error else logging.INFO, "%s", message)
        self.window_show_message(types.ShowMessageParams(type=kind, message=message))

    def client_declares(self, name: str) -> bool:
        """A flag our own editor plugins declare in ``experimental.codestral``:
        ``promptForInstruction`` (they ask for codestral.edit's instruction themselves) and
        ``showsExplanations`` (they display an explanation from the command result)."""
        experimental = get_capability(self.client_capabilities, "experimental", None)
        ours = experimental.get("codestral") if isinstance(experimental, dict) else None
        return isinstance(ours, dict) and bool(ours.get(name))

    # -- documents ---------------------------------------------------------------------------

    def open_document_view(self, uri: str) -> DocumentView | None:
        """A view of an open document, or ``None`` when the editor has not opened it."""
        document = self.workspace.text_documents.get(uri)
        return DocumentView(document) if document is not None else None

    def document_view(self, uri: str) -> DocumentView:
        """A view of an open document; :class:`ArgumentError` when it is not open."""
        view = self.open_document_view(uri)
        if view is None:
            raise ArgumentError(f"The document {uri} is not open in the editor; open it and try again.")
        return view

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
        for folder in self.workspace.folders.values():
            base = to_fs_path(folder.uri)
            if base and os.path.commonpath([base, path]) == base:
                return os.path.relpath(path, base)
        root = self.workspace_root()
        if root is not None and os.path.commonpath([str(root), path]) == str(root):
            return os.path.relpath(path, root)
        return Path(path).name

    # -- settings and the API client ---------------------------------------------------------

    def apply_settings(self, *sources: Any) -> None:
        """Replace the settings from raw sources (lowest precedence first); report problems."""
        self.settings, problems = parse_settings(*sources)
        if self.settings.api_key_env:
            redact_also(self.env.get(self.settings.api_key_env))
        self.completer.settings_changed()
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

    def api_client(self) -> CodestralClient:
        """The client for the current settings (rebuilt when they change what it depends on).

        Raises :class:`~codestral_lsp.api.CodestralError` when the endpoint cannot be used.
        """
        s = self.settings
        config = (s.base_url, s.api_key_env, s.timeouts, s.retry)
        if self._client is None or config != self._client_config:
            endpoint = resolve_endpoint(self.env, s.base_url, s.api_key_env)
            old = self._client
            self._client = CodestralClient(endpoint, timeouts=s.timeouts.to_api(), retry=s.retry.to_api())
            self._client_config = config
            if old is not None:
                self.jobs.spawn(_close_when_idle(old, self.jobs.running_tasks()), "close-old-client")
        return self._client

    def completion_client(self) -> CodestralClient:
        """A client for inline completion: the same endpoint, shorter limits, no retries
        (a completion that is late is worthless: the user has typed on)."""
        chat = self.api_client()
        limit = self.settings.completion.timeout
        timeouts = Timeouts(
            connect=min(chat.timeouts.connect, limit), first_byte=limit, idle=min(chat.timeouts.idle, limit)
        )
        client = self._completion_client
        if client is None or client.endpoint != chat.endpoint or client.timeouts != timeouts:
            if client is not None:
                self.jobs.spawn(client.aclose(), "close-old-completion-client")
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
        index = WorkspaceIndex(folders, settings.exclude, buffer_text=self.buffer_text)
        index.dirty.update(self.open_paths)
        self.index = index
        self.index_background(self._build_index(index), "workspace-index")

    async def _build_index(self, index: WorkspaceIndex) -> None:
        started = time.perf_counter()
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


async def _close_when_idle(client: CodestralClient, tasks: list[asyncio.Task[Any]]) -> None:
    """Close a replaced client once the jobs that were using it have finished."""
    if tasks:
        await asyncio.wait(tasks)
    await client.aclose()


def create_server(env: Mapping[str, str] | None = None) -> CodestralLanguageServer:
    """Build the server with every feature registered."""
    from codestral_lsp.handlers import register

    server = CodestralLanguageServer(os.environ if env is None else env)
    register(server)
    return server
