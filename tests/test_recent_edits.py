"""Recently edited regions as a source of similar code: the bounded history fed by didChange,
ranked with the open documents' windows, within the workspace rules — for actions and for
inline completion's header."""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from codestral_lsp.crossfile import (
    WindowCache,
    completion_header,
    edited_regions,
    similar_snippets,
)
from codestral_lsp.positions import lsp_lines
from codestral_lsp.recent_edits import MAX_SHOWN_CHARS, MAX_SPAN, EditHistory
from codestral_lsp.workspace_index import WorkspaceIndex
from lsprotocol import types

from fake_codestral import FakeCodestral, Script
from tests.editor import CAPABILITIES, Editor, OpenDocument, lsp_range, utf16_position

# -- the history -------------------------------------------------------------------------------


def numbered(count: int) -> str:
    return "".join(f"line_{i} = {i}\n" for i in range(count))


def test_typing_grows_one_region_and_distant_edits_make_others() -> None:
    history = EditHistory()
    text = numbered(100)
    for _ in range(5):  # typing on line 10, then on line 12: one region
        history.changed("/w/a.py", 10, 10, "x", text)
    history.changed("/w/a.py", 12, 12, "y", text)
    history.changed("/w/a.py", 60, 60, "z", text)  # far below: a region of its own
    history.changed("/w/b.py", 3, 3, "w", text)
    assert [(r.path, r.first, r.last) for r in history.regions] == [
        ("/w/a.py", 10, 12),
        ("/w/a.py", 60, 60),
        ("/w/b.py", 3, 3),
    ]


def test_lines_inserted_or_removed_above_move_a_region() -> None:
    history = EditHistory()
    text = numbered(100)
    history.changed("/w/a.py", 50, 50, "edited", text)
    history.changed("/w/a.py", 5, 5, "one\ntwo\nthree\n", text)  # three lines more above
    assert (history.regions[0].first, history.regions[0].last) == (53, 53)
    history.changed("/w/a.py", 5, 9, "", text)  # four lines fewer above
    assert (history.regions[0].first, history.regions[0].last) == (49, 49)
    history.changed("/w/a.py", 48, 51, "a\nb\n", text)  # over it: the edit takes it in
    assert [(r.first, r.last) for r in history.regions] == [(5, 5), (48, 50)]


def test_a_region_grows_to_a_bound_and_the_history_keeps_the_latest() -> None:
    history = EditHistory(limit=4)
    text = numbered(500)
    for line in range(0, 200, 2):  # editing every other line downwards
        history.changed("/w/a.py", line, line, "x", text)
    assert all(r.last - r.first + 1 <= MAX_SPAN for r in history.regions)
    assert len(history.regions) == 4 and history.regions[-1].last == 198


def test_a_closed_documents_region_keeps_the_text_its_last_edit_left() -> None:
    history = EditHistory()
    before = numbered(40)
    after = before.replace("line_20 = 20\n", "def total_weight(orders):\n    return 0\n")
    history.changed("/w/a.py", 20, 21, "def total_weight(orders):\n    return 0\n", after)
    open_lines = {"/w/a.py": lsp_lines(after)}
    [(path, first, text)] = history.snippets(open_lines.get)  # open: from the buffer
    assert path == "/w/a.py" and first == 18 and "def total_weight(orders):" in text
    assert history.snippets(lambda path: None) == [(path, first, text)]  # closed: the same text
    history.forget("/w")  # its folder deleted
    assert history.snippets(lambda path: None) == []


# -- ranking and the workspace rules -----------------------------------------------------------

SELECTION = "def total_price(orders):\n    return sum(order.price * order.quantity for order in orders)\n"
EDITED = "def total_weight(orders):\n    return sum(order.weight * order.quantity for order in orders)\n"


def test_an_edited_region_ranks_with_the_open_windows_and_overlaps_are_dropped() -> None:
    documents = [("notes.py", "import os\n\nprint(os.getcwd())\n"), ("cart.py", "x = 1\n" * 5 + EDITED)]
    edited = [("cart.py", 5, EDITED), ("other.py", 30, "config = load()\n")]
    pieces = similar_snippets(SELECTION, documents, edited=edited)
    assert [(p.kind, p.path, p.line) for p in pieces] == [("edited", "cart.py", 5)]  # not twice
    assert pieces[0].label() == "Recently edited code from cart.py, line 6"


def test_edits_outside_the_workspace_in_ignored_or_excluded_files_are_left_out(tmp_path: Path) -> None:
    project = tmp_path / "project"
    for name in ("app.py", "cart.py", "secret/keys.py", "build/gen.py"):
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text("x = 1\n")
    (project / ".gitignore").write_text("build/\n")
    index = WorkspaceIndex([project], ["secret/**"])
    real = os.path.realpath(project)
    regions = [
        (os.path.join(real, name), 3, EDITED)
        for name in ("cart.py", "secret/keys.py", "build/gen.py", "app.py")
    ] + [(os.path.realpath(tmp_path / "elsewhere.py"), 0, EDITED)]
    kept = edited_regions(index, regions, str(project / "app.py"))  # app.py: the current file
    assert kept == [("cart.py", 3, EDITED)]


def test_the_completion_header_adds_similar_code_within_its_budget_and_fast(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text("")
    index = WorkspaceIndex([tmp_path])
    index.install(index.scan())
    documents = [  # 20 open documents of 500 lines
        (f"mod{d}.py", "".join(f"value_{d}_{i} = compute_{i % 7}(value_{d}_{i - 1})\n" for i in range(500)))
        for d in range(20)
    ]
    edited = [(f"mod{d}.py", 40, "x = 1\n" * 20) for d in range(15)] + [("cart.py", 10, EDITED)]
    text = "def total_price(orders):\n    return sum(order.price * order.quantity for order in orders)\n"
    cache = WindowCache()
    path = str(tmp_path / "main.py")
    header = completion_header(index, path, text, len(text) - 1, 1400, documents, edited, cache)
    assert header.startswith("# Path: cart.py (line 11)\n# def total_weight(orders):\n")
    assert completion_header(index, path, text, len(text) - 1, 100, documents, edited, cache) == ""
    timings: dict[bool, list[float]] = {False: [], True: []}
    for i in range(400):  # typing: the current text changes, the other documents do not
        typed = text + "x" * (i // 2)
        similar = i % 2 == 1  # interleaved, so that a busy machine slows both alike
        started = time.perf_counter()
        if similar:
            completion_header(index, path, typed, len(typed), 1400, documents, edited, cache)
        else:
            completion_header(index, path, typed, len(typed), 1400)
        timings[similar].append(time.perf_counter() - started)
    p99 = {k: sorted(v)[int(len(v) * 0.99) - 1] for k, v in timings.items()}
    assert p99[True] - p99[False] < 0.005, p99


# -- end to end, through the real server ---------------------------------------------------

MAIN = "import os\n\n\n" + SELECTION
CART = "".join(f"def unrelated_{i}(a, b):\n    return a + b\n\n\n" for i in range(10))


def last_prompt(fake: FakeCodestral) -> str:
    return fake.completion_requests()[-1].prompt_text()


async def edit_save_close(editor: Editor, name: str, text: str, line: int, inserted: str) -> None:
    """Open ``name``, insert ``inserted`` at ``line``, save it and close it, as a user does."""
    uri = editor.open(name, text)
    offset = sum(len(x) for x in lsp_lines(text)[:line])
    editor.replace(uri, offset, offset, inserted)
    path = editor.folder / name
    path.write_text(editor.text(uri))
    identifier = types.TextDocumentIdentifier(uri=uri)
    editor.client.text_document_did_save(types.DidSaveTextDocumentParams(text_document=identifier))
    editor.client.text_document_did_close(types.DidCloseTextDocumentParams(text_document=identifier))


async def test_an_edit_in_a_closed_file_reaches_a_similar_actions_prompt(
    start_session: Callable[..., Awaitable[Editor]], fake: FakeCodestral, tmp_path: Path
) -> None:
    editor = await start_session()
    assert (await editor.run("codestral.index", {"wait": True}))["ready"] is True
    await edit_save_close(editor, "cart.py", CART, 20, EDITED)
    uri = editor.open("main.py", MAIN)
    fake.enqueue(Script(text="It sums prices."))
    result = await editor.run("codestral.explain", {"uri": uri, "range": lsp_range(3, 0, 5, 0)})
    assert result["status"] == "shown"
    prompt = last_prompt(fake)
    assert "Recently edited code from cart.py, line 19:" in prompt
    assert "def total_weight(orders):" in prompt
    assert "unrelated_9" not in prompt  # the region, not the file


async def test_an_excluded_files_edits_never_reach_the_prompt(
    start_session: Callable[..., Awaitable[Editor]], fake: FakeCodestral, tmp_path: Path
) -> None:
    editor = await start_session(settings={"context": {"exclude": ["secret/**"]}})
    assert (await editor.run("codestral.index", {"wait": True}))["ready"] is True
    secret = EDITED.replace("total_weight", "total_weight_SECRET")
    await edit_save_close(editor, "secret/cart.py", CART, 20, secret)
    open_secret = editor.open("secret/open.py", CART)  # edited and left open
    editor.replace(open_secret, 0, 0, secret.replace("SECRET", "OPEN_SECRET"))
    await edit_save_close(editor, "cart.py", CART, 20, EDITED)  # a file the rules admit
    uri = editor.open("main.py", MAIN)
    fake.enqueue(Script(text="It sums prices."))
    await editor.run("codestral.explain", {"uri": uri, "range": lsp_range(3, 0, 5, 0)})
    prompt = last_prompt(fake)
    assert "Recently edited code from cart.py" in prompt
    assert "SECRET" not in prompt and "secret/" not in prompt


async def test_inline_completion_gets_recently_edited_code_in_its_header(
    start_session: Callable[..., Awaitable[Editor]], fake: FakeCodestral, tmp_path: Path
) -> None:
    capabilities = types.ClientCapabilities(
        workspace=CAPABILITIES.workspace,
        window=CAPABILITIES.window,
        text_document=types.TextDocumentClientCapabilities(
            inline_completion=types.InlineCompletionClientCapabilities()
        ),
    )
    editor = await start_session(settings={"completion": {"debounceMs": 0}}, capabilities=capabilities)
    assert (await editor.run("codestral.index", {"wait": True}))["ready"] is True
    await edit_save_close(editor, "cart.py", CART, 20, EDITED)
    code = "def total_price(orders):\n    return sum(order.price * order.quantity for order in "
    uri = editor.open("main.py", code)
    fake.enqueue(Script(text="orders)"))
    result = await editor.client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=utf16_position(code, len(code)),
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
        )
    )
    assert result is not None and result.items[0].insert_text == "orders)"
    prompt = fake.completion_requests()[-1].body["prompt"]
    assert prompt.startswith("# Path: cart.py (line 19)\n")
    assert "# def total_weight(orders):\n" in prompt and prompt.endswith(code)


def test_a_huge_documents_text_is_not_kept_after_it_closes() -> None:
    history = EditHistory()
    huge = "x = 1\n" * 300_000
    history.changed("/w/huge.py", 10, 10, "y", huge)
    assert history.snippets(lambda path: lsp_lines(huge))  # open: from the buffer
    assert history.snippets(lambda path: None) == []  # closed: nothing kept


# -- hostile edits -------------------------------------------------------------------------------

MINIFIED = (
    "TOTALS = ["
    + ", ".join("sum(order.price * order.quantity for order in orders)" for _ in range(250))
    + "]\n"
)


def test_a_region_of_minified_code_is_bounded() -> None:
    history = EditHistory()
    text = "x = 1\n" * 5 + MINIFIED * 3 + "y = 2\n"
    history.changed("/w/min.py", 5, 5, MINIFIED, text)
    for lines_of in (lambda path: lsp_lines(text), lambda path: None):  # open, then closed
        assert all(len(snippet) <= MAX_SHOWN_CHARS for _, _, snippet in history.snippets(lines_of))


async def test_an_edit_of_minified_code_does_not_fill_the_prompt(
    start_session: Callable[..., Awaitable[Editor]], fake: FakeCodestral, tmp_path: Path
) -> None:
    editor = await start_session()
    assert (await editor.run("codestral.index", {"wait": True}))["ready"] is True
    await edit_save_close(editor, "cart.py", CART, 20, MINIFIED)  # one line of 13,000 characters
    uri = editor.open("main.py", MAIN)
    fake.enqueue(Script(text="It sums prices."))
    result = await editor.run("codestral.explain", {"uri": uri, "range": lsp_range(3, 0, 5, 0)})
    assert result["status"] == "shown"
    prompt = last_prompt(fake)
    assert "TOTALS = [" not in prompt and len(prompt) < len(MINIFIED)


async def test_a_file_deleted_after_its_edit_no_longer_reaches_the_prompt(
    start_session: Callable[..., Awaitable[Editor]], fake: FakeCodestral, tmp_path: Path
) -> None:
    editor = await start_session()
    assert (await editor.run("codestral.index", {"wait": True}))["ready"] is True
    await edit_save_close(editor, "cart.py", CART, 20, EDITED)
    (editor.folder / "cart.py").unlink()  # deleted outside the editor: no event reaches the server
    uri = editor.open("main.py", MAIN)
    fake.enqueue(Script(text="It sums prices."))
    result = await editor.run("codestral.explain", {"uri": uri, "range": lsp_range(3, 0, 5, 0)})
    assert result["status"] == "shown"
    prompt = last_prompt(fake)
    assert "Recently edited code from cart.py" not in prompt and "total_weight" not in prompt


async def test_edits_through_a_link_to_outside_the_workspace_never_reach_the_prompt(
    start_session: Callable[..., Awaitable[Editor]], fake: FakeCodestral, tmp_path: Path
) -> None:
    outside = tmp_path / "outside" / "private.py"
    outside.parent.mkdir()
    outside.write_text(CART)
    editor = await start_session()
    (editor.folder / "link.py").symlink_to(outside)
    assert (await editor.run("codestral.index", {"wait": True}))["ready"] is True
    uri = (editor.folder / "link.py").as_uri()
    editor.documents[uri] = OpenDocument(CART, 1, "python")
    editor.client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=CART)
        )
    )
    offset = sum(len(x) for x in lsp_lines(CART)[:20])
    editor.replace(uri, offset, offset, EDITED.replace("total_weight", "total_weight_PRIVATE"))
    main = editor.open("main.py", MAIN)
    fake.enqueue(Script(text="It sums prices."))
    await editor.run("codestral.explain", {"uri": main, "range": lsp_range(3, 0, 5, 0)})
    assert "PRIVATE" not in last_prompt(fake)
