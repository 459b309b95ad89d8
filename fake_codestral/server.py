"""The fake Codestral HTTP server.

A small HTTP/1.1 server on ``asyncio`` (no framework), so that every byte on the wire is under
the test's control: chunked SSE exactly as the API frames it, cuts, stalls, malformed lines and
error objects mid-stream, slow headers, any status with any body and headers.

It runs on its own event loop in a background thread, so synchronous tests, async tests and
language-server subprocesses can all talk to it over loopback.

Scripting: ``fake.enqueue(Script(...))`` answers the next completion request (FIFO); with the
queue empty, ``fake.responder(request)`` decides (default: a plausible answer built from the
request). ``fake.requests`` records every request with its schema violations; ``disconnected``
(a :class:`threading.Event`) tells when the client hung up before the answer ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fake_codestral.schemas import violations

SCHEMA_BY_PATH = {
    "/v1/chat/completions": "ChatCompletionRequest",
    "/v1/fim/completions": "FIMCompletionRequest",
}
# Other servers' fill-in-the-middle endpoints, served with ``fake.flavour`` "openai" (Ollama,
# vLLM: /v1/completions with suffix) or "llamacpp" (/infill at the root, and /v1/completions).
OTHER_COMPLETION_PATHS = ("/v1/completions", "/infill")
COMPLETION_PATHS = (*SCHEMA_BY_PATH, *OTHER_COMPLETION_PATHS)
Flavour = str  # "mistral" (Mistral's API, the default) | "openai" (Ollama, vLLM) | "llamacpp"

# What the request fields of those servers are (vLLM's CompletionRequest, llama.cpp's /infill
# and /completion options); anything else is reported as a violation.
OPENAI_COMPLETION_FIELDS = {
    "model": str, "prompt": str, "suffix": str, "max_tokens": int, "temperature": (int, float),
    "top_p": (int, float), "n": int, "stream": bool, "stream_options": dict, "stop": list,
    "seed": int, "echo": bool, "logprobs": int, "presence_penalty": (int, float),
    "frequency_penalty": (int, float), "best_of": int, "user": str,
}  # fmt: skip
INFILL_FIELDS = {
    "input_prefix": str, "input_suffix": str, "input_extra": list, "prompt": str, "model": str,
    "n_predict": int, "temperature": (int, float), "top_k": int, "top_p": (int, float), "stop": list,
    "stream": bool, "cache_prompt": bool, "seed": int, "id_slot": int, "samplers": list,
}  # fmt: skip
NOT_FOUND_BODY: dict[Flavour, Any] = {
    "mistral": {"detail": "Not Found"},
    "openai": {"detail": "Not Found"},
    "llamacpp": {"error": {"message": "File Not Found", "type": "not_found_error", "code": 404}},
}
SUFFIX_UNSUPPORTED = {  # vLLM's answer to /v1/completions with a suffix
    "error": {
        "message": "suffix is not currently supported",
        "type": "BadRequestError",
        "param": None,
        "code": 400,
    }
}
INFILL_UNSUPPORTED = {
    "error": {
        "code": 501,
        "message": "Infill is not supported by this model: prefix token is missing. suffix token is "
        "missing. middle token is missing. ",
        "type": "not_supported_error",
    }
}


def field_violations(fields: dict[str, Any], required: tuple[str, ...], body: Any) -> list[dict[str, Any]]:
    """Violations of a plain field table, reported like the API's ``detail`` entries."""
    if not isinstance(body, dict):
        return [{"type": "dict_type", "loc": ["body"], "msg": "Input should be an object"}]
    found = [
        {"type": "missing", "loc": ["body", name], "msg": "Field required"}
        for name in required
        if name not in body
    ]
    for name, value in body.items():
        expected = fields.get(name)
        if expected is None:
            found.append({"type": "extra_forbidden", "loc": ["body", name], "msg": "unknown field"})
        elif not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            found.append({"type": "type_error", "loc": ["body", name], "msg": f"wrong type for {name}"})
    return found


def stream_options_violations(body: Any) -> list[dict[str, Any]]:
    """``stream_options`` as OpenAI-compatible servers check it: ``{"include_usage": bool}``."""
    options = body.get("stream_options") if isinstance(body, dict) else None
    if options is None:
        return []
    if not isinstance(options, dict) or not isinstance(options.get("include_usage", False), bool):
        return [
            {"type": "type_error", "loc": ["body", "stream_options"], "msg": "include_usage must be boolean"}
        ]
    return []


def json_mode_violations(body: Any) -> list[dict[str, Any]]:
    """JSON mode as the API documents it (``ResponseFormat``): with ``{"type": "json_object"}`` the
    caller "MUST also instruct the model to produce JSON yourself with a system or a user
    message"; ``json_schema`` needs its ``json_schema``. Reported like the API's ``detail``."""
    if not isinstance(body, dict) or not isinstance(body.get("response_format"), dict):
        return []
    kind = body["response_format"].get("type")
    if kind == "json_object":
        said = " ".join(str(m.get("content", "")) for m in body.get("messages", []) if isinstance(m, dict))
        if "json" not in said.lower():
            return [
                {
                    "type": "value_error",
                    "loc": ["body", "response_format"],
                    "msg": "JSON mode needs the messages to ask for JSON",
                }
            ]
    if kind == "json_schema" and not body["response_format"].get("json_schema"):
        loc = ["body", "response_format", "json_schema"]
        return [{"type": "missing", "loc": loc, "msg": "Field required"}]
    return []


def json_mode_answer(request: RecordedRequest) -> str:
    """What the model writes in JSON mode: one JSON object. For a review prompt (lines shown as
    ``12 | code``), one finding on the first numbered line; else an empty object."""
    numbers = re.findall(r"^\s*(\d+) \| ", request.prompt_text(), flags=re.M)
    if not numbers:
        return "{}"
    finding = {"line": int(numbers[0]), "severity": "warning", "message": "Reviewed by the fake Codestral."}
    return json.dumps({"findings": [finding]})


DEFAULT_MODELS: list[dict[str, Any]] = [
    {
        "id": "codestral-2508",
        "object": "model",
        "created": 1754000000,
        "owned_by": "mistralai",
        "capabilities": {"completion_chat": True, "completion_fim": True, "function_calling": True},
        "name": "codestral-2508",
        "max_context_length": 128000,
        "aliases": ["codestral-latest"],
        "type": "base",
    },
    {
        "id": "mistral-medium-latest",
        "object": "model",
        "created": 1754000000,
        "owned_by": "mistralai",
        "capabilities": {"completion_chat": True, "completion_fim": False},
        "max_context_length": 256000,
        "aliases": [],
        "type": "base",
    },
    *(
        {
            "id": name,
            "object": "model",
            "created": 1765000000,
            "owned_by": "mistralai",
            "capabilities": {"completion_chat": True, "completion_fim": False},
            "max_context_length": context,
            "aliases": [alias],
            "type": "base",
        }
        for name, alias, context in (
            ("mistral-large-2512", "mistral-large-latest", 256000),
            ("mistral-small-2506", "mistral-small-latest", 128000),
            ("devstral-2512", "devstral-latest", 256000),
        )
    ),
]


class Gate:
    """Holds a stream at a point until a test opens it (from any thread)."""

    def __init__(self) -> None:
        self.reached = threading.Event()
        self._lock = threading.Lock()
        self._opened = False
        self._wake: tuple[asyncio.AbstractEventLoop, asyncio.Event] | None = None

    def open(self) -> None:
        """Let the stream go on."""
        with self._lock:
            self._opened = True
            if self._wake is not None:
                loop, event = self._wake
                with contextlib.suppress(RuntimeError):  # the fake has stopped already
                    loop.call_soon_threadsafe(event.set)

    async def wait(self, disconnected: asyncio.Event) -> bool:
        """Wait until opened (True) or the client hung up (False)."""
        event = asyncio.Event()
        with self._lock:
            self._wake = (asyncio.get_running_loop(), event)
            if self._opened:
                event.set()
        self.reached.set()
        opened = asyncio.ensure_future(event.wait())
        hung_up = asyncio.ensure_future(disconnected.wait())
        await asyncio.wait({opened, hung_up}, return_when=asyncio.FIRST_COMPLETED)
        hung_up.cancel()
        opened.cancel()
        return event.is_set() and not disconnected.is_set()


@dataclass
class Script:
    """How to answer one completion request. Defaults: a 200 SSE stream of ``text``."""

    text: str = "ok"
    chunk_size: int = 4
    first_token_delay: float = 0.0
    chunk_delay: float = 0.0
    header_delay: float = 0.0
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    finish_reason: str | None = "stop"  # None: the last chunk says null (usage still comes)
    usage: tuple[int, int] | None = None
    omit_usage: bool = False
    cut_after_chunks: int | None = None
    stall_after_chunks: int | None = None
    hold_after_chunks: int | None = None
    gate: Gate | None = None
    malformed_after_chunks: int | None = None
    error_after_chunks: int | None = None
    omit_done: bool = False
    omit_finish_reason: bool = False
    non_sse_body: str | None = None
    json_instead_of_stream: bool = False
    crlf: bool = False
    comments: bool = False
    # Odd but legal answers, and hostile ones:
    bom: bool = False  # a UTF-8 BOM before the first event
    role_chunk: bool = True  # the first event names the role only (as Mistral and llama.cpp send)
    list_content: bool = False  # content as a list of chunks [{"type": "text", "text": ...}]
    second_choice: str | None = None  # a second choice (index 1) streamed alongside, this text
    redirect_to: str | None = None  # a 307 to this address, with a chat completion as its body
    hold_after_done: bool = False  # after [DONE], keep the connection open until the client leaves
    trickle: tuple[int, float] | None = None  # send every event in pieces of n bytes, s apart
    keepalives: int = 0  # SSE comments (": \n\n") before the first event, as llama.cpp sends
    keepalive_interval: float = 0.0  # seconds between them
    endless: bool = False  # after text, answer text forever (until the client leaves)
    endless_line: bool = False  # after text, one line that never ends


@dataclass
class RecordedRequest:
    """One request as the fake received it, and what became of it."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    schema_errors: list[dict[str, Any]]
    connection: int = 0
    received_at: float = field(default_factory=time.monotonic)
    first_token_at: float | None = None
    finished_at: float | None = None
    disconnected: threading.Event = field(default_factory=threading.Event)

    @property
    def authorization(self) -> str | None:
        """The Authorization header, if any."""
        return self.headers.get("authorization")

    def prompt_text(self) -> str:
        """All message contents (chat) or prompt + suffix (FIM), for assertions."""
        if not isinstance(self.body, dict):
            return ""
        if "messages" in self.body:
            return "\n".join(str(m.get("content", "")) for m in self.body["messages"])
        if "input_prefix" in self.body:
            return str(self.body.get("input_prefix", "")) + str(self.body.get("input_suffix", ""))
        return str(self.body.get("prompt", "")) + str(self.body.get("suffix", ""))

    @property
    def asked_usage(self) -> bool:
        """True when the request asked for usage in the stream (``stream_options``)."""
        options = self.body.get("stream_options") if isinstance(self.body, dict) else None
        return isinstance(options, dict) and options.get("include_usage") is True


def environment_without_keys(**extra: str) -> dict[str, str]:
    """This process's environment without any Codestral/Mistral setting (no real key can leak
    into a test), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CODESTRAL_", "MISTRAL_"))}
    env.update(extra)
    return env


def default_responder(request: RecordedRequest) -> Script:
    """A plausible answer for trying an editor by hand.

    Chat: rewrite actions get the last fenced block of the prompt back with a comment on top;
    other requests a short explanation. FIM: a short completion.
    """
    if request.path.endswith(("/fim/completions", "/completions", "/infill")) and "messages" not in (
        request.body if isinstance(request.body, dict) else {}
    ):
        return Script(text="pass\n")
    response_format = request.body.get("response_format") if isinstance(request.body, dict) else None
    if isinstance(response_format, dict) and response_format.get("type") in ("json_object", "json_schema"):
        return Script(text=json_mode_answer(request), chunk_delay=0.02)
    text = request.prompt_text()
    blocks = re.findall(r"```[^\n]*\n(.*?)```", text, flags=re.S)
    system = ""
    if isinstance(request.body, dict) and request.body.get("messages"):
        system = str(request.body["messages"][0].get("content", ""))
    if blocks and "replacement" in system.lower():
        code = blocks[-1]
        indent = re.match(r"[ \t]*", code)
        prefix = indent.group(0) if indent else ""
        return Script(text=f"```\n{prefix}# reviewed by the fake Codestral\n{code}```\n", chunk_delay=0.02)
    return Script(
        text="This code is explained by the **fake Codestral**.\n\nIt does what it says.\n",
        chunk_delay=0.02,
    )


class FakeCodestral:
    """The server. Use as a context manager or call :meth:`start` / :meth:`stop`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, api_key: str | None = None) -> None:
        self.host = host
        self.port = port
        self.api_key = api_key
        self.models: list[dict[str, Any]] = [dict(m) for m in DEFAULT_MODELS]
        self.responder: Callable[[RecordedRequest], Script] = default_responder
        self.requests: list[RecordedRequest] = []
        self._queue: deque[Script] = deque()
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._writers: set[asyncio.StreamWriter] = set()
        self._connections = 0
        self.flavour: Flavour = "mistral"
        """Which server to be: "mistral" (Mistral's API), "openai" (Ollama/vLLM: FIM as
        /v1/completions with suffix; usage in streams only when asked), "llamacpp" (/infill at the
        root, /v1/completions without suffix support; usage in streams only when asked)."""
        self.serve_models = True
        """False: ``GET /v1/models`` answers 404, as several mocks and proxies do."""
        self.models_gate: Gate | None = None
        """When set, ``GET /v1/models`` is answered only once it is opened (a slow list)."""
        self.suffix_supported = True
        """openai flavour: False answers a ``suffix`` with 400, as vLLM does."""
        self.infill_supported = True
        """llamacpp flavour: False answers /infill with 501, as llama.cpp does for a model without
        fill-in-the-middle tokens."""

    # -- control ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1``."""
        return f"http://{self.host}:{self.port}/v1"

    def environment(self, api_key: str, **extra: str) -> dict[str, str]:
        """The environment for a process that should talk to this fake with ``api_key``."""
        return environment_without_keys(CODESTRAL_BASE_URL=self.base_url, CODESTRAL_API_KEY=api_key, **extra)

    def enqueue(self, *scripts: Script) -> None:
        """Answer the next completion requests with these scripts, in order."""
        with self._lock:
            self._queue.extend(scripts)

    def completion_requests(self) -> list[RecordedRequest]:
        """The recorded chat and FIM requests (of every dialect)."""
        with self._lock:
            return [r for r in self.requests if r.path in COMPLETION_PATHS]

    def wait_for_completion_requests(self, count: int, timeout: float = 10.0) -> bool:
        """Block until ``count`` chat/FIM requests have arrived (False after ``timeout``)."""
        with self._arrived:
            return self._arrived.wait_for(
                lambda: sum(r.path in SCHEMA_BY_PATH for r in self.requests) >= count, timeout
            )

    def schema_errors(self) -> list[tuple[str, list[dict[str, Any]]]]:
        """Every schema violation seen, with the path it was sent to."""
        with self._lock:
            return [(r.path, r.schema_errors) for r in self.requests if r.schema_errors]

    def start(self) -> FakeCodestral:
        """Start serving in a background thread; returns once the port is bound."""
        self._thread = threading.Thread(target=self._run, name="fake-codestral", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fake Codestral did not start")
        return self

    def stop(self) -> None:
        """Stop serving and close every connection."""
        loop = self._loop
        if loop is not None and self._thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            self._thread.join(10)

    def __enter__(self) -> FakeCodestral:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- serving ---------------------------------------------------------------------------

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        self._server = loop.run_until_complete(asyncio.start_server(self._connection, self.host, self.port))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            for writer in list(self._writers):
                writer.transport.abort()
            self._server.close()
            with contextlib.suppress(Exception):
                loop.run_until_complete(self._server.wait_closed())
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            with contextlib.suppress(Exception):
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        self._connections += 1
        connection = self._connections
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0") or 0)
                raw = await reader.readexactly(length) if length else b""
                request = self._record(method, target.split("?")[0], headers, raw, connection)
                keep_open = await self._handle(request, reader, writer)
                if not keep_open or headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            self._writers.discard(writer)
            writer.transport.abort()

    def _record(
        self, method: str, path: str, headers: dict[str, str], raw: bytes, connection: int
    ) -> RecordedRequest:
        body: Any = None
        errors: list[dict[str, Any]] = []
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                errors = [{"type": "json_invalid", "loc": ["body"], "msg": "JSON decode error"}]
        if (
            not errors
            and self.flavour != "mistral"
            and path == "/v1/chat/completions"
            and isinstance(body, dict)
        ):
            errors = stream_options_violations(body)
            errors += violations(
                SCHEMA_BY_PATH[path], {k: v for k, v in body.items() if k != "stream_options"}
            )
        elif path in SCHEMA_BY_PATH and not errors:
            errors = violations(SCHEMA_BY_PATH[path], body)
        if path == "/v1/chat/completions" and not errors:
            errors = json_mode_violations(body)
        elif path == "/v1/completions" and self.flavour != "mistral" and not errors:
            errors = field_violations(OPENAI_COMPLETION_FIELDS, ("model", "prompt"), body)
            errors += stream_options_violations(body)
        elif path == "/infill" and self.flavour == "llamacpp" and not errors:
            errors = field_violations(INFILL_FIELDS, ("input_prefix", "input_suffix"), body)
        request = RecordedRequest(method, path, headers, body, errors, connection)
        with self._lock:
            self.requests.append(request)
            self._arrived.notify_all()
        return request

    async def _handle(
        self, request: RecordedRequest, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        method, path, headers = request.method, request.path, request.headers
        if self.api_key is not None and headers.get("authorization") != f"Bearer {self.api_key}":
            body = {"message": "Unauthorized", "request_id": uuid.uuid4().hex}
            await self._send_json(writer, 401, body)
            return True
        if path == "/v1/models" and method == "GET" and self.serve_models:
            if self.models_gate is not None and not await self.models_gate.wait(asyncio.Event()):
                return False
            await self._send_json(writer, 200, {"object": "list", "data": self.models})
            return True
        served = {
            "mistral": set(SCHEMA_BY_PATH),
            "openai": {"/v1/chat/completions", "/v1/completions"},
            "llamacpp": {"/v1/chat/completions", "/v1/completions", "/infill"},
        }[self.flavour]
        if path not in served or method != "POST":
            await self._send_json(writer, 404, NOT_FOUND_BODY[self.flavour])
            return True
        if path == "/v1/completions" and not self.suffix_supported and "suffix" in (request.body or {}):
            await self._send_json(writer, 400, SUFFIX_UNSUPPORTED)
            return True
        if path == "/infill" and not self.infill_supported:
            await self._send_json(writer, 501, INFILL_UNSUPPORTED)
            return True
        if request.schema_errors:
            await self._send_json(writer, 422, {"detail": request.schema_errors})
            return True
        with self._lock:
            script = self._queue.popleft() if self._queue else None
        if script is None:
            script = self.responder(request)
        return await self._answer(script, request, reader, writer)

    async def _send_json(
        self,
        writer: asyncio.StreamWriter,
        status: int,
        body: Any,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> None:
        payload = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        head = [
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}",
            f"content-type: {content_type}",
            f"content-length: {len(payload)}",
        ]
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
        await writer.drain()

    async def _answer(
        self,
        script: Script,
        request: RecordedRequest,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> bool:
        disconnected = asyncio.Event()
        watcher = asyncio.ensure_future(_watch_disconnect(reader, disconnected, request))
        try:
            if script.header_delay and await _pause(script.header_delay, disconnected):
                return False
            if script.status != 200:
                body = script.body if script.body is not None else _default_error(script.status)
                await self._send_json(writer, script.status, body, script.headers)
                return True
            if script.redirect_to is not None:
                model = request.body.get("model", "?") if isinstance(request.body, dict) else "?"
                await self._send_json(
                    writer, 307, _completion_json(script, request, model), {"location": script.redirect_to}
                )
                return True
            if script.non_sse_body is not None:
                await self._send_json(
                    writer, 200, script.non_sse_body, script.headers, "text/html; charset=utf-8"
                )
                return True
            stream = bool(isinstance(request.body, dict) and request.body.get("stream"))
            model = request.body.get("model", "codestral-latest") if isinstance(request.body, dict) else "?"
            if stream and request.path in OTHER_COMPLETION_PATHS:
                await self._send_json(writer, 400, {"detail": "the fake streams only chat and Mistral FIM"})
                return True
            if not stream or script.json_instead_of_stream:
                if script.first_token_delay and await _pause(script.first_token_delay, disconnected):
                    return False
                if script.gate is not None and not await script.gate.wait(disconnected):
                    request.disconnected.set()
                    return False
                # Stamped before the write: the client may read the answer before this task resumes.
                request.first_token_at = request.finished_at = time.monotonic()
                await self._send_json(writer, 200, _completion_json(script, request, model), script.headers)
                return True
            return await self._stream(script, request, model, writer, disconnected)
        finally:
            watcher.cancel()
            with contextlib.suppress(BaseException):
                await watcher

    async def _stream(
        self,
        script: Script,
        request: RecordedRequest,
        model: str,
        writer: asyncio.StreamWriter,
        disconnected: asyncio.Event,
    ) -> bool:
        eol = "\r\n" if script.crlf else "\n"
        head = [
            "HTTP/1.1 200 OK",
            "content-type: text/event-stream; charset=utf-8",
            "transfer-encoding: chunked",
            "cache-control: no-cache",
        ]
        head += [f"{k}: {v}" for k, v in script.headers.items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
        await writer.drain()

        async def send_bytes(data: bytes) -> bool:
            if disconnected.is_set():
                return False
            writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            try:
                await writer.drain()
            except ConnectionError:
                disconnected.set()
                request.disconnected.set()
                return False
            return True

        async def send(text: str) -> bool:
            data = text.encode()
            if script.trickle is None:
                return await send_bytes(data)
            size, delay = script.trickle
            for start in range(0, len(data), max(1, size)):
                if start and await _pause(delay, disconnected):
                    return False
                if not await send_bytes(data[start : start + size]):
                    return False
            return True

        async def end() -> bool:
            writer.write(b"0\r\n\r\n")
            try:
                await writer.drain()
            except ConnectionError:
                return False
            return True

        def event(payload: Any) -> str:
            text = payload if isinstance(payload, str) else json.dumps(payload)
            return f"data: {text}{eol}{eol}"

        chunk_id = uuid.uuid4().hex
        created = int(time.time())
        base = {"id": chunk_id, "object": "chat.completion.chunk", "created": created, "model": model}
        if script.bom and not await send_bytes(b"\xef\xbb\xbf"):
            return False
        if script.comments and not await send(f": keep-alive{eol}{eol}"):
            return False
        for number in range(script.keepalives):
            if number and await _pause(script.keepalive_interval, disconnected):
                return False
            if not await send(f":{eol}{eol}"):
                return False
        if script.keepalives and await _pause(script.keepalive_interval, disconnected):
            return False

        def content(piece: str) -> str | list[dict[str, str]]:
            return [{"type": "text", "text": piece}] if script.list_content else piece

        if script.role_chunk and not await send(
            event(
                {
                    **base,
                    "choices": [
                        {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
                    ],
                }
            )
        ):
            return False
        if script.first_token_delay and await _pause(script.first_token_delay, disconnected):
            return False
        pieces = [
            script.text[i : i + script.chunk_size]
            for i in range(0, len(script.text), max(1, script.chunk_size))
        ] or [""]
        usage = script.usage or (len(request.prompt_text()) // 4 + 1, max(1, len(script.text) // 4))
        for index, piece in enumerate(pieces):
            if index == script.cut_after_chunks:
                writer.transport.abort()
                return False
            if index == script.stall_after_chunks:
                await _pause(3600, disconnected)
                return False
            gated = index == script.hold_after_chunks and script.gate is not None
            if gated and script.gate is not None and not await script.gate.wait(disconnected):
                request.disconnected.set()
                return False
            if index == script.malformed_after_chunks and not await send(f"data: {{not json{eol}{eol}"):
                return False
            if index == script.error_after_chunks:
                error = {
                    "object": "error",
                    "message": "Internal server error during generation",
                    "type": "internal_error",
                    "param": None,
                    "code": "3000",
                }
                await send(event(error))
                return await end()
            if index and script.chunk_delay and await _pause(script.chunk_delay, disconnected):
                return False
            last = index == len(pieces) - 1
            if last and script.endless:
                return await self._endless(script, request, base, send, disconnected, event, eol)
            finish = None if (not last or script.omit_finish_reason) else script.finish_reason
            chunk: dict[str, Any] = {
                **base,
                "choices": [{"index": 0, "delta": {"content": content(piece)}, "finish_reason": finish}],
            }
            if script.second_choice is not None:
                other = script.second_choice[index * script.chunk_size : (index + 1) * script.chunk_size]
                if last:
                    other = script.second_choice[index * script.chunk_size :]
                chunk["choices"].append(
                    {"index": 1, "delta": {"content": content(other)}, "finish_reason": finish}
                )
            if last and not script.omit_finish_reason and not script.omit_usage and self.flavour == "mistral":
                chunk["usage"] = {
                    "prompt_tokens": usage[0],
                    "completion_tokens": usage[1],
                    "total_tokens": usage[0] + usage[1],
                }
            if not await send(event(chunk)):
                return False
            if request.first_token_at is None:
                request.first_token_at = time.monotonic()
        if self.flavour != "mistral" and request.asked_usage and not script.omit_finish_reason:
            # OpenAI-compatible servers: usage in one more chunk, with no choices
            usage_chunk = {**base, "choices": [], "usage": _usage_json(usage)}
            if not await send(event(usage_chunk)):
                return False
        # Stamped before the last write: the client may see the end before this task resumes.
        request.finished_at = time.monotonic()
        if not script.omit_done and not await send(event("[DONE]")):
            return False
        if script.hold_after_done:
            await _pause(3600, disconnected)
            return False
        return await end()

    async def _endless(
        self,
        script: Script,
        request: RecordedRequest,
        base: dict[str, Any],
        send: Callable[[str], Any],
        disconnected: asyncio.Event,
        event: Callable[[Any], str],
        eol: str,
    ) -> bool:
        """Text forever, or one line that never ends, until the client hangs up."""
        opening = 'data: {"id": "x", "choices": [{"index": 0, "delta": {"content": "'
        if script.endless_line and not await send(opening):
            return False
        filler = "    x = 1  # and on and on\n" * 64
        while not disconnected.is_set():
            if script.endless_line:
                ok = await send("a" * 65536)
            else:
                delta = {"index": 0, "delta": {"content": filler}, "finish_reason": None}
                ok = await send(event({**base, "choices": [delta]}))
            if not ok:
                return False
            await asyncio.sleep(0)  # let the disconnect watcher run
        request.disconnected.set()
        return False


async def _watch_disconnect(
    reader: asyncio.StreamReader, disconnected: asyncio.Event, request: RecordedRequest
) -> None:
    """Set ``disconnected`` when the client closes its side (it sends nothing while waiting)."""
    data = await reader.read(1)
    if not data:
        disconnected.set()
        request.disconnected.set()


async def _pause(seconds: float, disconnected: asyncio.Event) -> bool:
    """Wait ``seconds``; True if the client hung up meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(disconnected.wait(), seconds)
    return disconnected.is_set()


def _usage_json(usage: tuple[int, int]) -> dict[str, int]:
    return {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)}


def _default_error(status: int) -> dict[str, Any]:
    messages = {
        400: "Prompt contains 140000 tokens, too large for model with 131072 maximum context length",
        401: "Unauthorized",
        403: "Forbidden",
        404: "Invalid model: no such model",
        429: "Rate limit exceeded",
    }
    return {
        "object": "error",
        "message": messages.get(status, "Service unavailable"),
        "type": "api_error",
        "param": None,
        "code": str(status),
    }


def _completion_json(script: Script, request: RecordedRequest, model: str) -> dict[str, Any]:
    usage = script.usage or (len(request.prompt_text()) // 4 + 1, max(1, len(script.text) // 4))
    if request.path == "/infill":  # llama.cpp's /completion answer
        return {
            "index": 0,
            "content": script.text,
            "tokens": [],
            "id_slot": 0,
            "stop": True,
            "model": model,
            "tokens_predicted": usage[1],
            "tokens_evaluated": usage[0],
            "stop_type": "limit" if script.finish_reason == "length" else "eos",
            "stopping_word": "",
            "tokens_cached": 0,
            "truncated": False,
        }
    if request.path == "/v1/completions":  # OpenAI's text_completion
        return {
            "id": "cmpl-" + uuid.uuid4().hex,
            "object": "text_completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {"text": script.text, "index": 0, "logprobs": None, "finish_reason": script.finish_reason}
            ],
            "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)},
        }
    return {
        "id": uuid.uuid4().hex,
        "object": "chat.completion",
        "model": model,
        "created": int(time.time()),
        "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)},
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": [{"type": "text", "text": script.text}]
                    if script.list_content
                    else script.text,
                    "tool_calls": None,
                    "prefix": False,
                },
                "finish_reason": script.finish_reason,
            }
        ],
    }


_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    307: "Temporary Redirect",
    422: "Unprocessable Entity",
    501: "Not Implemented",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
