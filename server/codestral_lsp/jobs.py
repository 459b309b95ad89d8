"""Running jobs: each tracked with its document range, cancellable by range, document or request.

A job's work runs in its own task; the command handler awaits it. Cancelling a job cancels that
task (closing its HTTP stream). Ranges follow the user's edits (:mod:`codestral_lsp.anchors`);
an edit inside a job's range marks it conflicted so its answer is not applied over new text.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any

from lsprotocol import types

from codestral_lsp.anchors import shift_range
from codestral_lsp.positions import document_key

log = logging.getLogger(__name__)


@dataclass
class Job:
    """One action in flight."""

    id: int
    uri: str  # as normalised by document_key
    title: str
    range: types.Range
    request_id: Any = None
    task: asyncio.Task[Any] | None = None
    conflicted: bool = False
    cancel_reason: str | None = None
    edit_sent: bool = False  # an edit went to the editor: cancelling cannot unsend it
    read_only: bool = False  # a review: it changes no code, so it never replaces a rewrite

    def cancel(self, reason: str) -> None:
        """Stop the job's work, whatever step it is at; ``reason`` is what the user is told."""
        self.cancel_reason = self.cancel_reason or reason
        if self.task is not None and not self.task.done():
            self.task.cancel()


def follow_change(
    jobs: Iterable[Job], uri: str, change: types.TextDocumentContentChangePartial, units: Callable[[str], int]
) -> None:
    """Move the ranges of ``uri``'s jobs past an edit; mark ``conflicted`` those it touched."""
    key = document_key(uri)
    for job in jobs:
        if job.uri != key or job.conflicted:
            continue
        moved = shift_range(job.range, change.range, change.text, units)
        if moved is None:
            job.conflicted = True
        else:
            job.range = moved


def _overlap(a: types.Range, b: types.Range) -> bool:
    return (a.start.line, a.start.character) < (b.end.line, b.end.character) and (
        b.start.line,
        b.start.character,
    ) < (a.end.line, a.end.character)


@dataclass
class JobRegistry:
    """All running jobs, plus the background tasks the server started."""

    jobs: dict[int, Job] = field(default_factory=dict)
    background: set[asyncio.Task[Any]] = field(default_factory=set)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def add(
        self, uri: str, title: str, range_: types.Range, request_id: Any, read_only: bool = False
    ) -> tuple[Job, list[Job]]:
        """Register a job; cancel and return the older jobs on an overlapping range of ``uri``
        (a ``read_only`` job replaces only older read-only ones)."""
        uri = document_key(uri)
        job = Job(next(self._ids), uri, title, range_, request_id, read_only=read_only)
        superseded = [
            old
            for old in self.jobs.values()
            if old.uri == uri and _overlap(old.range, range_) and (old.read_only or not read_only)
        ]
        for old in superseded:
            old.cancel(f"a newer {title.removeprefix('Codestral: ')} was started on the same code")
        self.jobs[job.id] = job
        return job, superseded

    def remove(self, job: Job) -> None:
        """Forget a finished job."""
        self.jobs.pop(job.id, None)

    def running_tasks(self) -> list[asyncio.Task[Any]]:
        """The tasks of the jobs now running."""
        return [j.task for j in self.jobs.values() if j.task is not None and not j.task.done()]

    def cancel(self, uri: str | None = None, reason: str = "cancelled") -> int:
        """Cancel every job, or those of one document; return how many."""
        key = None if uri is None else document_key(uri)
        chosen = [j for j in self.jobs.values() if key is None or j.uri == key]
        for job in chosen:
            job.cancel(reason)
        return len(chosen)

    def cancel_request(self, request_id: Any) -> None:
        """Cancel the job started by a request the client cancelled (``$/cancelRequest``)."""
        for job in list(self.jobs.values()):
            if job.request_id is not None and job.request_id == request_id:
                job.cancel("cancelled")

    def document_changed(
        self, uri: str, change: types.TextDocumentContentChangePartial, units: Callable[[str], int]
    ) -> None:
        """Move the ranges of ``uri``'s jobs past an edit; mark those the edit touched.

        ``change`` is the change as the document applied it (see
        :attr:`codestral_lsp.positions.LspTextDocument.last_changes`: clamped positions, and a
        whole-document change narrowed to what really changed).
        """
        follow_change(self.jobs.values(), uri, change, units)

    def spawn(self, coroutine: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Start a tracked background task whose failure is logged, never lost."""
        task = asyncio.get_running_loop().create_task(coroutine, name=name)
        self.background.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self.background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s failed", task.get_name(), exc_info=task.exception())
