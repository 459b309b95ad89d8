"""Benchmarks: ``python -m bench`` from the repository root.

Runs the real server over stdio with a raw LSP client against the fake Codestral set to a
realistic latency, prints a table, writes ``bench/results/latest.json`` and (with
``--markdown``) ``BENCHMARKS.md``. ``--quick`` runs fewer rounds (a smoke run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
from codestral_lsp.api.client import KEEPALIVE_CONNECTIONS

from bench import answers, startup
from bench.lsp_client import RawLspClient
from fake_codestral import FakeCodestral, Script

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


@dataclass
class Measure:
    """One line of the table."""

    name: str
    value: str
    target: str
    met: bool | None  # None: reported, no target
    detail: str = ""


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), nearest rank."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def ms(seconds: float) -> str:
    """Seconds as milliseconds, for the table."""
    return f"{seconds * 1000:.2f} ms"


def rss_mb(pid: int) -> float:
    """Resident memory of a process, MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def open_fds(pid: int) -> tuple[int, int]:
    """How many files and sockets a process holds."""
    files = sockets = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:"):
            sockets += 1
        else:
            files += 1
    return files, sockets


def machine() -> str:
    """One line describing this machine."""
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    system = f"{platform.system()} {platform.release()}"
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}, {system}"


def realistic(text: str, tokens_per_second: float = 75, first_token: float = 0.3) -> Script:
    """A stream at the speed of the real API: ~4 characters a token."""
    return Script(text=text, chunk_size=4, first_token_delay=first_token, chunk_delay=1 / tokens_per_second)


ANSWER = "```python\n" + "".join(f"    total_{i} = compute({i}) + offset\n" for i in range(12)) + "```"


class Bench:
    """Holds the fake, the workspace and the settings of a run."""

    def __init__(self, quick: bool, workdir: Path) -> None:
        self.quick = quick
        self.fake = FakeCodestral().start()
        self.workdir = workdir
        self.measures: list[Measure] = []
        self.raw: dict[str, Any] = {}

    def env(self) -> dict[str, str]:
        return self.fake.environment(
            "bench-key-not-secret-000000", XDG_STATE_HOME=str(self.workdir / "state")
        )

    async def server(self, settings: dict[str, Any] | None = None) -> tuple[RawLspClient, float]:
        client = RawLspClient(settings=settings or {"predictedOutputs": True})
        spawned = time.monotonic()
        await client.start([sys.executable, "-m", "codestral_lsp"], self.env())
        await client.initialize(self.workdir.as_uri())
        return client, time.monotonic() - spawned

    def open(self, client: RawLspClient, name: str, text: str) -> str:
        uri = (self.workdir / name).as_uri()
        client.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}},
        )
        return uri

    def add(self, *measures: Measure) -> None:
        self.measures.extend(measures)
        for m in measures:
            mark = {True: "met", False: "MISSED", None: ""}[m.met]
            print(f"  {m.name:<58} {m.value:>14}  {m.target:<12} {mark}", flush=True)

    # -- 1. code actions ------------------------------------------------------------------

    async def code_actions(self) -> None:
        client, _ = await self.server()
        lines = [f"    value_{i} = compute({i})  # line {i} of a long file\n" for i in range(20000)]
        uri = self.open(client, "big.py", "def big():\n" + "".join(lines))
        times = []
        rounds = 200 if self.quick else 2000
        for i in range(rounds):
            start = (i * 7919) % 19990
            params = {
                "textDocument": {"uri": uri},
                "range": {
                    "start": {"line": start, "character": 0},
                    "end": {"line": start + 8, "character": 0},
                },
                "context": {"diagnostics": []},
            }
            result, seconds = await client.request("textDocument/codeAction", params)
            assert result, "no code actions offered"
            times.append(seconds)
        await client.stop()
        server_side = self.code_action_server_time(rounds)
        self.raw["code_action_seconds"] = times
        self.raw["code_action_server_seconds"] = server_side
        self.add(
            Measure("1. code actions, 20,000-line file: round trip p50", ms(pct(times, 50)), "", None),
            Measure(
                "   code actions: server time (parse, offer, serialise) p99",
                ms(pct(server_side, 99)),
                "< 1 ms",
                pct(server_side, 99) < 0.001,
                f"p50 {ms(pct(server_side, 50))}",
            ),
            Measure(
                "   code actions, 20,000-line file: round trip p99",
                ms(pct(times, 99)),
                "< 2 ms",
                pct(times, 99) < 0.002,
            ),
        )

    @staticmethod
    def code_action_server_time(rounds: int) -> list[float]:
        """What the server itself spends on a code-action request, measured in this process."""
        from codestral_lsp.app import create_server
        from codestral_lsp.menu import offered_actions
        from lsprotocol import types
        from pygls.protocol import default_converter

        converter = default_converter()
        server = create_server({})
        server.protocol.client_capabilities = types.ClientCapabilities()
        times = []
        for i in range(rounds):
            start = (i * 7919) % 19990
            raw = {
                "textDocument": {"uri": "file:///bench/big.py"},
                "range": {
                    "start": {"line": start, "character": 0},
                    "end": {"line": start + 8, "character": 0},
                },
                "context": {"diagnostics": []},
            }
            began = time.perf_counter()
            params = converter.structure(raw, types.CodeActionParams)
            prompts = server.client_declares("promptForInstruction")
            offered = offered_actions(params, server.settings.actions, prompts)
            result = converter.unstructure(offered)
            json.dumps({"jsonrpc": "2.0", "id": i, "result": result})
            times.append(time.perf_counter() - began)
        return times

    # -- 2. overhead of an action -------------------------------------------------------------

    async def action_overhead(self) -> None:
        client, _ = await self.server()
        source = "def work():\n" + "".join(f"    total_{i} = compute({i})\n" for i in range(12))
        overheads, first_reports = [], []
        rounds = 3 if self.quick else 15
        for round_number in range(rounds):
            uri = self.open(client, f"work_{round_number}.py", source)
            self.fake.enqueue(realistic(ANSWER))
            before = len(self.fake.completion_requests())
            client.notifications.clear()
            sent = time.monotonic()
            args = {
                "uri": uri,
                "range": {"start": {"line": 1, "character": 0}, "end": {"line": 13, "character": 0}},
            }
            result, _ = await client.request(
                "workspace/executeCommand", {"command": "codestral.refactor", "arguments": [args]}
            )
            assert result["status"] == "applied", result
            edit_at = client.edits[-1].at
            request = self.fake.completion_requests()[before]
            assert request.finished_at is not None and request.first_token_at is not None
            overheads.append((edit_at - sent) - (request.finished_at - request.received_at))
            report = next(
                n.at
                for n in client.notifications
                if n.message["method"] == "$/progress"
                and "characters" in str(n.message["params"]["value"].get("message", ""))
            )
            first_reports.append(report - request.first_token_at)
        await client.stop()

        bare_overheads, bare_first = [], []
        async with httpx.AsyncClient(base_url=self.fake.base_url) as http:
            for _ in range(rounds):
                self.fake.enqueue(realistic(ANSWER))
                before = len(self.fake.completion_requests())
                body = {
                    "model": "codestral-latest",
                    "messages": [{"role": "user", "content": source}],
                    "stream": True,
                }
                sent = time.monotonic()
                first = None
                async with http.stream("POST", "/chat/completions", json=body) as response:
                    async for line in response.aiter_lines():
                        if first is None and '"content": "' in line and '"content": ""' not in line:
                            first = time.monotonic()
                done = time.monotonic()
                request = self.fake.completion_requests()[before]
                assert (
                    request.finished_at is not None
                    and request.first_token_at is not None
                    and first is not None
                )
                bare_overheads.append((done - sent) - (request.finished_at - request.received_at))
                bare_first.append(first - request.first_token_at)
        self.raw.update(action_overhead=overheads, first_report=first_reports, bare_overhead=bare_overheads)
        median = statistics.median(overheads)
        self.add(
            Measure(
                "2. action overhead (command → applyEdit, minus the stream)",
                ms(median),
                "< 10 ms",
                median < 0.010,
                f"p99 {ms(pct(overheads, 99))}",
            ),
            Measure(
                "   same for a bare httpx client streaming the answer",
                ms(statistics.median(bare_overheads)),
                "",
                None,
            ),
            Measure(
                "   first token leaves the fake → first progress report",
                ms(statistics.median(first_reports)),
                "< 20 ms",
                statistics.median(first_reports) < 0.020,
                f"p99 {ms(pct(first_reports, 99))}",
            ),
            Measure(
                "   first token leaves the fake → bare httpx sees it",
                ms(statistics.median(bare_first)),
                "",
                None,
            ),
        )

    # -- 3. start-up and memory -----------------------------------------------------------------

    async def startup(self) -> None:
        times, memory = [], []
        for _ in range(3 if self.quick else 10):
            client, seconds = await self.server()
            times.append(seconds)
            await client.request("workspace/executeCommand", {"command": "codestral.status", "arguments": []})
            memory.append(rss_mb(client.pid))
            await client.stop()
        self.raw.update(startup_seconds=times, idle_rss_mb=memory)
        self.add(
            Measure(
                "3. start-up: spawn → initialize answered (median)",
                ms(statistics.median(times)),
                "< 300 ms",
                statistics.median(times) < 0.3,
            ),
            Measure(
                "   idle memory (RSS)",
                f"{statistics.median(memory):.1f} MB",
                "< 50 MB",
                statistics.median(memory) < 50,
            ),
        )

    # -- 4. a fast answer: progress rate and CPU ------------------------------------------------

    async def fast_stream(self) -> None:
        client, _ = await self.server()
        uri = self.open(client, "fast.py", "def f():\n    return 1\n")
        tokens = 2000 if self.quick else 6000
        text = "```python\n" + "".join(f"    x{i} = {i}\n" for i in range(tokens // 4)) + "```"
        self.fake.enqueue(Script(text=text, chunk_size=4, chunk_delay=1 / 2000))
        client.notifications.clear()
        cpu_before, started = cpu_seconds(client.pid), time.monotonic()
        args = {
            "uri": uri,
            "range": {"start": {"line": 1, "character": 0}, "end": {"line": 2, "character": 0}},
        }
        await client.request(
            "workspace/executeCommand", {"command": "codestral.refactor", "arguments": [args]}
        )
        wall, cpu = time.monotonic() - started, cpu_seconds(client.pid) - cpu_before
        await client.stop()
        reports = [
            n.at
            for n in client.notifications
            if n.message["method"] == "$/progress" and n.message["params"]["value"].get("kind") == "report"
        ]
        busiest = max(sum(1 for t in reports if w <= t < w + 1) for w in reports) if reports else 0
        self.raw.update(fast_reports=len(reports), fast_wall=wall, fast_cpu=cpu)
        self.add(
            Measure(
                "4. 2,000 tokens/s answer: progress reports in the busiest second",
                str(busiest),
                "≤ 10",
                busiest <= 10,
                f"{len(reports)} reports over {wall:.1f} s",
            ),
            Measure("   server CPU while streaming it", f"{100 * cpu / wall:.0f} %", "", None),
        )

    # -- 5. soak ------------------------------------------------------------------------------

    async def soak(self) -> None:
        client, _ = await self.server()
        source = "def f():\n    return 1\n"
        answer = "```python\n    return 2\n```"
        sequential = 100 if self.quick else 1000
        concurrent = 10 if self.quick else 50

        def args_for(uri: str) -> dict[str, Any]:
            return {
                "uri": uri,
                "range": {"start": {"line": 1, "character": 0}, "end": {"line": 2, "character": 0}},
            }

        self.fake.responder = lambda request: Script(text=answer)
        statuses: dict[str, int] = {}

        async def half(name: str) -> None:
            # sequential actions, then a concurrent burst; the editor closes what it opened
            for i in range(sequential // 2):
                uri = self.open(client, f"{name}_{i}.py", source)
                result, _ = await client.request(
                    "workspace/executeCommand",
                    {"command": "codestral.refactor", "arguments": [args_for(uri)]},
                )
                statuses[result["status"]] = statuses.get(result["status"], 0) + 1
            uris = [self.open(client, f"{name}_burst_{i}.py", source) for i in range(concurrent // 2)]
            results = await asyncio.gather(
                *[
                    client.request(
                        "workspace/executeCommand",
                        {"command": "codestral.refactor", "arguments": [args_for(u)]},
                    )
                    for u in uris
                ]
            )
            for result, _ in results:
                statuses[result["status"]] = statuses.get(result["status"], 0) + 1
            for i in range(sequential // 2):
                client.notify(
                    "textDocument/didClose",
                    {"textDocument": {"uri": (self.workdir / f"{name}_{i}.py").as_uri()}},
                )
            for u in uris:
                client.notify("textDocument/didClose", {"textDocument": {"uri": u}})

        # A leak grows with the work; the connection pool does not: compare after each half.
        started = time.monotonic()
        await half("first")
        rss_before, fds_before = rss_mb(client.pid), open_fds(client.pid)
        await half("second")
        elapsed = time.monotonic() - started
        await asyncio.sleep(1)  # let closed connections finish closing: measure the idle state
        state, _ = await client.request(
            "workspace/executeCommand", {"command": "codestral.status", "arguments": []}
        )
        rss_after, fds_after = rss_mb(client.pid), open_fds(client.pid)
        await client.stop()
        self.fake.responder = FakeCodestral().responder
        ok = statuses.get("applied", 0) == sequential + concurrent
        left = state["runningJobs"] + state["backgroundTasks"] + state["completionsInFlight"]
        self.raw.update(
            soak_statuses=statuses, soak_rss=(rss_before, rss_after), soak_fds=(fds_before, fds_after)
        )
        self.add(
            Measure(
                f"5. soak: {sequential} sequential + {concurrent} concurrent actions applied",
                f"{statuses.get('applied', 0)}/{sequential + concurrent}",
                "all",
                ok,
                f"{elapsed:.1f} s",
            ),
            Measure(
                "   RSS growth over the second half of the soak",
                f"{rss_after - rss_before:+.1f} MB",
                "< 10 MB",
                rss_after - rss_before < 10,
            ),
            Measure(
                "   jobs/tasks left; files after each half; sockets when idle",
                f"{left}; {fds_before[0]} → {fds_after[0]}; {fds_after[1]}",
                f"0; equal; ≤ {KEEPALIVE_CONNECTIONS}",
                left == 0 and fds_after[0] <= fds_before[0] and fds_after[1] <= KEEPALIVE_CONNECTIONS,
                "the connection pool keeps at most this many idle connections",
            ),
        )

    # -- 6. inline completion -------------------------------------------------------------------

    async def completion(self) -> None:
        client, _ = await self.server({"completion": {"debounceMs": 0}})
        text = "import math\n\ndef area(r):\n    return \n"
        uri = self.open(client, "geo.py", text)
        added = []
        for i in range(10 if self.quick else 60):
            self.fake.enqueue(Script(text=f"math.pi * r ** {i + 2}", first_token_delay=0.15))
            before = len(self.fake.completion_requests())
            params = {
                "textDocument": {"uri": uri},
                "position": {"line": 3, "character": 11},
                "context": {"triggerKind": 2},
            }
            client.notify(
                "textDocument/didChange",
                {
                    "textDocument": {"uri": uri, "version": i + 2},
                    "contentChanges": [{"text": text + "#" * i}],
                },
            )
            result, seconds = await client.request("textDocument/inlineCompletion", params)
            request = self.fake.completion_requests()[before]
            assert result and request.finished_at is not None
            added.append(seconds - (request.finished_at - request.received_at))
        await client.stop()

        typing, _ = await self.server()  # default debounce
        uri = self.open(typing, "typing.py", "x = ")
        self.fake.responder = lambda request: Script(text="compute()", first_token_delay=0.15)
        before = len(self.fake.completion_requests())
        keystrokes = 30 if self.quick else 100
        content = "x = "
        pending = []
        for i in range(keystrokes):
            content += "abcdefghij"[i % 10]
            typing.notify(
                "textDocument/didChange",
                {"textDocument": {"uri": uri, "version": i + 2}, "contentChanges": [{"text": content}]},
            )
            pending.append(
                asyncio.ensure_future(
                    typing.request(
                        "textDocument/inlineCompletion",
                        {
                            "textDocument": {"uri": uri},
                            "position": {"line": 0, "character": len(content)},
                            "context": {"triggerKind": 2},
                        },
                    )
                )
            )
            await asyncio.sleep(0.1)  # typing at 10 keystrokes per second (the workload, not synchronisation)
        answered = await asyncio.gather(*pending)
        sent = len(self.fake.completion_requests()) - before
        await typing.stop()
        self.fake.responder = FakeCodestral().responder
        per_100 = sent * 100 / keystrokes
        self.raw.update(completion_added=added, completion_requests=sent, keystrokes=keystrokes)
        self.add(
            Measure(
                "6. inline completion: latency added over the fake's (p50)", ms(pct(added, 50)), "", None
            ),
            Measure("   inline completion: latency added (p99)", ms(pct(added, 99)), "", None),
            Measure(
                "   HTTP requests per 100 keystrokes at 10/s (debounce 200 ms)",
                f"{per_100:.0f}",
                "",
                None,
                f"{len(answered)} requests all answered",
            ),
        )


    # -- 7. large documents ---------------------------------------------------------------------

    async def large_documents(self) -> None:
        client, _ = await self.server()
        line = "x = 1  # padding padding padding padding padding padding\n"
        count = 450_000  # ~25 MB
        uri = self.open(client, "huge.py", line * count)
        await client.request("workspace/executeCommand", {"command": "codestral.status"})
        keystrokes = 10 if self.quick else 50
        typing = []
        for i in range(keystrokes):
            at = {"line": count // 2, "character": len(line) - 1 + i}
            client.notify(
                "textDocument/didChange",
                {
                    "textDocument": {"uri": uri, "version": i + 2},
                    "contentChanges": [{"range": {"start": at, "end": at}, "text": "y"}],
                },
            )
            _, seconds = await client.request("workspace/executeCommand", {"command": "codestral.status"})
            typing.append(seconds)
        idle = [
            (await client.request("workspace/executeCommand", {"command": "codestral.status"}))[1]
            for _ in range(keystrokes)
        ]
        long_line = "s = '" + "é" * 10_000_000 + "'\n"
        long_uri = self.open(client, "long.py", "def f():\n    return 1\n" + long_line)
        self.fake.enqueue(Script(text="```python\ndef f():\n    return 2\n```"))
        args = {
            "uri": long_uri,
            "range": {"start": {"line": 0, "character": 0}, "end": {"line": 2, "character": 3}},
        }
        result, action = await client.request(
            "workspace/executeCommand", {"command": "codestral.refactor", "arguments": [args]}
        )
        assert result["status"] == "applied", result
        await client.stop()

        from codestral_lsp.context import build_context

        crafted = ["const" + " " * 150_000 + "x\n", "const " + "= " * 75_000 + "\n", "def f():\n"]
        started = time.monotonic()
        build_context(
            crafted, 2, 2, crafted[2], language="js", path="a.js", budget_chars=8000, nearby_lines=5
        )
        regex = time.monotonic() - started
        added = pct(typing, 50) - pct(idle, 50)
        self.raw.update(keystroke_seconds=typing, idle_seconds=idle, long_line_action=action, crafted=regex)
        self.add(
            Measure(
                "7. keystroke in a 25 MB document: added round trip p50",
                ms(added),
                "< 50 ms",
                added < 0.05,
                f"p99 {ms(pct(typing, 99) - pct(idle, 50))}; 344 ms before",
            ),
            Measure(
                "   action on a range ending on a 10 MB line (command → result)",
                ms(action),
                "< 1 s",
                action < 1,
                "4.6 s before",
            ),
            Measure(
                "   context for a file with crafted 150 KB import-like lines",
                ms(regex),
                "< 50 ms",
                regex < 0.05,
                "21 s before",
            ),
        )


def write_markdown(bench: Bench, path: Path) -> None:
    """BENCHMARKS.md: the table, the machine, and how to reproduce it."""
    lines = [
        "# Benchmarks",
        "",
        "Reproduce with `python -m bench --markdown` from the repository root (after",
        "`python3 -m pip install -e '.[test]'`). The real server runs over stdio, driven by a raw LSP",
        "client, against the fake Codestral streaming at the API's pace (first token after 300 ms,",
        "75 tokens/s) unless a line says otherwise.",
        "",
        f"Machine: {machine()}. Run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "",
        "| Measure | Result | Target | |",
        "|---|---|---|---|",
    ]
    for m in bench.measures:
        mark = {True: "met", False: "**missed**", None: ""}[m.met]
        detail = f" ({m.detail})" if m.detail else ""
        lines.append(f"| {m.name.strip()} | {m.value}{detail} | {m.target} | {mark} |")
    lines += ["", "## Notes", "", NOTES, "", answers.section().rstrip("\n")]
    kept = startup.current_section(path.read_text(encoding="utf-8")) if path.exists() else ""
    lines += ["", kept.rstrip("\n")] if kept else []  # written by `python -m bench.startup --markdown`
    path.write_text("\n".join(lines) + "\n")


NOTES = """- *Code actions*: the server's own work per request (parsing the params, building the
  actions, serialising them) is about a tenth of a millisecond. The rest of the round trip is the
  transport on both sides: pygls reads stdin through a thread pool (a thread hop per header line
  and body) and the benchmark's client is Python asyncio too; on this 2-core machine, scheduling
  jitter decides whether p99 lands just under or just over 2 ms.
- *Action overhead* is the time from sending `workspace/executeCommand` to receiving
  `workspace/applyEdit`, minus the fake's own time from receiving the request to sending the last
  chunk: it contains request building, the HTTP round trip on loopback, SSE parsing, the diff and
  the JSON-RPC hops. A bare httpx client streaming the same answer is measured the same way.
- *Start-up misses its 300 ms target*, and what limits it is outside this project: importing
  `lsprotocol.types` alone takes about 340 ms on this machine (it defines about a thousand attrs
  classes), and pygls cannot run without it; `python -X importtime -c "import lsprotocol.types"`
  shows it. The server's own modules and httpx add about 100 ms. The remedies are upstream
  (a lazily built lsprotocol) or a different runtime; an editor starts the server once per session.
- *Inline completion latency added* is the LSP round trip minus the fake's own time with
  `debounceMs: 0`; in use, the debounce (200 ms by default) comes on top by design.
- *Large documents*: a keystroke costs one splice of the text (a copy, at memory speed) and,
  when typing stays in one line, no work on the line table; positions are converted by encoding
  the line (C speed), never character by character. "Added round trip" is a `didChange` plus a
  trivial request, minus the same request alone. The import finder skips lines over 1,000
  characters and its pattern cannot backtrack quadratically.
- Requests per 100 keystrokes: a request is superseded (and its HTTP request closed) by the next
  keystroke, so typing steadily faster than the debounce sends almost nothing until a pause."""


async def main_async(args: argparse.Namespace) -> int:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        bench = Bench(args.quick, Path(tmp))
        print(f"codestral-lsp benchmarks — {machine()}", flush=True)
        steps: list[Callable[[], Any]] = [
            bench.code_actions,
            bench.action_overhead,
            bench.startup,
            bench.fast_stream,
            bench.soak,
            bench.completion,
            bench.large_documents,
        ]
        try:
            for step in steps:
                await step()
        finally:
            bench.fake.stop()
        RESULTS.mkdir(parents=True, exist_ok=True)
        payload = {
            "machine": machine(),
            "quick": args.quick,
            "measures": [asdict(m) for m in bench.measures],
            "raw": bench.raw,
        }
        out = Path(args.json) if args.json else RESULTS / "latest.json"
        out.write_text(json.dumps(payload, indent=1))
        print(f"wrote {out}")
        if args.markdown:
            write_markdown(bench, ROOT / "BENCHMARKS.md")
            print(f"wrote {ROOT / 'BENCHMARKS.md'}")
        missed = [m.name.strip() for m in bench.measures if m.met is False]
        if missed:
            print("targets missed: " + "; ".join(missed))
    return 0


def main() -> int:
    """Command line of ``python -m bench``."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer rounds: a smoke run")
    parser.add_argument("--json", help="where to write the results (default bench/results/latest.json)")
    parser.add_argument("--markdown", action="store_true", help="also write BENCHMARKS.md")
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
