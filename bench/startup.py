"""Start-up against a bare pygls server: ``python -m bench.startup`` from the repository root
(``--quick``: fewer rounds, a smoke run; ``--markdown``: rewrite the "Start-up" section of
BENCHMARKS.md).

Both servers are spawned the same way (this Python, stdio pipes, the same environment) and timed
from spawn to the ``initialize`` answer by the same raw client, in alternating rounds of the same
run, so that the machine's load falls on both alike. The bare server is pygls's
``LanguageServer`` with no feature: what any pygls server pays (the interpreter, pygls,
lsprotocol). The ratio (the median of each round's) is what codestral-lsp adds; target ≤ 1.1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.lsp_client import RawLspClient
from fake_codestral import environment_without_keys

ROOT = Path(__file__).resolve().parents[1]
HEADING = "## Start-up"
TARGET_RATIO = 1.1

BARE = (
    "from pygls.lsp.server import LanguageServer\n"
    "LanguageServer('bare-pygls', '0').start_io()\n"
)
COMMANDS = {
    "bare pygls server": [sys.executable, "-c", BARE],
    "codestral-lsp": [sys.executable, "-m", "codestral_lsp"],
}


@dataclass(frozen=True)
class Timing:
    """One server's spawn → ``initialize`` answered over the rounds: the wall-clock time, and the
    CPU time the process had used by then (steadier on a loaded machine; Linux only)."""

    name: str
    seconds: tuple[float, ...]
    cpu_seconds: tuple[float, ...] = ()

    @property
    def median(self) -> float:
        """The median, in seconds."""
        return statistics.median(self.seconds)

    @property
    def cpu_median(self) -> float | None:
        """The median CPU time, in seconds (``None``: not measured)."""
        return statistics.median(self.cpu_seconds) if self.cpu_seconds else None

    @property
    def p90(self) -> float:
        """The 90th percentile (nearest rank), in seconds."""
        ordered = sorted(self.seconds)
        return ordered[max(0, -(-len(ordered) * 9 // 10) - 1)]


def environment(root: Path) -> dict[str, str]:
    """The servers' environment: no key, and byte-code caches allowed (an installed server has
    them; without, each start would compile codestral-lsp's sources while pygls's are cached)."""
    env = environment_without_keys(XDG_STATE_HOME=str(root / "state"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def cpu_seconds(pid: int) -> float | None:
    """The user + system CPU time a process has used (``None`` where ``/proc`` is missing)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def spawn_to_initialize(command: list[str], root: Path) -> tuple[float, float | None]:
    """Seconds from spawning ``command`` to its answer to ``initialize``, and the CPU seconds it
    had used by then; then stop it."""
    client = RawLspClient()
    started = time.perf_counter()
    await client.start(command, environment(root))
    await client.initialize(root.as_uri())
    seconds = time.perf_counter() - started
    cpu = cpu_seconds(client.pid)
    await client.stop()
    return seconds, cpu


async def measure(rounds: int) -> list[Timing]:
    """Alternate the servers for ``rounds`` rounds, after one unmeasured round (byte-code
    caches written, files in the page cache)."""
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    cpu: dict[str, list[float]] = {name: [] for name in COMMANDS}
    with tempfile.TemporaryDirectory() as workdir:
        root = Path(workdir)
        for round_ in range(rounds + 1):
            for name, command in COMMANDS.items():
                seconds, used = await spawn_to_initialize(command, root)
                if round_:
                    times[name].append(seconds)
                    cpu[name] += [used] if used is not None else []
    return [Timing(name, tuple(times[name]), tuple(cpu[name])) for name in COMMANDS]


def ratio(timings: list[Timing]) -> float:
    """The median over the rounds of codestral-lsp's time over the bare server's in the same
    round (started one after the other, so under the same load: steadier than the ratio of the
    medians on a busy machine)."""
    bare, ours = timings
    return statistics.median(o / b for o, b in zip(ours.seconds, bare.seconds, strict=True))


def cpu_ratio(timings: list[Timing]) -> float | None:
    """The same for the CPU time (``None``: not measured)."""
    bare, ours = (t.cpu_median for t in timings)
    return ours / bare if ours is not None and bare else None


def _ms(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds * 1000:.1f} ms"


def table(timings: list[Timing]) -> str:
    """The Markdown table: each server's median and p90, and the ratio."""
    lines = [
        "| Server | Rounds | spawn → initialize answered, median | p90 | CPU time by then, median |",
        "|---|---|---|---|---|",
    ]
    for timing in timings:
        lines.append(
            f"| {timing.name} | {len(timing.seconds)} | {_ms(timing.median)} | {_ms(timing.p90)} "
            f"| {_ms(timing.cpu_median)} |"
        )
    value, cpu = ratio(timings), cpu_ratio(timings)
    verdict = "met" if value <= TARGET_RATIO else "**missed**"
    lines.append(
        f"| ratio (codestral-lsp / bare, median of the rounds) | | {value:.2f} "
        f"(target ≤ {TARGET_RATIO}: {verdict}) | "
        f"| {'–' if cpu is None else f'{cpu:.2f}'} |"
    )
    return "\n".join(lines)


def section(timings: list[Timing], note: str) -> str:
    """The Markdown section for BENCHMARKS.md."""
    return "\n".join(
        [
            HEADING,
            "",
            "`python -m bench.startup` (`--markdown` rewrites this section): codestral-lsp and a bare",
            "pygls `LanguageServer` spawned the same way (`python -m codestral_lsp`, `python -c …`), timed",
            "by the same raw client from spawn to the `initialize` answer, in alternating rounds of one run.",
            "",
            table(timings),
            "",
            note,
            "",
        ]
    )


def current_section(markdown: str) -> str:
    """The section as BENCHMARKS.md has it ("" when it has none), kept by ``python -m bench``."""
    if HEADING not in markdown:
        return ""
    return HEADING + markdown.split(HEADING, 1)[1].split("\n## ", 1)[0].rstrip("\n") + "\n"


def write_markdown(text: str) -> None:
    """Replace (or append) the section in BENCHMARKS.md."""
    path = ROOT / "BENCHMARKS.md"
    current = path.read_text(encoding="utf-8")
    old = current_section(current)
    if old:
        current = current.replace(old.rstrip("\n"), text.rstrip("\n"), 1)
    else:
        current = current.rstrip("\n") + "\n\n" + text
    path.write_text(current, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Measure, print the table; with ``--markdown`` also write it to BENCHMARKS.md."""
    parser = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds instead of 20 (a smoke run)")
    parser.add_argument("--rounds", type=int, help="rounds to measure (default 20, 3 with --quick)")
    parser.add_argument("--markdown", action="store_true", help="rewrite BENCHMARKS.md's section")
    parser.add_argument("--note", default="", help="a sentence under the table (with --markdown)")
    args = parser.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 20)
    timings = asyncio.run(measure(rounds))
    print(table(timings))
    if args.markdown:
        write_markdown(section(timings, args.note))
    return 0


if __name__ == "__main__":
    sys.exit(main())
