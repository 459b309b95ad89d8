"""A raw LSP client over a subprocess's stdio: no framework between the benchmark and the wire.

It answers the server's requests as an editor would (configuration, progress tokens, applyEdit,
showDocument) and timestamps every message it receives with ``time.monotonic()``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Received:
    """A message from the server and when it arrived."""

    at: float
    message: dict[str, Any]


@dataclass
class RawLspClient:
    """Start with :meth:`start`; every request returns ``(result, seconds)``."""

    settings: dict[str, Any] = field(default_factory=dict)
    process: asyncio.subprocess.Process | None = None
    notifications: list[Received] = field(default_factory=list)
    edits: list[Received] = field(default_factory=list)
    on_edit: Callable[[dict[str, Any]], None] | None = None
    _ids: itertools.count[int] = field(default_factory=itertools.count)
    _pending: dict[int, asyncio.Future[Any]] = field(default_factory=dict)
    _reader: asyncio.Task[None] | None = None

    async def start(self, command: list[str], env: dict[str, str]) -> None:
        """Spawn the server."""
        self.process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=env,
        )
        self._reader = asyncio.create_task(self._read())

    @property
    def pid(self) -> int:
        """The server's process id."""
        assert self.process is not None
        return self.process.pid

    def _write(self, message: dict[str, Any]) -> None:
        assert self.process is not None and self.process.stdin is not None
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    async def request(self, method: str, params: Any) -> tuple[Any, float]:
        """Send a request; return its result and the round-trip time."""
        msg_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = future
        started = time.monotonic()
        self._write({"id": msg_id, "method": method, "params": params})
        result = await future
        return result, time.monotonic() - started

    def notify(self, method: str, params: Any) -> None:
        """Send a notification."""
        self._write({"method": method, "params": params})

    async def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        stdout = self.process.stdout
        while True:
            header = await stdout.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":")[1])
                for line in header.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
            message = json.loads(await stdout.readexactly(length))
            now = time.monotonic()
            if "method" in message and "id" in message:
                self._answer(message, now)
            elif "method" in message:
                self.notifications.append(Received(now, message))
            elif message.get("id") in self._pending:
                future = self._pending.pop(message["id"])
                if "error" in message:
                    future.set_exception(RuntimeError(message["error"].get("message")))
                else:
                    future.set_result(message.get("result"))

    def _answer(self, message: dict[str, Any], now: float) -> None:
        method = message["method"]
        result: Any = None
        if method == "workspace/configuration":
            result = [self.settings for _ in message["params"]["items"]]
        elif method == "workspace/applyEdit":
            self.edits.append(Received(now, message))
            if self.on_edit is not None:
                self.on_edit(message)
            result = {"applied": True}
        elif method == "window/showDocument":
            result = {"success": True}
        self._write({"id": message["id"], "result": result})

    async def initialize(self, root: str, capabilities: dict[str, Any] | None = None) -> float:
        """``initialize`` + ``initialized``; return the time until the answer."""
        caps = capabilities or {
            "workspace": {
                "applyEdit": True,
                "configuration": True,
                "workspaceEdit": {"documentChanges": True},
            },
            "window": {"workDoneProgress": True, "showDocument": {"support": True}},
            "textDocument": {"inlineCompletion": {}},
        }
        _, seconds = await self.request(
            "initialize",
            {
                "processId": None,
                "rootUri": root,
                "capabilities": caps,
                "initializationOptions": self.settings,
            },
        )
        self.notify("initialized", {})
        return seconds

    async def stop(self) -> None:
        """``shutdown`` + ``exit``, and wait for the process."""
        if self.process is None:
            return
        try:
            await asyncio.wait_for(self.request("shutdown", None), 10)
            self.notify("exit", None)
            await asyncio.wait_for(self.process.wait(), 10)
        except (TimeoutError, RuntimeError, ConnectionError):
            self.process.kill()
        if self._reader is not None:
            self._reader.cancel()
