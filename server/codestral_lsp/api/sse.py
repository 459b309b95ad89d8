"""A Server-Sent Events parser for the API's streams: bytes in, events out, nothing else.

Our own rather than httpx-sse because the client needs what that package does not give: bytes
fed as they arrive (so the client can time *silence* — no bytes at all — rather than lines, and
count keep-alive comments as activity), bounded lines and events (a line that never ends must
not grow memory without limit), and the specification's details: one leading UTF-8 BOM is
dropped, ``\\r\\n`` / ``\\r`` / ``\\n`` all end a line, ``:`` lines are comments (keep-alives).
Timing, ``[DONE]`` and the JSON inside events are the client's business (``client.py``).
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

BOM = codecs.BOM_UTF8


@dataclass(frozen=True)
class SseEvent:
    """One dispatched event: its ``event`` name (``message`` by default) and ``data``."""

    data: str
    event: str = "message"


class LineTooLong(Exception):
    """A line, or the data of one event, is longer than the parser allows."""


class SseParser:
    """Incremental parser: :meth:`feed` bytes as they arrive, get the events they complete.

    ``max_line`` bounds, in bytes, both one line and the data gathered for one event; past it
    :class:`LineTooLong` is raised and the parser holds no more than that.
    """

    def __init__(self, max_line: int) -> None:
        self.max_line = max_line
        self._buffer = bytearray()
        self._started = False  # the BOM check has been done
        self._skip_lf = False  # the previous line ended with "\r": a "\n" right after belongs to it
        self._data: list[str] = []
        self._data_size = 0
        self._event = "message"
        self.comments = 0  # comment lines seen (keep-alives)

    def feed(self, chunk: bytes) -> list[SseEvent]:
        """Take the next bytes of the stream; return the events they complete, in order."""
        scan_from = len(self._buffer)  # what is buffered holds no line end: do not search it again
        self._buffer += chunk
        if not self._started:
            if len(self._buffer) < len(BOM) and BOM.startswith(bytes(self._buffer)):
                return []  # could still be a BOM split across chunks
            if self._buffer.startswith(BOM):
                del self._buffer[: len(BOM)]
            self._started = True
            scan_from = 0
        events: list[SseEvent] = []
        start = 0
        buffer = self._buffer
        cr = lf = -2  # where the next "\r" / "\n" is (-1: none left; -2: not searched yet)
        while True:
            if self._skip_lf and start < len(buffer):
                if buffer[start] == 0x0A:
                    start += 1
                self._skip_lf = False
            scan = max(start, scan_from)
            if cr != -1 and cr < scan:  # each search at most once per line end (linear time)
                cr = buffer.find(b"\r", scan)
            if lf != -1 and lf < scan:
                lf = buffer.find(b"\n", scan)
            ends = [i for i in (cr, lf) if i >= 0]
            if not ends:
                break
            end = min(ends)
            line = bytes(buffer[start:end])
            if buffer[end] == 0x0D:
                self._skip_lf = True
            start = end + 1
            event = self._line(line)
            if event is not None:
                events.append(event)
        del buffer[:start]
        if len(buffer) > self.max_line:
            buffer.clear()
            raise LineTooLong
        return events

    def finish(self) -> SseEvent | None:
        """The stream ended: an event still missing its blank line, if any (the caller decides
        whether such a stream was complete)."""
        if self._buffer:
            event = self._line(bytes(self._buffer))
            self._buffer.clear()
            if event is not None:
                return event
        return self._dispatch()

    def _line(self, raw: bytes) -> SseEvent | None:
        if not raw:
            return self._dispatch()
        if raw.startswith(b":"):
            self.comments += 1
            return None
        line = raw.decode("utf-8", "replace")
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            self._data_size += len(raw) + 1
            if self._data_size > self.max_line:
                self._data, self._data_size = [], 0
                raise LineTooLong
            self._data.append(value)
        elif name == "event":
            self._event = value[:200]
        return None

    def _dispatch(self) -> SseEvent | None:
        data, event = "\n".join(self._data), self._event
        self._data, self._data_size, self._event = [], 0, "message"
        return SseEvent(data, event) if data else None
