"""The narrow port the stages see instead of the language server.

The stages — :mod:`~codestral_lsp.runner` (one action), :mod:`~codestral_lsp.delivery` (its
outcome), :mod:`~codestral_lsp.completion` (inline completion), :mod:`~codestral_lsp.progress` —
are handed the server, but typed by what they may use of it:

- :class:`Editor`: what the editor can do for a job — tell the user, views of its documents,
  apply an edit, show a document, say what the client declared, name paths relative to the
  workspace, progress;
- :class:`Session`: the editor plus the services of this editor session — the settings, the API
  clients, the running jobs, the usage totals, the open proposals, the review diagnostics, the
  workspace index, and where similar code is looked for.

:class:`codestral_lsp.server.CodestralLanguageServer` implements both; this module imports
nothing of it (nor of :mod:`~codestral_lsp.handlers`), so the stages do not either: the import
graph has no cycle, and a stage can be read — or driven by a test double — without the server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from lsprotocol import types

if TYPE_CHECKING:  # types only: the stages import what they use themselves
    from pygls.progress import Progress

    from codestral_lsp.api.client import CodestralClient
    from codestral_lsp.api.types import ModelInfo
    from codestral_lsp.arguments import ActionArgs
    from codestral_lsp.crossfile import WindowCache
    from codestral_lsp.jobs import JobRegistry
    from codestral_lsp.positions import DocumentView
    from codestral_lsp.proposals import Proposal, ProposalStore, Rewrite
    from codestral_lsp.settings import Settings
    from codestral_lsp.usage import UsageTotals
    from codestral_lsp.workspace_index import WorkspaceIndex


class Editor(Protocol):
    """What the stages may ask of the editor (each call is one LSP message or a read of what the
    editor sent; requests to the editor are bounded by :attr:`client_timeout`)."""

    # -- the user --------------------------------------------------------------------------------

    def tell_user(self, kind: types.MessageType, message: str) -> None:
        """One plain sentence in the editor (``window/showMessage``) and the log."""
        ...

    # -- documents -------------------------------------------------------------------------------

    def open_document_view(self, uri: str) -> DocumentView | None:
        """A view of an open document, or ``None`` when the editor has not opened it."""
        ...

    def document_view(self, uri: str) -> DocumentView:
        """A view of an open document; :class:`~codestral_lsp.arguments.ArgumentError` when it
        is not open."""
        ...

    def detached_view(self, uri: str, source: str) -> DocumentView:
        """A view of text the editor does not have open (a file read from disk), with the
        client's position encoding."""
        ...

    async def wait_for_change(self, uri: str, version: int | None) -> None:
        """Wait (bounded) until the editor has reported a change of ``uri`` past ``version``."""
        ...

    def edit_lock(self, uri: str) -> asyncio.Lock:
        """The lock serialising the edits sent for one document."""
        ...

    # -- requests ---------------------------------------------------------------------------------

    async def apply_edit(self, edit: types.WorkspaceEdit, label: str) -> Any:
        """``workspace/applyEdit``: the editor's answer (an ``ApplyWorkspaceEditResult``, or
        whatever it sent). Raises :class:`TimeoutError` when it does not answer in time."""
        ...

    async def show_document(self, uri: str, take_focus: bool = False) -> bool:
        """``window/showDocument`` where the client supports it: True when it was shown."""
        ...

    @property
    def client_timeout(self) -> float:
        """Seconds a request to the editor may go unanswered."""
        ...

    @property
    def work_done_progress(self) -> Progress:
        """``$/progress`` (pygls's helper: create a token, begin, report, end)."""
        ...

    # -- what the client declared -----------------------------------------------------------------

    def client_capability(self, field: str, default: Any = None) -> Any:
        """A client capability by its dotted snake_case path (``"window.show_document.support"``)."""
        ...

    def client_declares(self, name: str) -> bool:
        """A flag our own editor plugins declare in ``experimental.codestral``."""
        ...

    # -- the workspace ----------------------------------------------------------------------------

    def relative_path(self, uri: str) -> str:
        """The document's path relative to its workspace folder (else its file name or URI)."""
        ...

    def workspace_folders(self) -> list[Path]:
        """Every workspace folder (else the root), as paths."""
        ...


class Session(Editor, Protocol):
    """The editor, plus the services of this editor session that the stages use."""

    @property
    def env(self) -> Mapping[str, str]:
        """The server's environment (where answers are kept, which keys may be used)."""
        ...

    @property
    def settings(self) -> Settings:
        """The current settings (a job reads one snapshot of them and passes it down)."""
        ...

    async def current_settings(self) -> Settings:
        """The settings, once the first read of the client's configuration has finished."""
        ...

    def api_client(self, settings: Settings | None = None) -> CodestralClient:
        """The API client for ``settings`` (raises :class:`~codestral_lsp.api.CodestralError`
        when the endpoint cannot be used)."""
        ...

    def completion_client(self, settings: Settings | None = None) -> CodestralClient:
        """The API client for inline completion (shorter limits, no retries)."""
        ...

    def known_models(self, client: CodestralClient) -> list[ModelInfo] | None:
        """The cached ``GET /models`` of ``client``'s endpoint, never waiting for it (``None``
        when it is not known yet)."""
        ...

    @property
    def jobs(self) -> JobRegistry:
        """The running jobs and background tasks."""
        ...

    @property
    def usage(self) -> UsageTotals:
        """The session's token and cost totals."""
        ...

    @property
    def proposals(self) -> ProposalStore:
        """The open proposals (review before apply)."""
        ...

    @property
    def index(self) -> WorkspaceIndex | None:
        """The workspace index, when context from other files is on."""
        ...

    @property
    def windows(self) -> WindowCache:
        """The similar-code windows of the open documents."""
        ...

    def similar_sources(
        self, index: WorkspaceIndex, path: str
    ) -> tuple[list[tuple[str, str]], list[tuple[str, int, str]]]:
        """Where similar code is looked for, for the document at ``path``: the other open
        documents (rel path, text) and the regions edited recently (rel path, first line, text)."""
        ...

    def open_proposal(self, rewrite: Rewrite, args: ActionArgs, settings: Settings) -> Proposal:
        """Hold a finished rewrite's edit for the user, expiring after ``reviewExpirySeconds``."""
        ...

    def take_proposal(self, proposal_id: object) -> Proposal | None:
        """Remove and return an open proposal (``None`` when it is unknown or no longer open)."""
        ...

    def publish_review(
        self, uri: str, first_line: int, last_line: int, diagnostics: list[types.Diagnostic]
    ) -> None:
        """Show a review's diagnostics for 0-based lines ``first_line``–``last_line``."""
        ...
