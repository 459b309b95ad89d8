"""Answer shapes: ``python -m bench.answers`` from the repository root (``--markdown`` updates the
"Answer shapes" section of BENCHMARKS.md).

Deterministic and fast: every case of the corpus in ``tests/answer_shapes.py`` goes through the
rewrite path (``plan_rewrite`` then ``fit_to_selection``, as the server does) and its outcome is
compared with the exact expected document. Reported: landed exactly, kept (as expected),
kept though the edit was clear, and wrong (applied, but not exactly as expected). Target: 0 wrong.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

from tests.answer_shapes import CASES, Kept, verdict

ROOT = Path(__file__).resolve().parents[1]
HEADING = "## Answer shapes"


def measure() -> tuple[Counter[str], list[tuple[str, str]], float]:
    """Verdicts by kind, the kept cases with their reasons, and milliseconds per case."""
    started = time.perf_counter()
    verdicts = {case.id: verdict(case) for case in CASES}
    per_case = (time.perf_counter() - started) * 1000 / len(CASES)
    kept = [(c.id, c.expected.reason) for c in CASES if isinstance(c.expected, Kept)]
    return Counter(verdicts.values()), kept, per_case


def languages() -> int:
    """How many languages the corpus covers."""
    return len({c.language for c in CASES})


def section() -> str:
    """The Markdown section for BENCHMARKS.md."""
    counts, kept, _ = measure()
    wrong = counts["wrong"]
    lines = [
        HEADING,
        "",
        "`python -m bench.answers` (deterministic; `--markdown` rewrites this section): each answer shape of",
        "the corpus in `tests/answer_shapes.py` — a Codestral answer, Continue's post-processing tests,",
        f"Tabby's edit prompt, peers' issue threads; CRLF, tabs, {languages()} languages — goes through the",
        "server's rewrite path and is compared with the exact expected document.",
        "",
        "| Shapes | Landed exactly | Kept (a careful human would not apply it either) "
        "| Kept, though the edit was clear | Wrong | |",
        "|---|---|---|---|---|---|",
        f"| {len(CASES)} | {counts['landed']} | {counts['kept']} | {counts['kept-could-land']} | {wrong} "
        f"| {'met (target 0 wrong)' if wrong == 0 else '**missed** (target 0 wrong)'} |",
        "",
        "The kept answers, and why:",
        "",
    ]
    by_reason: dict[str, list[str]] = {}
    for case_id, reason in kept:
        by_reason.setdefault(reason, []).append(case_id)
    for reason, ids in sorted(by_reason.items(), key=lambda item: (-len(item[1]), item[0])):
        lines.append(f"- {reason}: {', '.join(f'`{i}`' for i in ids)}")
    return "\n".join(lines) + "\n"


def update_markdown(path: Path) -> None:
    """Replace (or add) the Answer shapes section of ``path``, leaving the rest as it is."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    new = section()
    if HEADING in text:
        head, rest = text.split(HEADING, 1)
        tail = rest.split("\n## ", 1)
        after = "\n## " + tail[1] if len(tail) > 1 else ""
        text = head + new + after
    else:
        text = text.rstrip("\n") + "\n\n" + new
    path.write_text(text)


def main() -> int:
    """Print the section; with ``--markdown`` also write it into BENCHMARKS.md."""
    parser = argparse.ArgumentParser(prog="python -m bench.answers", description=__doc__)
    parser.add_argument("--markdown", action="store_true", help="update BENCHMARKS.md")
    args = parser.parse_args()
    sys.stdout.write(section())
    if args.markdown:
        update_markdown(ROOT / "BENCHMARKS.md")
    counts, _, per_case = measure()
    sys.stderr.write(f"{per_case:.2f} ms per answer\n")
    return 1 if counts["wrong"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
