"""Reading LSP messages from stdin with a bound on their size.

pygls reads a message body with ``stdin.read(Content-Length)``: a huge or absurd length makes it
allocate that much (``MemoryError``) or fail to convert it (``OverflowError``), and the process
dies. This reader hands pygls the same headers and bodies, except that a body over
:data:`MAX_MESSAGE_BYTES` is skipped — read and dropped in small pieces, never held — up to the
next header. A header can be recognised in the skipped bytes because JSON text never contains a
raw line break inside a string, and ``Content-Length: N`` followed by CR LF is not JSON.
"""

from __future__ import annotations

import asyncio
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from typing import BinaryIO

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 256 * 1024 * 1024
_PIECE = 64 * 1024
_HEADER = re.compile(rb"Content-Length: *(\d+)\r\n", re.IGNORECASE)
_HEADER_AT_END = re.compile(rb"Content-Length: *(\d+)\r\n\Z", re.IGNORECASE)
# What pygls is handed instead of a skipped body: ``null`` (the protocol ignores it).
SKIPPED_BODY = b"null"


class BoundedStdinReader:
    """pygls's async reader interface (``readline``, ``readexactly``) over a binary stdin."""

    def __init__(
        self, stdin: BinaryIO, executor: ThreadPoolExecutor | None, limit: int = MAX_MESSAGE_BYTES
    ) -> None:
        self._stdin = stdin
        self._executor = executor
        self._limit = limit
        self._pending: bytes | None = None

    async def _line(self) -> bytes:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._stdin.readline, _PIECE)

    async def readline(self) -> bytes:
        """A header line; a too-large Content-Length is passed on as one just over the limit
        (pygls cannot convert a number of thousands of digits)."""
        if self._pending is not None:
            line, self._pending = self._pending, None
        else:
            line = await self._line()
        match = _HEADER.fullmatch(line)
        if match and (len(match.group(1)) > 15 or int(match.group(1)) > self._limit):
            return b"Content-Length: %d\r\n" % (self._limit + 1)
        return line

    async def readexactly(self, size: int) -> bytes:
        """The body; over the limit, skip to the next header and return :data:`SKIPPED_BODY`."""
        loop = asyncio.get_running_loop()
        if size <= self._limit:
            return await loop.run_in_executor(self._executor, self._stdin.read, size)
        log.error("a message longer than %d bytes was skipped (its Content-Length is too large)", self._limit)
        tail = b""
        while True:
            piece = await self._line()
            if not piece:
                return b""
            window = tail + piece
            match = _HEADER_AT_END.search(window)
            if match:
                self._pending = b"Content-Length: %s\r\n" % match.group(1)
                return SKIPPED_BODY
            tail = window[-64:]
