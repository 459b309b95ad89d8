"""A Server-Sent Events parser for the API's streams.

Our own (about 40 lines) rather than httpx-sse because the client needs what that package does
not give: a per-line idle timer (a stalled stream must end with an error), telling a stream that
ended cleanly from one that was cut, and ``\\r\\n`` / ``\\r`` line ends and ``:`` comments handled
exactly as the SSE specification says. httpx already splits lines; this only groups them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass


@dataclass(frozen=True)
class SseEvent:
    """One dispatched event: its ``event`` name (``message`` by default) and ``data``."""

    data: str
    event: str = "message"


class IdleTimeout(Exception):
    """No line arrived within the idle time."""


async def iter_sse_events(lines: AsyncIterator[str], idle_seconds: float) -> AsyncIterator[SseEvent]:
    """Group decoded lines into events; raise :class:`IdleTimeout` after ``idle_seconds`` of silence.

    An event is dispatched at a blank line; a final event without its blank line is dispatched at
    the end of the stream too (the caller decides whether the stream was complete).
    """
    data: list[str] = []
    event = "message"
    iterator = aiter(lines)
    while True:
        try:
            async with asyncio.timeout(idle_seconds):
                line = await anext(iterator)
        except StopAsyncIteration:
            break
        except TimeoutError as exc:
            raise IdleTimeout from exc
        line = line.rstrip("\r\n")
        if not line:
            if data:
                yield SseEvent("\n".join(data), event)
            data, event = [], "message"
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
    if data:
        yield SseEvent("\n".join(data), event)
