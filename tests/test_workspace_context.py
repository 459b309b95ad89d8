"""Context beyond the file: the workspace index (ignore rules, boundaries, unsaved buffers,
deletions), definitions resolved through imports, and what the model is sent, end to end."""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from codestral_lsp.context import build_context
from codestral_lsp.crossfile import (
    assemble,
    completion_header,
    definitions_for,
    fit,
    related_pieces,
    similar_snippets,
)
from codestral_lsp.definitions import extract_definitions, parse_imports
from codestral_lsp.workspace_index import IndexLimits, WorkspaceIndex, exclude_matcher
from lsprotocol import types
from pytest_lsp import LanguageClient

from fake_codestral import FakeCodestral, Script
from tests.editor import CAPABILITIES, Editor, OpenDocument, lsp_range, utf16_position

ROWS = '''"""Rows of a table."""


def normalize_row(row: dict) -> dict:
    """Lower-case every key of a row."""
    return {k.lower(): v for k, v in row.items()}
'''
MAIN = """from pkg.rows import normalize_row


def load(rows):
    cleaned = [normalize_row(r) for r in rows]
    return cleaned
"""


def write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def built(folder: Path, **options: object) -> WorkspaceIndex:
    index = WorkspaceIndex([folder], **options)  # type: ignore[arg-type]
    index.install(index.scan())
    return index


def indexed(index: WorkspaceIndex) -> set[str]:
    return {entry.rel for entry in index.files.values()}


# -- the index: what it reads ----------------------------------------------------------------


def test_gitignore_exclude_globs_binaries_and_size_limit_keep_files_out(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            ".gitignore": "build/\n*.gen.py\n!keep.gen.py\n/rooted.py\n",
            "app.py": "def app(): pass\n",
            "build/out.py": "def out(): pass\n",
            "a.gen.py": "def gen(): pass\n",
            "keep.gen.py": "def keep(): pass\n",
            "rooted.py": "def rooted(): pass\n",
            "sub/rooted.py": "def sub_rooted(): pass\n",
            "sub/.gitignore": "local.py\n",
            "sub/local.py": "def local(): pass\n",
            "secrets/keys.py": "KEY = 1\n",
            "node_modules/lib/index.js": "function lib() {}\n",
            "big.py": "x = 1\n" * 200_000,
            "notes.txt": "not code\n",
        },
    )
    (tmp_path / "blob.py").write_bytes(b"def blob():\x00\x01\x02 pass\n")
    index = built(tmp_path, exclude=["secrets/**"], limits=IndexLimits(max_file_bytes=100_000))
    assert indexed(index) == {"app.py", "keep.gen.py", "sub/rooted.py"}
    assert "out" not in index.by_name and "KEY" not in index.by_name
    # the same rules hold for a file reported later by an event
    assert index.update_text(str(tmp_path / "build" / "new.py"), "def new(): pass\n") is None
    assert index.update_text(str(tmp_path / "secrets" / "more.py"), "def more(): pass\n") is None
    assert index.update_text(str(tmp_path / "sub" / "fine.py"), "def fine(): pass\n") is not None


def test_exclude_globs_match_names_anywhere_and_paths_from_the_root() -> None:
    excluded = exclude_matcher(["*.min.js", "vendor/**", "docs/*.py"])
    assert excluded("a/b/app.min.js") and excluded("vendor/x/y.py") and excluded("docs/conf.py")
    assert not excluded("src/app.js") and not excluded("docs/deep/conf.py")


def test_nothing_outside_the_workspace_is_read_through_links(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    project = tmp_path / "project"
    write(outside, {"secret.py": "def secret(): pass\n", "lib/util.py": "def util(): pass\n"})
    write(project, {"app.py": "def app(): pass\n", "real.py": "def real_one(): pass\n"})
    (project / "linked.py").symlink_to(outside / "secret.py")
    (project / "lib").symlink_to(outside / "lib")
    (project / "alias.py").symlink_to(project / "real.py")  # inside: it is the same file
    index = built(project)
    assert indexed(index) == {"app.py", "real.py"}
    assert "secret" not in index.by_name and "util" not in index.by_name
    assert index.admits(os.path.realpath(project / "linked.py")) is None
    assert index.update_text(str(project / "linked.py"), "def secret(): pass\n") is None


def test_an_unsaved_buffer_wins_over_the_disk(tmp_path: Path) -> None:
    write(tmp_path, {"pkg/rows.py": ROWS, "main.py": MAIN})
    buffers: dict[str, str] = {}
    index = built(tmp_path, buffer_text=buffers.get)
    rows = os.path.realpath(tmp_path / "pkg" / "rows.py")
    buffers[rows] = ROWS.replace("normalize_row", "clean_row")  # edited, not saved
    index.mark_dirty(rows)
    main = MAIN.replace("normalize_row", "clean_row")
    [piece] = definitions_for(index, str(tmp_path / "main.py"), main, main.split("def load")[1])
    assert piece.name == "clean_row" and "def clean_row(row: dict)" in piece.text
    assert "normalize_row" not in index.by_name
    assert (tmp_path / "pkg" / "rows.py").read_text() == ROWS  # the disk is untouched


def test_a_deleted_file_leaves_the_index(tmp_path: Path) -> None:
    write(tmp_path, {"pkg/rows.py": ROWS, "main.py": MAIN})
    index = built(tmp_path)
    code = MAIN.split("def load")[1]
    assert [p.name for p in definitions_for(index, str(tmp_path / "main.py"), MAIN, code)] == [
        "normalize_row"
    ]
    (tmp_path / "pkg" / "rows.py").unlink()
    index.reload(str(tmp_path / "pkg" / "rows.py"))  # what a watcher's "deleted" event leads to
    assert definitions_for(index, str(tmp_path / "main.py"), MAIN, code) == []
    assert "normalize_row" not in index.by_name


def test_changes_seen_while_the_scan_runs_win_over_the_scan(tmp_path: Path) -> None:
    write(tmp_path, {"a.py": "def old(): pass\n", "b.py": "def gone(): pass\n"})
    index = WorkspaceIndex([tmp_path])
    result = index.scan()
    index.update_text(str(tmp_path / "a.py"), "def new(): pass\n")
    index.remove(str(tmp_path / "b.py"))
    index.install(result)
    assert set(index.by_name) == {"new"}


# -- definitions and resolution ------------------------------------------------------------


def test_python_definitions_show_signature_docstring_and_a_class_outline() -> None:
    methods = "".join(
        f'    def method_{i}(self, x: int) -> int:\n        """Method {i}."""\n'
        + "        y = x\n" * 5
        + "        return y\n"
        for i in range(6)
    )
    text = f'class Store:\n    """Keeps rows."""\n\n    limit: int = 10\n\n{methods}'
    [store, *others] = extract_definitions("python", text)
    assert store.name == "Store" and store.kind == "class"
    assert "limit: int = 10" in store.text and "def method_5(self, x: int) -> int:" in store.text
    assert "y = x" not in store.text  # bodies left out of a long class
    assert [d.name for d in others] == [f"method_{i}" for i in range(6)]


@pytest.mark.parametrize(
    ("files", "current", "code", "expected"),
    [
        (  # relative import through a package __init__ that re-exports
            {"pkg/__init__.py": "from .rows import normalize_row\n", "pkg/rows.py": ROWS},
            ("app.py", "from pkg import normalize_row\n\ndef f(r):\n    return normalize_row(r)\n"),
            "normalize_row(r)",
            ("pkg/rows.py", "def normalize_row(row: dict) -> dict:"),
        ),
        (  # a module imported under an alias
            {"pkg/rows.py": ROWS},
            ("app.py", "import pkg.rows as rows\n\ndef f(r):\n    return rows.normalize_row(r)\n"),
            "rows.normalize_row(r)",
            ("pkg/rows.py", "def normalize_row(row: dict) -> dict:"),
        ),
        (  # TypeScript: a folder's index file
            {
                "src/util/index.ts": "/** Sum. */\nexport function total(xs: number[]): number {\n  return 0;\n}\n"
            },
            ("src/app.ts", "import { total } from './util';\nconst t = total([1]);\n"),
            "const t = total([1]);",
            ("src/util/index.ts", "export function total(xs: number[]): number {"),
        ),
        (  # JavaScript: require, and an ESM import written with .js for a .ts file
            {"lib/math.ts": "export const double = (x: number) => x * 2;\n"},
            ("lib/app.ts", "import { double } from './math.js';\nconsole.log(double(2));\n"),
            "double(2)",
            ("lib/math.ts", "export const double = (x: number) => x * 2;"),
        ),
        (  # Go: a package of the module
            {
                "go.mod": "module example.com/shop\n",
                "price/price.go": "package price\n\n// Net price.\nfunc Net(p int) int {\n\treturn p\n}\n",
            },
            (
                "main.go",
                'package main\n\nimport "example.com/shop/price"\n\nfunc main() {\n\tprice.Net(3)\n}\n',
            ),
            "price.Net(3)",
            ("price/price.go", "func Net(p int) int {"),
        ),
        (  # Rust: use crate::
            {
                "Cargo.toml": "[package]\n",
                "src/geo/area.rs": "/// Area.\npub fn area(w: u32) -> u32 {\n    w\n}\n",
                "src/lib.rs": "mod geo;\n",
            },
            ("src/main.rs", "use crate::geo::area::area;\n\nfn main() {\n    area(2);\n}\n"),
            "area(2);",
            ("src/geo/area.rs", "pub fn area(w: u32) -> u32 {"),
        ),
        (  # other languages: by identifier
            {"lib/strings.rb": "# Shout.\ndef shout(s)\n  s.upcase\nend\n"},
            ("app.rb", "puts shout('hi')\n"),
            "puts shout('hi')",
            ("lib/strings.rb", "def shout(s)"),
        ),
    ],
)
def test_definitions_are_resolved_through_imports(
    tmp_path: Path, files: dict[str, str], current: tuple[str, str], code: str, expected: tuple[str, str]
) -> None:
    write(tmp_path, {**files, current[0]: current[1]})
    index = built(tmp_path)
    pieces = definitions_for(index, str(tmp_path / current[0]), current[1], code)
    assert pieces, f"nothing found for {code!r}"
    assert pieces[0].path == expected[0]
    assert expected[1] in pieces[0].text
    assert pieces[0].label().startswith("Definition of `")


def test_imports_are_parsed_per_language() -> None:
    [ref] = parse_imports("python", "from ..core import (a,\n    b as c)\n")
    assert ref.level == 2 and ref.module == "core" and ref.names == (("a", "a"), ("b", "c"))
    [js] = parse_imports("typescript", "import Def, { x as y } from './m';\n")
    assert dict((local, orig) for orig, local in js.names) == {"y": "x", "Def": "default"}


def test_similar_open_code_and_project_instructions_come_after_definitions(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pkg/rows.py": ROWS,
            "main.py": MAIN,
            "AGENTS.md": "Use tabs. Never print.\n",
            "other.py": "def helper():\n    cleaned = [normalize_row(r) for r in rows]\n    return cleaned\n",
        },
    )
    index = built(tmp_path)
    documents = [("other.py", (tmp_path / "other.py").read_text())]
    pieces = related_pieces(index, str(tmp_path / "main.py"), MAIN, MAIN.split("def load")[1], documents)
    assert [p.kind for p in pieces] == ["definition", "similar", "instructions"]
    assert pieces[2].label() == "Project instructions from AGENTS.md (written by the project's developers)"
    assert fit(pieces, pieces[0].cost()) == pieces[:1]
    assert similar_snippets("zzz_unrelated()", documents) == []


def test_completion_header_is_a_comment_block_and_fast(tmp_path: Path) -> None:
    write(tmp_path, {"pkg/rows.py": ROWS, "main.py": MAIN})
    for i in range(300):  # a workspace of some size
        write(tmp_path, {f"mod{i}/m.py": f"def f{i}(x):\n    return x\n" * 5})
    index = built(tmp_path)
    text = MAIN + "\n\ndef more(rows):\n    return normalize_row(\n"
    offset = len(text) - 1
    header = completion_header(index, str(tmp_path / "main.py"), text, offset, 1400)
    assert header.startswith("# Path: pkg/rows.py (line 4)\n# def normalize_row(row: dict) -> dict:\n")
    assert all(line.startswith("#") for line in header.splitlines() if line)
    timings = []
    for _ in range(200):
        started = time.perf_counter()
        completion_header(index, str(tmp_path / "main.py"), text, offset, 1400)
        timings.append(time.perf_counter() - started)
    assert sorted(timings)[int(len(timings) * 0.99) - 1] < 0.005


# -- end to end, through the real server ---------------------------------------------------


def last_user_message(fake: FakeCodestral) -> str:
    content: str = fake.completion_requests()[-1].body["messages"][-1]["content"]
    return content


async def start_in(
    start_session: Callable[..., Awaitable[Editor]], tmp_path: Path, files: dict[str, str], **options: object
) -> Editor:
    write(tmp_path / "project", files)
    editor = await start_session(**options)
    status = await editor.run("codestral.index", {"wait": True})
    assert status["ready"] is True
    return editor


async def test_an_action_sends_the_definition_from_another_file(
    start_session: Callable[..., Awaitable[Editor]], fake: FakeCodestral, tmp_path: Path
) -> None:
    editor = await start_in(
        start_session,
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/rows.py": ROWS,
            ".gitignore": "private/\n",
            "private/rows.py": "def normalize_row(row):\n    SECRET_IMPLEMENTATION = 1\n",
            ".codestral/instructions.md": "Prefer comprehensions.\n",
        },
    )
    uri = editor.open("main.py", MAIN)
    fake.enqueue(Script(text="It normalizes rows."))
    result = await editor.run("codestral.explain", {"uri": uri, "range": lsp_range(4, 0, 6, 0)})
    assert result["status"] == "shown"
    message = last_user_message(fake)
    assert "Definition of `normalize_row` from pkg/rows.py, line 4:" in message
    assert '    """Lower-case every key of a row."""\n    return {k.lower(): v' in message
    assert "SECRET_IMPLEMENTATION" not in message  # .gitignore'd
    assert "Project instructions from .codestral/instructions.md" in message
    assert message.index("Definition of") < message.index("Explain the selected code.")


async def test_unsaved_edits_and_deleted_files_reach_the_prompt(
    start_session: Callable[..., Awaitable[Editor]], fake: FakeCodestral, tmp_path: Path
) -> None:
    editor = await start_in(start_session, tmp_path, {"pkg/rows.py": ROWS})
    rows_uri = editor.open("pkg/rows.py", ROWS)
    start = ROWS.index("Lower-case")
    editor.replace(rows_uri, start, start + len("Lower-case"), "Upper-case")  # not saved
    uri = editor.open("main.py", MAIN)
    fake.enqueue(Script(text="It normalizes rows."))
    await editor.run("codestral.explain", {"uri": uri, "range": lsp_range(4, 0, 6, 0)})
    assert '"""Upper-case every key of a row."""' in last_user_message(fake)

    # closed, then deleted on disk: the watcher's event takes it out of the context
    editor.client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=rows_uri))
    )
    (editor.folder / "pkg" / "rows.py").unlink()
    editor.client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[types.FileEvent(uri=rows_uri, type=types.FileChangeType.Deleted)]
        )
    )
    await editor.run("codestral.index", {"wait": True})
    fake.enqueue(Script(text="It normalizes rows."))
    await editor.run("codestral.explain", {"uri": uri, "range": lsp_range(4, 0, 6, 0)})
    assert "Definition of `normalize_row`" not in last_user_message(fake)


async def test_inline_completion_carries_definitions_as_a_comment_header(
    start_session: Callable[..., Awaitable[Editor]], fake: FakeCodestral, tmp_path: Path
) -> None:
    capabilities = types.ClientCapabilities(
        workspace=CAPABILITIES.workspace,
        window=CAPABILITIES.window,
        text_document=types.TextDocumentClientCapabilities(
            inline_completion=types.InlineCompletionClientCapabilities()
        ),
    )
    editor = await start_in(
        start_session,
        tmp_path,
        {"pkg/rows.py": ROWS},
        settings={"completion": {"debounceMs": 0}},
        capabilities=capabilities,
    )
    code = "from pkg.rows import normalize_row\n\n\ndef load(rows):\n    return normalize_row("
    uri = editor.open("main.py", code)
    fake.enqueue(Script(text="rows[0])"))
    result = await editor.client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=utf16_position(code, len(code)),
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
        )
    )
    assert result is not None and result.items[0].insert_text == "rows[0])"
    prompt = fake.completion_requests()[-1].body["prompt"]
    assert prompt.startswith("# Path: pkg/rows.py (line 4)\n# def normalize_row(row: dict) -> dict:\n")
    assert prompt.endswith(code)


async def test_context_workspace_false_sends_only_the_file(
    start_session: Callable[..., Awaitable[Editor]], fake: FakeCodestral, tmp_path: Path
) -> None:
    write(tmp_path / "project", {"pkg/rows.py": ROWS})
    editor = await start_session(settings={"context": {"workspace": False}})
    assert (await editor.run("codestral.index", {"wait": True}))["enabled"] is False
    uri = editor.open("main.py", MAIN)
    fake.enqueue(Script(text="It normalizes rows."))
    await editor.run("codestral.explain", {"uri": uri, "range": lsp_range(4, 0, 6, 0)})
    assert "Definition of" not in last_user_message(fake)


async def test_the_server_asks_to_watch_files_when_the_client_can_register(
    start_session: Callable[..., Awaitable[Editor]], fake: FakeCodestral, tmp_path: Path
) -> None:
    registered: list[types.RegistrationParams] = []

    def hook(client: LanguageClient) -> None:
        @client.feature(types.CLIENT_REGISTER_CAPABILITY)  # type: ignore[untyped-decorator]  # pygls: unannotated
        def register(params: types.RegistrationParams) -> None:
            registered.append(params)

    workspace = types.WorkspaceClientCapabilities(
        apply_edit=True,
        configuration=True,
        did_change_watched_files=types.DidChangeWatchedFilesClientCapabilities(dynamic_registration=True),
    )
    capabilities = types.ClientCapabilities(workspace=workspace, window=CAPABILITIES.window)
    editor = await start_in(
        start_session, tmp_path, {"pkg/rows.py": ROWS}, capabilities=capabilities, before_initialize=hook
    )
    [params] = registered
    [registration] = params.registrations
    assert registration.method == types.WORKSPACE_DID_CHANGE_WATCHED_FILES
    assert registration.register_options["watchers"][0]["globPattern"] == "**/*"  # type: ignore[index]
    # a file created on disk and reported by the watcher is in the next prompt
    write(editor.folder, {"pkg/extra.py": "def extra_step(x):\n    return x\n"})
    editor.client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[
                types.FileEvent(
                    uri=(editor.folder / "pkg" / "extra.py").as_uri(), type=types.FileChangeType.Created
                )
            ]
        )
    )
    assert (await editor.run("codestral.index", {"wait": True}))["files"] == 2
    code = "from pkg.extra import extra_step\n\n\ndef f(x):\n    return extra_step(x)\n"
    uri = editor.open("main.py", code)
    fake.enqueue(Script(text="It steps."))
    await editor.run("codestral.explain", {"uri": uri, "range": lsp_range(3, 0, 5, 0)})
    assert "Definition of `extra_step` from pkg/extra.py, line 1:" in last_user_message(fake)


def test_the_recall_benchmark_counts_cross_file_calls_on_a_small_project(tmp_path: Path) -> None:
    from bench.context_recall import js_calls, present, python_cases

    write(
        tmp_path,
        {
            "a.py": "from b import helper\n\ndef run(f):\n    f()\n    len([])\n    return helper(1)\n",
            "b.py": "def helper(x):\n    return x\n\ndef f():\n    pass\n",
        },
    )
    cases, _ = python_cases(tmp_path, [tmp_path / "a.py", tmp_path / "b.py"])
    assert [(c.path.name, c.callees) for c in cases] == [("a.py", ["helper"])]  # not the parameter f
    assert js_calls("const y = load(x); (z) => z(1); utils.each(a); other.thing();", {"utils"}) == [
        "load",
        "each",
    ]
    assert present("def helper(x):", "helper", "python")
    assert present("export const load = (x) => x", "load", "javascript")


async def test_a_workspace_folder_added_later_is_indexed(
    start_session: Callable[..., Awaitable[Editor]], fake: FakeCodestral, tmp_path: Path
) -> None:
    editor = await start_in(start_session, tmp_path, {"a.py": "x = 1\n"})
    other = tmp_path / "other"
    write(other, {"pkg/rows.py": ROWS, "main.py": MAIN})
    editor.client.workspace_did_change_workspace_folders(
        types.DidChangeWorkspaceFoldersParams(
            event=types.WorkspaceFoldersChangeEvent(
                added=[types.WorkspaceFolder(uri=other.as_uri(), name="other")], removed=[]
            )
        )
    )
    assert (await editor.run("codestral.index", {"wait": True}))["files"] == 3
    uri = (other / "main.py").as_uri()
    editor.documents[uri] = OpenDocument(MAIN, 1, "python")
    editor.client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=MAIN)
        )
    )
    fake.enqueue(Script(text="It normalizes rows."))
    await editor.run("codestral.explain", {"uri": uri, "range": lsp_range(4, 0, 6, 0)})
    assert "Definition of `normalize_row` from pkg/rows.py, line 4:" in last_user_message(fake)


async def test_a_new_context_exclude_setting_takes_files_out(
    start_session: Callable[..., Awaitable[Editor]], fake: FakeCodestral, tmp_path: Path
) -> None:
    editor = await start_in(start_session, tmp_path, {"pkg/rows.py": ROWS, "gen/rows_gen.py": ROWS})
    assert (await editor.run("codestral.index", {"wait": True}))["files"] == 2
    editor.client.set_configuration({"context": {"exclude": ["pkg/**"]}}, section="codestral")
    editor.client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    uri = editor.open("main.py", MAIN)
    fake.enqueue(Script(text="It normalizes rows."))
    await editor.run("codestral.explain", {"uri": uri, "range": lsp_range(4, 0, 6, 0)})
    assert (await editor.run("codestral.index", {"wait": True}))["files"] == 2  # gen/ and main.py
    fake.enqueue(Script(text="It normalizes rows."))
    await editor.run("codestral.explain", {"uri": uri, "range": lsp_range(4, 0, 6, 0)})
    # the import now leads to no indexed file: treated like a library's, not guessed at
    assert "Definition of `normalize_row`" not in last_user_message(fake)


def test_without_other_files_the_in_file_context_is_as_before() -> None:
    lines = [f"line_{i} = {i}\n" for i in range(200)]
    lines[100:103] = ["def f():\n", "    return line_1\n", "\n"]
    selection = "".join(lines[100:102])
    old = build_context(
        lines, 100, 101, selection, language="python", path="m.py", budget_chars=700, nearby_lines=30
    )
    new, related = assemble(
        lines, 100, 101, selection, [], language="python", path="m.py", budget_chars=700, nearby_lines=30
    )
    assert new == old and related == []
