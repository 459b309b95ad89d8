"""A scripted editor for end-to-end tests: pytest-lsp's client plus what a real editor does.

It keeps the text of the documents it opened, applies ``workspace/applyEdit`` the way an editor
does (refusing an edit for an older document version, then telling the server with
``didChange``), records every message, and counts positions in UTF-16 with its own code — not
the server's — so a conversion bug on either side shows up.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from fake_codestral import FakeCodestral
from tests.conftest import CANARY_KEY


def lines_of(text: str) -> list[str]:
    """Lines as an editor counts them for LSP: ended by \\n, \\r\\n or \\r only."""
    lines, start = [], 0
    for index, char in enumerate(text):
        if char == "\n" or (char == "\r" and text[index + 1 : index + 2] != "\n"):
            lines.append(text[start : index + 1])
            start = index + 1
    if start < len(text):
        lines.append(text[start:])
    return lines


def utf16_offset(text: str, position: types.Position) -> int:
    """String offset of an LSP position (UTF-16 columns) in ``text``."""
    lines = lines_of(text)
    if position.line >= len(lines):
        return len(text)
    offset = sum(len(line) for line in lines[: position.line])
    line = lines[position.line]
    units = 0
    for index, char in enumerate(line.rstrip("\r\n")):
        if units >= position.character:
            return offset + index
        units += 2 if ord(char) > 0xFFFF else 1
    return offset + len(line.rstrip("\r\n"))


def utf16_position(text: str, offset: int) -> types.Position:
    """LSP position (UTF-16 columns) of a string offset."""
    lines = lines_of(text[:offset])
    if not lines or lines[-1].endswith(("\n", "\r")):
        lines.append("")
    line = len(lines) - 1
    column_text = lines[-1]
    return types.Position(line=line, character=sum(2 if ord(c) > 0xFFFF else 1 for c in column_text))


def lsp_range(start_line: int, start_char: int, end_line: int, end_char: int) -> dict[str, Any]:
    """A Range as JSON, for command arguments."""
    return {
        "start": {"line": start_line, "character": start_char},
        "end": {"line": end_line, "character": end_char},
    }


def range_of(start_line: int, start_char: int, end_line: int, end_char: int) -> types.Range:
    """A Range, for requests."""
    return types.Range(
        start=types.Position(line=start_line, character=start_char),
        end=types.Position(line=end_line, character=end_char),
    )


@dataclass
class OpenDocument:
    """What the editor holds for one document."""

    text: str
    version: int
    language: str


@dataclass
class Editor:
    """Drives the server the way an editor would."""

    client: LanguageClient
    fake: FakeCodestral
    folder: Path
    documents: dict[str, OpenDocument] = field(default_factory=dict)
    edits: list[types.ApplyWorkspaceEditParams] = field(default_factory=list)
    refuse_edits: bool = False
    refuse_reason: str | None = "refused by the test"  # the failureReason sent (None: none)
    server_capabilities: types.ServerCapabilities | None = None

    # -- documents ---------------------------------------------------------------------------

    def open(self, name: str, text: str, language: str = "python") -> str:
        """Write ``name`` in the workspace folder and open it; return its URI."""
        path = self.folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
        uri = path.as_uri()
        self.documents[uri] = OpenDocument(text, 1, language)
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(uri=uri, language_id=language, version=1, text=text)
            )
        )
        return uri

    def text(self, uri: str) -> str:
        """The editor's current text of a document."""
        return self.documents[uri].text

    def replace(self, uri: str, start: int, end: int, new_text: str) -> None:
        """Replace ``text[start:end]`` (string offsets) as a user would, telling the server."""
        document = self.documents[uri]
        change = types.TextDocumentContentChangePartial(
            range=types.Range(
                start=utf16_position(document.text, start), end=utf16_position(document.text, end)
            ),
            text=new_text,
        )
        document.text = document.text[:start] + new_text + document.text[end:]
        document.version += 1
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=document.version),
                content_changes=[change],
            )
        )

    # -- commands ----------------------------------------------------------------------------

    async def run(self, command: str, *arguments: Any) -> Any:
        """``workspace/executeCommand`` and its result."""
        return await self.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=command, arguments=list(arguments))
        )

    async def code_actions(
        self,
        uri: str,
        selection: types.Range,
        diagnostics: list[types.Diagnostic] | None = None,
        only: list[str] | None = None,
    ) -> list[types.CodeAction]:
        """``textDocument/codeAction`` for a range, as the lightbulb asks."""
        actions = await self.client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=selection,
                context=types.CodeActionContext(diagnostics=diagnostics or [], only=only),
            )
        )
        return [a for a in actions or [] if isinstance(a, types.CodeAction)]

    async def sync(self) -> None:
        """Round-trip a request: every notification sent before it has been handled."""
        await self.run("codestral.usage")

    def progress_values(self) -> list[list[Any]]:
        """The progress sequences received, one list per token."""
        return [list(values) for values in self.client.progress_reports.values()]

    def message_texts(self, kind: types.MessageType | None = None) -> list[str]:
        """Texts of ``window/showMessage`` received (of one kind, or all)."""
        return [m.message for m in self.client.messages if kind is None or m.type == kind]

    # -- what an editor does with applyEdit ----------------------------------------------------

    def apply_edit(self, params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        """Apply a workspace edit to open documents (or files on disk), like an editor."""
        self.edits.append(params)
        if self.refuse_edits:
            return types.ApplyWorkspaceEditResult(applied=False, failure_reason=self.refuse_reason)
        edit = params.edit
        operations: list[Any] = list(edit.document_changes or [])
        for uri, edits in (edit.changes or {}).items():
            operations.append(
                types.TextDocumentEdit(
                    text_document=types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=None),
                    edits=edits,
                )
            )
        for operation in operations:
            if isinstance(operation, types.CreateFile):
                path = Path(operation.uri.removeprefix("file://"))
                if not path.exists():
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text("")
                continue
            uri = operation.text_document.uri
            document = self.documents.get(uri)
            version = operation.text_document.version
            if document is not None and version is not None and version != document.version:
                return types.ApplyWorkspaceEditResult(
                    applied=False, failure_reason=f"version {version} is not the current {document.version}"
                )
            text = document.text if document is not None else Path(uri.removeprefix("file://")).read_text()
            spans = sorted(
                (
                    (utf16_offset(text, e.range.start), utf16_offset(text, e.range.end), e.new_text)
                    for e in operation.edits
                ),
                reverse=True,
            )
            for start, end, new_text in spans:
                if document is not None:
                    self.replace(uri, start, end, new_text)
                else:
                    text = text[:start] + new_text + text[end:]
            if document is None:
                Path(uri.removeprefix("file://")).write_text(text)
        return types.ApplyWorkspaceEditResult(applied=True)


CAPABILITIES = types.ClientCapabilities(
    workspace=types.WorkspaceClientCapabilities(
        apply_edit=True,
        configuration=True,
        workspace_edit=types.WorkspaceEditClientCapabilities(
            document_changes=True, resource_operations=[types.ResourceOperationKind.Create]
        ),
        did_change_configuration=types.DidChangeConfigurationClientCapabilities(dynamic_registration=False),
    ),
    window=types.WindowClientCapabilities(
        work_done_progress=True, show_document=types.ShowDocumentClientCapabilities(support=True)
    ),
    text_document=types.TextDocumentClientCapabilities(
        code_action=types.CodeActionClientCapabilities(
            code_action_literal_support=types.ClientCodeActionLiteralOptions(
                code_action_kind=types.ClientCodeActionKindOptions(
                    value_set=["quickfix", "refactor", "refactor.rewrite"]
                )
            )
        )
    ),
)


def server_env(fake: FakeCodestral, state_dir: Path) -> dict[str, str]:
    """The server's environment: the fake as endpoint, the canary as key, private state dir."""
    return fake.environment(CANARY_KEY, XDG_STATE_HOME=str(state_dir), PYTHONUNBUFFERED="1")


def _fix_code_action_union(client: LanguageClient) -> None:
    """lsprotocol 2025.0.0 decides ``Command | CodeAction`` wrongly for code-action results."""
    converter = client.protocol._converter

    def structure(obj: Any, _: Any) -> Any:
        is_command = isinstance(obj.get("command"), str) and not (
            {"kind", "edit", "diagnostics", "data"} & set(obj)
        )
        return converter.structure(obj, types.Command if is_command else types.CodeAction)

    converter.register_structure_hook(Union[types.Command, types.CodeAction], structure)  # noqa: UP007
    converter.register_structure_hook(Union[types.CodeAction, types.Command], structure)  # noqa: UP007


async def start_editor(
    fake: FakeCodestral,
    folder: Path,
    state_dir: Path,
    *,
    settings: dict[str, Any] | None = None,
    initialization_options: Any = None,
    capabilities: types.ClientCapabilities = CAPABILITIES,
    server_args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    before_initialize: Callable[[LanguageClient], None] | None = None,
) -> Editor:
    """Start the real server (``python -m codestral_lsp``) and initialize a session with it
    (``env``: variables added to, or replacing, the server's environment)."""
    config = ClientServerConfig(
        server_command=[sys.executable, "-m", "codestral_lsp", *server_args],
        server_env={**server_env(fake, state_dir), **(env or {})},
    )
    client = await config.start()
    assert isinstance(client, LanguageClient)
    client.set_configuration(settings or {}, section="codestral")
    editor = Editor(client, fake, folder)
    _fix_code_action_union(client)

    @client.feature(types.WORKSPACE_APPLY_EDIT)  # type: ignore[untyped-decorator]  # pygls: unannotated
    def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        return editor.apply_edit(params)

    if before_initialize is not None:
        before_initialize(client)
    result = await client.initialize_session(
        types.InitializeParams(
            capabilities=capabilities,
            root_uri=folder.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=folder.as_uri(), name="project")],
            initialization_options=initialization_options,
        )
    )
    editor.server_capabilities = result.capabilities
    return editor
