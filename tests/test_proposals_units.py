"""The pure proposals module: when to review, the diff shown, and the store of open proposals."""

from __future__ import annotations

import pytest
from codestral_lsp.actions import BUILTIN_ACTIONS
from codestral_lsp.arguments import ActionArgs
from codestral_lsp.edits import Hunk, minimal_hunks
from codestral_lsp.jobs import Job
from codestral_lsp.positions import DocumentView, LspTextDocument
from codestral_lsp.proposals import (
    MAX_HELD_CHARS,
    MAX_OPEN,
    ProposalStore,
    Rewrite,
    apply_hunks,
    describe_change,
    is_multiline_change,
    review_mode,
    selection_diff,
    spans_lines,
    unified_diff,
)
from hypothesis import given
from hypothesis import strategies as st
from lsprotocol import types

URI = "file:///project/a.py"


def rng(a: int, b: int, c: int, d: int) -> types.Range:
    return types.Range(start=types.Position(line=a, character=b), end=types.Position(line=c, character=d))


def view_of(text: str) -> DocumentView:
    return DocumentView(LspTextDocument(URI, source=text, version=1))


def test_spans_lines_ignores_a_final_line_break() -> None:
    assert not spans_lines("x = 1\n") and not spans_lines("x = 1\r\n") and not spans_lines("x")
    assert spans_lines("a\nb") and spans_lines("a\r\nb\r\n") and spans_lines("a\rb")


def test_a_multiline_change_is_several_hunks_or_a_hunk_over_lines() -> None:
    old = "a = 1\nb = 2\nc = 3\n"
    assert not is_multiline_change(old, minimal_hunks(old, "a = 1\nb = 20\nc = 3\n"))
    assert is_multiline_change(old, minimal_hunks(old, "a = 10\nb = 2\nc = 30\n"))
    assert is_multiline_change(old, minimal_hunks(old, "a = 1\nb = 2\nx = 0\ny = 0\nc = 3\n"))
    assert not is_multiline_change(old, minimal_hunks(old, "a = 1\nc = 3\n"))  # one line removed
    assert is_multiline_change(old, minimal_hunks(old, "a = 1\n"))  # two lines removed
    assert not is_multiline_change(old, [])


@pytest.mark.parametrize(
    ("setting", "reviews", "annotations", "multiline", "retry", "mode"),
    [
        ("auto", True, False, True, False, "propose"),
        ("auto", True, False, False, False, "apply"),
        ("auto", True, False, False, True, "propose"),  # a retry from a review is reviewed again
        ("always", True, True, False, False, "propose"),
        ("never", True, True, True, True, "apply"),
        ("auto", False, True, True, False, "annotate"),
        ("auto", False, True, False, False, "apply"),
        ("always", False, True, False, False, "annotate"),
        ("auto", False, False, True, False, "apply"),
        ("always", False, False, False, False, "keep"),
        ("never", False, False, True, False, "apply"),
    ],
)
def test_review_mode(
    setting: str, reviews: bool, annotations: bool, multiline: bool, retry: bool, mode: str
) -> None:
    assert review_mode(setting, reviews, annotations, multiline, retry) == mode


def test_unified_diff_numbers_lines_as_the_file_does() -> None:
    old = "".join(f"line {i}\n" for i in range(1, 11))
    new = old.replace("line 2\n", "line two\n").replace("line 9\n", "line nine\n")
    assert unified_diff("a.py", old, new, 20, context=1) == (
        "--- a/a.py\n+++ b/a.py\n"
        "@@ -20,3 +20,3 @@\n line 1\n-line 2\n+line two\n line 3\n"
        "@@ -27,3 +27,3 @@\n line 8\n-line 9\n+line nine\n line 10\n"
    )


def test_unified_diff_of_crlf_text_shows_no_carriage_returns() -> None:
    diff = unified_diff("a.py", "a\r\nb\r\n", "a\r\nc\r\n", 1)
    assert "\r" not in diff
    assert diff.endswith("@@ -1,2 +1,2 @@\n a\n-b\n+c\n")


def test_unified_diff_of_an_insertion_and_of_no_change() -> None:
    assert unified_diff("a.py", "a\nb\n", "a\nx\nb\n", 5).endswith("@@ -5,2 +5,3 @@\n a\n+x\n b\n")
    assert unified_diff("a.py", "a\n", "a\n", 1) == ""
    assert "@@ -3,0 +4 @@" in unified_diff("a.py", "", "x\n", 4)


def test_selection_diff_covers_whole_lines_of_a_mid_line_selection() -> None:
    text = "x = compute(1)\ny = 2\n"
    view = view_of(text)
    selection = view.selection(rng(0, 4, 0, 14))  # compute(1)
    assert selection.text == "compute(1)"
    diff = selection_diff("a.py", view, selection, [Hunk(8, 9, "2")])
    assert diff.endswith("@@ -1 +1 @@\n-x = compute(1)\n+x = compute(2)\n")


def test_selection_diff_of_crlf_lines() -> None:
    text = "a = 1\r\nb = 2\r\nc = 3\r\n"
    view = view_of(text)
    selection = view.selection(rng(1, 0, 3, 0))
    hunks = minimal_hunks(selection.text, "b = 20\r\nc = 30\r\n")
    diff = selection_diff("a.py", view, selection, hunks)
    assert diff == "--- a/a.py\n+++ b/a.py\n@@ -2,2 +2,2 @@\n-b = 2\n-c = 3\n+b = 20\n+c = 30\n"


@given(st.text(alphabet="ab\n", max_size=30), st.text(alphabet="ab\n", max_size=30))
def test_apply_hunks_of_minimal_hunks_gives_the_new_text(old: str, new: str) -> None:
    assert apply_hunks(old, minimal_hunks(old, new)) == new


def _store_with(range_: types.Range, expires_at: float = 100.0) -> tuple[ProposalStore, str]:
    store = ProposalStore()
    view = view_of("a\nb\nc\nd\n")
    selection = view.selection(range_)
    job = Job(7, URI, "Codestral: Refactor", range_)
    args = ActionArgs(uri=URI, range=range_)
    spec = BUILTIN_ACTIONS["refactor"]
    proposal = store.add(Rewrite(spec, job, view, selection, [Hunk(0, 1, "x")], "answer"), args, expires_at)
    job.range = rng(0, 0, 0, 0)  # the job's own range moves on: the proposal's does not follow it
    assert proposal.tracked is not job and proposal.tracked.range == range_
    return store, proposal.id


def test_take_returns_an_open_proposal_once() -> None:
    store, pid = _store_with(rng(1, 0, 2, 0))
    assert store.take("nope", 0) is None and store.take(None, 0) is None
    taken = store.take(pid, 0)
    assert taken is not None and taken.id == pid
    assert store.take(pid, 0) is None


def test_proposals_expire_at_their_time() -> None:
    store, pid = _store_with(rng(1, 0, 2, 0), expires_at=10.0)
    assert store.expire(9.9) == [] and pid in store.open
    assert [p.id for p in store.expire(10.0)] == [pid]
    assert store.take(pid, 0) is None


def test_closing_the_document_or_a_new_rewrite_on_the_range_drops_proposals() -> None:
    store, pid = _store_with(rng(1, 0, 2, 0))
    assert store.drop_document("file:///project/other.py") == []
    assert [p.id for p in store.drop_document(URI)] == [pid]
    store, pid = _store_with(rng(1, 0, 2, 0))
    assert store.drop_overlapping(URI, rng(2, 0, 3, 0)) == []  # only touching: stays
    assert [p.id for p in store.drop_overlapping(URI, rng(0, 0, 1, 1))] == [pid]


def test_the_range_follows_edits_and_an_edit_inside_marks_it_conflicted() -> None:
    store, pid = _store_with(rng(1, 0, 2, 0))
    above = types.TextDocumentContentChangePartial(range=rng(0, 0, 0, 0), text="new\n")
    store.document_changed(URI, above, len)
    proposal = store.open[pid]
    assert proposal.tracked.range == rng(2, 0, 3, 0) and not proposal.tracked.conflicted
    inside = types.TextDocumentContentChangePartial(range=rng(2, 0, 2, 1), text="B")
    store.document_changed(URI, inside, len)
    assert proposal.tracked.conflicted


def test_the_oldest_proposal_goes_beyond_the_limit() -> None:
    store, first = _store_with(rng(1, 0, 2, 0))
    view = view_of("a\nb\nc\nd\n")
    job = Job(8, URI, "Codestral: Refactor", rng(2, 0, 3, 0))
    spec = BUILTIN_ACTIONS["refactor"]
    for _ in range(MAX_OPEN):
        store.add(Rewrite(spec, job, view, view.selection(job.range), [], ""), ActionArgs(uri=URI, range=job.range), 1.0)
    assert len(store.open) == MAX_OPEN and first not in store.open


def test_the_document_versions_held_are_bounded_too() -> None:
    store = ProposalStore()
    spec = BUILTIN_ACTIONS["refactor"]
    versions = 6
    size = MAX_HELD_CHARS // (versions - 2)
    ids = []
    for i in range(versions):  # each proposal made on another version of a large document
        view = view_of(f"{i}\n" + "x" * size + "\n")
        job = Job(i, URI, "Codestral: Refactor", rng(0, 0, 1, 0))
        proposal = store.add(Rewrite(spec, job, view, view.selection(job.range), [], ""), ActionArgs(uri=URI, range=job.range), 1.0)
        ids.append(proposal.id)
    assert store.held_chars() <= MAX_HELD_CHARS
    assert ids[-1] in store.open and ids[0] not in store.open
    view = view_of("small\n")  # one version shared by many proposals counts once
    job = Job(99, URI, "Codestral: Refactor", rng(0, 0, 1, 0))
    for _ in range(3):
        store.add(Rewrite(spec, job, view, view.selection(job.range), [], ""), ActionArgs(uri=URI, range=job.range), 1.0)
    assert store.held_chars() <= MAX_HELD_CHARS


def test_a_proposal_being_retried_follows_edits_and_goes_with_its_document() -> None:
    store, pid = _store_with(rng(1, 0, 2, 0))
    proposal = store.take(pid, 0)
    assert proposal is not None
    store.hold(proposal)
    assert store.take(pid, 0) is None and store.drop_overlapping(URI, rng(1, 0, 2, 0)) == []
    store.document_changed(
        URI, types.TextDocumentContentChangePartial(range=rng(0, 0, 0, 0), text="new\n"), len
    )
    assert proposal.tracked.range == rng(2, 0, 3, 0)
    assert store.release(proposal) and not store.release(proposal)
    store.hold(proposal)
    store.drop_document(URI)
    assert not store.release(proposal)  # closed meanwhile


@pytest.mark.parametrize(
    ("old", "new", "said"),
    [
        ("    pi = 3.14\n    r2 = pi * r * r\n    return r2\n", "    return 3.14 * r ** 2\n", "1 change (3 lines → 1)"),
        ("a = 1\nb = 2\n", "a = 10\nb = 20\n", "1 change (2 lines)"),
        ("a\nb\n", "a\nx\nb\n", "1 change (1 line)"),
        ("a\nb\nc\nd\ne\nf\n", "A\nb\nc\nd\ne\nF\n", "2 changes (2 lines)"),
        ("a\r\nb\r\nc\r\n", "a\r\nc\r\n", "1 change (1 line)"),
    ],
)
def test_a_change_is_described_in_whole_lines_as_a_diff_shows_it(old: str, new: str, said: str) -> None:
    assert describe_change(old, minimal_hunks(old, new)) == said
