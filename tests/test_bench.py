"""The benchmark command keeps working: a quick run measures everything BENCHMARKS.md reports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from fake_codestral import environment_without_keys

ROOT = Path(__file__).resolve().parents[1]


def test_a_quick_benchmark_run_reports_every_measure(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    env = environment_without_keys()
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--json", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    measures = json.loads(out.read_text())["measures"]
    numbers = {m["name"].split(".")[0].strip() for m in measures if m["name"][0].isdigit()}
    assert numbers == {"1", "2", "3", "4", "5", "6", "7"}
    soak = next(m for m in measures if m["name"].startswith("5."))
    assert soak["met"] is True  # every soak action was applied
    assert all(m["value"] for m in measures)


def test_the_startup_benchmark_prints_its_table() -> None:
    """``python -m bench.startup --quick`` times both servers and prints the ratio (the timing
    itself depends on the machine and is not checked)."""
    run = subprocess.run(
        [sys.executable, "-m", "bench.startup", "--quick"],
        cwd=ROOT,
        env=environment_without_keys(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    rows = {line.split("|")[1].strip(): line for line in run.stdout.splitlines() if line.startswith("| ")}
    assert {"bare pygls server", "codestral-lsp", "ratio (codestral-lsp / bare, median of the rounds)"} <= set(rows)
    assert "| 3 |" in rows["codestral-lsp"] and " ms |" in rows["codestral-lsp"]
    assert "target ≤ 1.1" in rows["ratio (codestral-lsp / bare, median of the rounds)"]
    assert "CPU time" in run.stdout
