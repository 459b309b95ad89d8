"""Proposals: a rewrite's edit held for the user to accept or reject (issue #13).

A proposal keeps what is needed to apply its edit later with today's guarantees — the document
as the action read it, the selection, the minimal hunks, and a range that keeps following the
user's edits (a :class:`~codestral_lsp.jobs.Job` of its own, so the running job's registry and
this store never move the same object twice). An edit touching the range marks it conflicted:
accepting it then keeps the answer instead of applying it over the user's text.

Proposals expire: their document closes, a new rewrite starts on an overlapping range, or they
are not answered within ``reviewExpirySeconds``. Everything here is pure (time is passed in);
the server owns the timers.
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from lsprotocol import types

from codestral_lsp.actions import ActionSpec
from codestral_lsp.arguments import ActionArgs
from codestral_lsp.edits import Hunk
from codestral_lsp.jobs import Job, _overlap, follow_change
from codestral_lsp.positions import DocumentView, Selection, document_key

ReviewMode = Literal["propose", "annotate", "keep", "apply"]
CLOSED = (
    "That Codestral proposal is no longer open (it was answered, expired, or its document was "
    "closed); run the action again."
)
ANNOTATION_ID = "codestral-review"
MAX_OPEN = 100  # the oldest proposal expires beyond this many (each holds a copy of its document)
MAX_HELD_CHARS = 1 << 25  # nor may the copies they hold (each version counted once) pass 32M characters


def spans_lines(text: str) -> bool:
    """True when ``text`` covers more than one line (a final line break does not count)."""
    body = text[:-2] if text.endswith("\r\n") else text[:-1] if text.endswith(("\n", "\r")) else text
    return "\n" in body or "\r" in body


def is_multiline_change(old: str, hunks: Sequence[Hunk]) -> bool:
    """More than a one-line change: several hunks, or one whose old or new text spans lines."""
    if len(hunks) != 1:
        return len(hunks) > 1
    [hunk] = hunks
    return spans_lines(old[hunk.start : hunk.end]) or spans_lines(hunk.text)


def review_mode(
    setting: str, reviews_edits: bool, annotations: bool, multiline: bool, retry: bool = False
) -> ReviewMode:
    """How an edit is delivered under the ``review`` setting and what the client can show.

    ``propose``: answer with a proposal (clients declaring ``reviewsEdits``); ``annotate``: one
    applyEdit needing confirmation (``changeAnnotationSupport``); ``keep``: keep the answer
    (``"always"`` on a client that can show neither); ``apply``: apply as before. ``auto`` reviews
    only more-than-one-line changes — except a retry asked from a review, which is reviewed again.
    """
    if setting == "never":
        return "apply"
    wanted = setting == "always" or multiline or retry
    if reviews_edits:
        return "propose" if wanted else "apply"
    if annotations:
        return "annotate" if wanted and (setting == "always" or multiline) else "apply"
    return "keep" if setting == "always" else "apply"


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _shown(line: str) -> str:
    return line.rstrip("\r\n")


def unified_diff(path: str, old: str, new: str, first_line: int, context: int = 3) -> str:
    """A unified diff of ``old`` → ``new``, whole lines starting at 1-based ``first_line``.

    Headers ``--- a/<path>`` / ``+++ b/<path>``; hunk headers carry the file's line numbers;
    line endings (LF, CRLF, CR) are compared but not shown, so a CRLF file diffs cleanly. A
    changed line ending alone shows as the line removed and added again.
    """
    a, b = _lines(old), _lines(new)
    out = [f"--- a/{path}\n", f"+++ b/{path}\n"]
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for group in matcher.get_grouped_opcodes(context):
        i1, i2 = group[0][1], group[-1][2]
        j1, j2 = group[0][3], group[-1][4]
        out.append(f"@@ -{_span(first_line + i1, i2 - i1)} +{_span(first_line + j1, j2 - j1)} @@\n")
        for tag, a1, a2, b1, b2 in group:
            if tag == "equal":
                out += [f" {_shown(line)}\n" for line in a[a1:a2]]
                continue
            out += [f"-{_shown(line)}\n" for line in a[a1:a2]]
            out += [f"+{_shown(line)}\n" for line in b[b1:b2]]
    return "".join(out) if len(out) > 2 else ""


def _span(start: int, count: int) -> str:
    """A hunk header's ``start,count`` (an empty side starts at the line before it)."""
    if count == 0:
        return f"{start - 1},0"
    return str(start) if count == 1 else f"{start},{count}"


def apply_hunks(text: str, hunks: Sequence[Hunk]) -> str:
    """``text`` with the hunks (offsets into ``text``) applied."""
    out, at = [], 0
    for hunk in sorted(hunks, key=lambda h: h.start):
        out += [text[at : hunk.start], hunk.text]
        at = hunk.end
    out.append(text[at:])
    return "".join(out)


def describe_change(old: str, hunks: Sequence[Hunk]) -> str:
    """How much a set of hunks changes ``old``, in the user's words: "1 change (2 lines → 1)",
    "2 changes (3 lines)" (lines compared whole, as a diff shows them)."""
    before, after = old.splitlines(), apply_hunks(old, hunks).splitlines()
    removed = added = 0
    for tag, a1, a2, b1, b2 in difflib.SequenceMatcher(None, before, after, autojunk=False).get_opcodes():
        if tag != "equal":
            removed, added = removed + a2 - a1, added + b2 - b1
    if removed and added and removed != added:
        lines = f"{_plural(removed, 'line')} → {added}"
    else:  # as many lines rewritten, or lines only added or only removed
        lines = _plural(max(removed, added, 1), "line")
    return f"{_plural(len(hunks), 'change')} ({lines})"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def selection_diff(
    path: str, view: DocumentView, selection: Selection, hunks: Sequence[Hunk], first_line: int | None = None
) -> str:
    """The diff of the selected lines (whole lines, real line numbers) once ``hunks`` apply;
    ``first_line``: the selection's first line (0-based) where it is now, when edits above it
    moved it since ``view``."""
    source = view.source
    line_start = max(source.rfind("\n", 0, selection.start), source.rfind("\r", 0, selection.start)) + 1
    line_end = selection.end
    if not selection.text.endswith(("\n", "\r")) or selection.end == selection.start:
        ends = [i for i in (source.find("\n", selection.end), source.find("\r", selection.end)) if i >= 0]
        line_end = min(ends) if ends else len(source)
        if source[line_end : line_end + 2] == "\r\n":
            line_end += 2
        elif line_end < len(source):
            line_end += 1
    before, after = source[line_start : selection.start], source[selection.end : line_end]
    old = before + selection.text + after
    new = before + apply_hunks(selection.text, hunks) + after
    return unified_diff(path, old, new, (selection.first_line if first_line is None else first_line) + 1)


@dataclass(frozen=True)
class Rewrite:
    """A finished rewrite: the action, the document as it read it, the selection in it, the hunks
    (offsets in the selection) its answer makes, and the answer itself (kept if not applied)."""

    spec: ActionSpec
    job: Job  # where the selection is now: its range follows the user's edits
    view: DocumentView
    selection: Selection  # in ``view``
    hunks: list[Hunk]
    answer: str


@dataclass
class Proposal:
    """One open proposal: enough to apply it later, re-run it, or describe it."""

    id: str
    args: ActionArgs
    rewrite: Rewrite  # its job is the proposal's own copy: ``conflicted`` once an edit touches it
    expires_at: float

    @property
    def tracked(self) -> Job:
        """The proposal's range, following the user's edits."""
        return self.rewrite.job

    @property
    def spec(self) -> ActionSpec:
        """The action that proposed it."""
        return self.rewrite.spec

    @property
    def view(self) -> DocumentView:
        """The document as the action read it."""
        return self.rewrite.view

    @property
    def answer(self) -> str:
        """The model's whole answer."""
        return self.rewrite.answer

    @property
    def uri(self) -> str:
        """The document's key (see :func:`codestral_lsp.positions.document_key`)."""
        return self.tracked.uri


@dataclass
class ProposalStore:
    """The open proposals of a session."""

    open: dict[str, Proposal] = field(default_factory=dict)
    retrying: dict[str, Proposal] = field(default_factory=dict)  # asked again: not open meanwhile
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def add(self, rewrite: Rewrite, args: ActionArgs, expires_at: float) -> Proposal:
        """Open a proposal for a finished job; its range is copied from the job and tracked here."""
        job = rewrite.job
        tracked = Job(job.id, document_key(job.uri), job.title, job.range, conflicted=job.conflicted)
        proposal = Proposal(
            f"{job.id}-{next(self._ids)}", args, dataclasses.replace(rewrite, job=tracked), expires_at
        )
        self.open[proposal.id] = proposal
        while len(self.open) > 1 and (len(self.open) > MAX_OPEN or self.held_chars() > MAX_HELD_CHARS):
            del self.open[next(iter(self.open))]
        return proposal

    def held_chars(self) -> int:
        """Characters of the document versions the open proposals hold (each counted once)."""
        sources = {id(p.view.source): len(p.view.source) for p in self.open.values()}
        return sum(sources.values())

    def take(self, proposal_id: object, now: float) -> Proposal | None:
        """Remove and return an open, unexpired proposal (``None`` for any other id)."""
        self.expire(now)
        if not isinstance(proposal_id, str):
            return None
        return self.open.pop(proposal_id, None)

    def hold(self, proposal: Proposal) -> None:
        """A retry of ``proposal`` (taken) runs: it cannot be answered meanwhile, but it keeps
        following edits, and closing its document still drops it."""
        self.retrying[proposal.id] = proposal

    def release(self, proposal: Proposal) -> bool:
        """The retry of ``proposal`` is over: True when it was still held (its document was not
        closed meanwhile)."""
        return self.retrying.pop(proposal.id, None) is not None

    def reopen(self, proposal: Proposal) -> None:
        """Open ``proposal`` again under its id (a retry that could not start)."""
        self.open[proposal.id] = proposal

    def expire(self, now: float) -> list[Proposal]:
        """Drop and return the proposals whose time is up."""
        gone = [p for p in self.open.values() if p.expires_at <= now]
        for proposal in gone:
            del self.open[proposal.id]
        return gone

    def drop_document(self, uri: str) -> list[Proposal]:
        """Drop the proposals of a document (it was closed)."""
        key = document_key(uri)
        self.retrying = {i: p for i, p in self.retrying.items() if p.uri != key}
        gone = [p for p in self.open.values() if p.uri == key]
        for proposal in gone:
            del self.open[proposal.id]
        return gone

    def drop_overlapping(self, uri: str, range_: types.Range) -> list[Proposal]:
        """Drop the proposals of ``uri`` whose range overlaps ``range_`` (a new rewrite there)."""
        key = document_key(uri)
        gone = [p for p in self.open.values() if p.uri == key and _overlap(p.tracked.range, range_)]
        for proposal in gone:
            del self.open[proposal.id]
        return gone

    def document_changed(
        self, uri: str, change: types.TextDocumentContentChangePartial, units: Callable[[str], int]
    ) -> None:
        """Move the ranges of ``uri``'s proposals past an edit; mark those the edit touched."""
        follow_change([p.tracked for p in [*self.open.values(), *self.retrying.values()]], uri, change, units)
