"""``$/progress`` for one job: begin, throttled reports, and an end that always comes.

Reports are limited to ``MAX_REPORTS_PER_SECOND`` (an editor cannot show more); a retry notice
is reported at once. Cancelling the progress in the editor calls ``on_cancel``.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from lsprotocol import types

if TYPE_CHECKING:
    from codestral_lsp.port import Editor

log = logging.getLogger(__name__)

MAX_REPORTS_PER_SECOND = 10


def _shorten(text: str, limit: int = 60) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


class JobProgress:
    """Progress of one job. Without client support every method only logs."""

    def __init__(self, server: Editor, title: str, on_cancel: Callable[[], None]) -> None:
        self._server = server
        self._title = title
        self._on_cancel = on_cancel
        self.token: str | None = None
        self._last_report = 0.0
        self._ended = False
        self._early: list[tuple[str, bool]] = []

    async def begin(self, message: str) -> None:
        """Create a fresh token (if the client supports progress) and send ``begin``."""
        if not self._server.client_capability("window.work_done_progress", False):
            log.info("%s: %s", self._title, message)
            return
        token = str(uuid.uuid4())
        try:
            await self._server.work_done_progress.create_async(token)
        except Exception as exc:  # refused, or never answered (requests are bounded): no progress
            log.warning("progress not available: %s", exc or type(exc).__name__)
            return
        if self._ended:  # the job ended while the editor was accepting the token
            return
        self.token = token
        future = self._server.work_done_progress.tokens.get(token)
        if future is not None:
            future.add_done_callback(lambda f: self._on_cancel() if f.cancelled() else None)
        self._server.work_done_progress.begin(
            token, types.WorkDoneProgressBegin(title=self._title, cancellable=True, message=message)
        )
        early, self._early = self._early, []
        for message_, _ in early:  # reported while the editor was accepting the token
            self.report(message_, force=True)

    def report(self, message: str, *, force: bool = False) -> None:
        """Send a report, unless one went out less than 1/10 s ago (``force`` skips the wait)."""
        now = time.monotonic()
        if self._ended:
            return
        if self.token is None:  # not accepted yet (or not supported): sent on begin
            if force:  # a notice (a retry): each one is worth seeing
                self._early = [*self._early[-4:], (message, True)]
            else:  # a running count: only the latest
                self._early = [*[e for e in self._early if e[1]], (message, False)][-5:]
            return
        if not force and now - self._last_report < 1.0 / MAX_REPORTS_PER_SECOND:
            return
        self._last_report = now
        self._server.work_done_progress.report(
            self.token, types.WorkDoneProgressReport(message=message)
        )

    def streaming(self, chars: int, tokens: int, text: str) -> None:
        """Report what has arrived: size and the line being written."""
        lines = text.rstrip("\n").rsplit("\n", 1)
        current = _shorten(lines[-1]) if lines else ""
        message = f"{chars:,} character{'' if chars == 1 else 's'} received"
        if tokens >= 1:
            message += f" (about {tokens:,} token{'' if tokens == 1 else 's'})"
        self.report(f"{message} — {current}" if current else message)

    def end(self, message: str) -> None:
        """Send ``end`` once, and forget the token."""
        if self._ended:
            return
        self._ended = True
        log.info("%s: %s", self._title, message)
        if self.token is not None:
            self._server.work_done_progress.end(self.token, types.WorkDoneProgressEnd(message=message))
            self._server.work_done_progress.tokens.pop(self.token, None)
