"""Answers in the shapes models really write: each lands exactly, or is kept with its reason.

The corpus is in ``tests/answer_shapes.py``; here every case is checked, then hypothesis mixes
them (prose around, extra blocks, CRLF, tabs), and the pure pieces are tested on their own.
"""

from __future__ import annotations

import re

import pytest
from codestral_lsp.answer import extract_code
from codestral_lsp.shapes import (
    LEFT_OUT_CODE,
    apply_diff,
    find_elision,
    looks_like_markdown,
    looks_like_prose,
    parse_answer,
    plan_rewrite,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.answer_shapes import CASES, Case, Kept, outcome, verdict


def test_the_corpus_is_broad() -> None:
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)
    assert len({c.language for c in CASES}) >= 8
    assert any("\r\n" in c.document for c in CASES) and any("\t" in c.document for c in CASES)
    assert sum(isinstance(c.expected, Kept) for c in CASES) >= 10
    assert all(c.source for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_each_shape_lands_exactly_or_is_kept_with_its_reason(case: Case) -> None:
    assert outcome(case) == case.expected


def test_no_shape_of_the_corpus_applies_wrong_code() -> None:
    verdicts = [verdict(c) for c in CASES]
    assert verdicts.count("wrong") == 0
    assert verdicts.count("kept-could-land") == 0


# -- mixed shapes ----------------------------------------------------------------------------

LANDING = [c for c in CASES if not isinstance(c.expected, Kept)]
FENCED = [
    c
    for c in LANDING
    if c.answer.lstrip("\ufeff").startswith(("```", "~~~"))
    and c.answer.rstrip().endswith(("```", "~~~"))  # not an unterminated fence
]
PROSE_BEFORE = ["", "Sure! Here is the updated code:\n\n", "Certainly.\n\n", "Here's a cleaner version:\n"]
PROSE_AFTER = [
    "",
    "\n\nThis keeps the behaviour the same.",
    "\n\n**Changes:**\n- clearer names\n- fewer branches\n",
    "\n\nLet me know if you need anything else!",
]
EXTRA = [
    "",
    "\n\nInstall the dependency first:\n\n```bash\npip install -r requirements.txt\n```\n",
    "\n\nYou can check it with:\n\n```\n$ make test\nall tests passed\n```\n",
]


def _crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def _tabs(text: str) -> str:
    return re.sub(r"(?m)^([⟦⟧]?)((?:    )+)", lambda m: m.group(1) + "\t" * (len(m.group(2)) // 4), text)


@settings(max_examples=150, deadline=None)
@given(
    case=st.sampled_from(FENCED),
    before=st.sampled_from(PROSE_BEFORE),
    after=st.sampled_from(PROSE_AFTER),
    extra=st.sampled_from(EXTRA),
    crlf_answer=st.booleans(),
    crlf_document=st.booleans(),
)
def test_prose_extra_blocks_and_line_endings_do_not_change_the_edit(
    case: Case, before: str, after: str, extra: str, crlf_answer: bool, crlf_document: bool
) -> None:
    answer = before + case.answer + after + extra
    answer = _crlf(answer) if crlf_answer else answer
    document, expected = case.document, case.expected
    assert isinstance(expected, str)
    if crlf_document:
        document, expected = _crlf(document), _crlf(expected)
    mixed = Case(case.id, case.source, case.language, document, answer, expected, case.action)
    assert outcome(mixed) == expected


TAB_CASES = [c for c in LANDING if c.language == "python" and "    " in c.document]


@settings(max_examples=60, deadline=None)
@given(case=st.sampled_from(TAB_CASES), after=st.sampled_from(PROSE_AFTER), crlf=st.booleans())
def test_a_tab_indented_document_gets_the_same_edit_in_tabs(case: Case, after: str, crlf: bool) -> None:
    document, expected = _tabs(case.document), _tabs(str(case.expected))
    if crlf:
        document, expected = _crlf(document), _crlf(expected)
    mixed = Case(case.id, case.source, case.language, document, case.answer + after, expected, case.action)
    got = outcome(mixed)
    assert got == expected or isinstance(got, Kept)


KEPT = [c for c in CASES if isinstance(c.expected, Kept)]


@settings(max_examples=80, deadline=None)
@given(
    case=st.sampled_from(KEPT),
    before=st.sampled_from(PROSE_BEFORE),
    after=st.sampled_from(PROSE_AFTER),
    crlf=st.booleans(),
)
def test_an_answer_that_must_be_kept_stays_kept_whatever_is_around_it(
    case: Case, before: str, after: str, crlf: bool
) -> None:
    answer = before + case.answer + after
    answer = _crlf(answer) if crlf else answer
    mixed = Case(case.id, case.source, case.language, case.document, answer, case.expected, case.action)
    if case.answer.lstrip().startswith(("```", "~~~")):
        assert outcome(mixed) == case.expected
    else:  # an unfenced answer with more prose may be kept for the prose: still kept
        assert isinstance(outcome(mixed), Kept)


# -- the pieces ------------------------------------------------------------------------------


def test_a_backtick_line_inside_the_code_does_not_end_the_block() -> None:
    answer = '```python\ndef f():\n    """Use it so:\n\n        ```\n        f()\n        ```\n    """\n    return 1\n```\nDone.'
    [block], prose = parse_answer(answer)
    assert block.lines[-1] == "    return 1" and block.closed
    assert prose == ["Done."]
    assert extract_code(answer).endswith("    return 1\n")


def test_a_longer_fence_holds_shorter_ones() -> None:
    [block], _ = parse_answer("````md\n```py\nx\n```\n````")
    assert block.lines == ("```py", "x", "```")


@pytest.mark.parametrize(
    ("line", "language"),
    [
        ("# ... existing code ...", "python"),
        ("// ... rest of the code ...", "javascript"),
        ("// rest unchanged", "go"),
        ("/* ... */", "c"),
        ("<!-- ... existing items ... -->", "html"),
        ("-- remaining lines unchanged", "lua"),
        ("; ... same as before", "lisp"),
        ("{/* ... existing JSX ... */}", "typescriptreact"),
        ("...", "rust"),
        ("…", "python"),
        ("    # Other methods remain the same", "python"),
        ("x = compute()  # ... rest of the function", "python"),
    ],
)
def test_elision_markers_are_found_in_each_comment_style(line: str, language: str) -> None:
    assert find_elision([line], ["a = 1"], {"a = 1"}, language) == line.strip()


@pytest.mark.parametrize(
    "line",
    ["# compute the total", "// keep going until done", "return ...", "print('...')", "args = [...args]"],
)
def test_ordinary_lines_are_not_elision(line: str) -> None:
    assert find_elision([line], ["a = 1"], {"a = 1"}, "python") is None


def test_a_marker_the_user_already_had_is_code() -> None:
    assert (
        find_elision(
            ["# ... existing code ..."], ["# ... existing code ..."], {"# ... existing code ..."}, "python"
        )
        is None
    )


@pytest.mark.parametrize(
    ("line", "prose"),
    [
        ("Here is the refactored code:", True),
        ("This version uses an f-string, which is more readable.", True),
        ("- clearer names for the variables", True),
        ("**Changes:**", True),
        ("- name: build", False),
        ("for item in items:", False),
        ("return total", False),
        ("# Compute the sum of the items.", False),
        ('print("Hello, this is a sentence.")', False),
        ("x = a if b else c", False),
        ("this.result += number;", False),
        ("SELECT name FROM users", False),
        ("String name = user.getName();", False),
        ("This calls `items.map()` instead of the loop.", True),
        ("I replaced the concatenation with an f-string", True),
    ],
)
def test_prose_is_told_from_code(line: str, prose: bool) -> None:
    assert (looks_like_prose(line) or looks_like_markdown(line)) is prose


def test_a_diff_applies_only_where_it_matches_once() -> None:
    document = ["a", "b", "c", "b"]
    assert apply_diff(["@@ -1,2 +1,2 @@", " a", "-b", "+B"], document) == ["a", "B", "c", "b"]
    assert apply_diff(["-b", "+B"], document) is None  # two places: ambiguous
    assert apply_diff(["@@ -1 +1 @@", " z", "-q", "+Q"], document) is None


def test_the_reason_is_one_sentence() -> None:
    plan = plan_rewrite(
        "```python\n# ... existing code ...\nx = 2\n```", "", "x = 1\ny = 2\n", "", language="python"
    )
    assert plan.kept and plan.elided and plan.reason == LEFT_OUT_CODE
    assert (
        plan.sentence()
        == "Not applied: the answer left out code (it writes “# ... existing code ...” instead)."
    )
    assert "\n" not in plan.sentence()


def test_benchmarks_md_reports_the_corpus_as_it_is_now() -> None:
    from pathlib import Path

    from bench.answers import measure, section

    counts, _, _ = measure()
    assert counts["wrong"] == 0
    benchmarks = (Path(__file__).resolve().parents[1] / "BENCHMARKS.md").read_text()
    assert section() in benchmarks, "run `python -m bench.answers --markdown`"


# -- whole-file and echoed answers on generated documents --------------------------------------

CODE_LINES = st.sampled_from(
    [
        "x = compute(a, b)",
        "return result",
        "}",
        "",
        "if (ready) {",
        "total += item.price",
        "log.info('done')",
        "end",
        "for item in items:",
        "value = cache.get(key)",
    ]
)


@st.composite
def documents(draw: st.DrawFn) -> tuple[list[str], int, int]:
    lines = draw(st.lists(CODE_LINES, min_size=3, max_size=30))
    lines = [f"{line}  # {i}" if line and draw(st.booleans()) else line for i, line in enumerate(lines)]
    first = draw(st.integers(0, len(lines) - 1))
    end = draw(st.integers(first + 1, len(lines)))
    return lines, first, end


def _distinctive(line: str) -> bool:
    """A line of code, not a bracket or `end` (those are told apart by brackets and indentation)."""
    return sum(c.isalnum() for c in line) >= 4


def _plan_lines(lines: list[str], first: int, end: int, answer: list[str]) -> str | Kept:
    case = Case(
        "generated",
        "generated",
        "python",
        "".join(f"{line}\n" for line in lines[:first])
        + "⟦"
        + "".join(f"{line}\n" for line in lines[first:end])
        + "⟧"
        + "".join(f"{line}\n" for line in lines[end:]),
        "```python\n" + "".join(f"{line}\n" for line in answer) + "```",
        "",
    )
    return outcome(case)


@settings(max_examples=200, deadline=None)
@given(doc=documents(), data=st.data())
def test_a_whole_file_answer_changed_inside_the_selection_lands_exactly(
    doc: tuple[list[str], int, int], data: st.DataObject
) -> None:
    lines, first, end = doc
    code = [i for i in range(first, end) if _distinctive(lines[i])]
    if not code:
        return
    changed = list(lines)
    for index in data.draw(st.sets(st.sampled_from(code), min_size=1)):
        changed[index] = f"changed_{index} = {index}"  # a line of code changed (not a bracket)
    outside = [line for line in lines[:first] + lines[end:] if _distinctive(line)]
    if not outside:
        return  # only brackets and blank lines around: the answer reads as well as an insertion
    got = _plan_lines(lines, first, end, changed)
    expected = "".join(f"{line}\n" for line in changed)
    distinct = [line for line in lines if _distinctive(line)]
    if len(set(distinct)) == len(distinct):
        assert got == expected
    else:  # repeated lines can make the answer ambiguous: then it is kept, never misapplied
        assert got == expected or isinstance(got, Kept)


@settings(max_examples=200, deadline=None)
@given(doc=documents(), data=st.data())
def test_a_whole_file_answer_that_changes_code_outside_is_never_applied(
    doc: tuple[list[str], int, int], data: st.DataObject
) -> None:
    lines, first, end = doc
    outside = [i for i in range(len(lines)) if not first <= i < end]
    if not outside:
        return
    changed = list(lines)
    index = data.draw(st.sampled_from(outside))
    changed[index] = f"changed_{index} = {index}"
    changed[first] = f"inside_{first} = 1"
    got = _plan_lines(lines, first, end, changed)
    expected_if_applied = "".join(f"{line}\n" for line in changed)
    assert got != expected_if_applied  # the change outside never reaches the document
    if isinstance(got, str):  # applied: then only the selection changed
        before = "".join(f"{line}\n" for line in lines[:first])
        after = "".join(f"{line}\n" for line in lines[end:])
        assert got.startswith(before) and got.endswith(after)


@settings(max_examples=200, deadline=None)
@given(doc=documents(), data=st.data())
def test_an_echoed_line_above_is_not_inserted_twice(
    doc: tuple[list[str], int, int], data: st.DataObject
) -> None:
    lines, first, end = doc
    if first == 0 or len(lines[first - 1].strip()) < 12 or lines[first - 1] in lines[first:end]:
        return  # only a distinctive line is recognised as an echo
    if not any(lines[first:end]):
        return  # a blank selection is refused before any request
    new = [f"new_{i} = {i}" for i in range(first, end)]
    got = _plan_lines(lines, first, end, [lines[first - 1], *new])
    selected = lines[first:end]
    lead = next(i for i, line in enumerate(selected) if line)
    trail = next(i for i, line in enumerate(reversed(selected)) if line)
    # The selection's blank lines at its edges stay as they were.
    expected = "".join(f"{line}\n" for line in lines[:first] + [""] * lead + new + [""] * trail + lines[end:])
    if lines.count(lines[first - 1]) == 1:
        assert got == expected
    else:
        assert got == expected or isinstance(got, Kept)


@settings(max_examples=200, deadline=None)
@given(doc=documents(), marker=st.sampled_from(["# ... existing code ...", "# rest unchanged", "..."]))
def test_an_answer_with_an_elision_marker_is_never_applied(
    doc: tuple[list[str], int, int], marker: str
) -> None:
    lines, first, end = doc
    answer = [*lines[first:end], "value = 1", marker]
    got = _plan_lines(lines, first, end, answer)
    assert got == Kept(LEFT_OUT_CODE)


def test_blank_lines_at_the_selections_edges_stay() -> None:
    from codestral_lsp.answer import fit_to_selection, lines_after_selection

    assert fit_to_selection("x = 2\n", "\nx = 1\n\n", "", "\n") == "\nx = 2\n\n"
    assert fit_to_selection("x = 2\n", "\r\nx = 1\r\n", "", "\r\n") == "\r\nx = 2\r\n"
    assert lines_after_selection("y = 1\n", "\n    x = 1\n", "", "\n") == "    y = 1\n"
