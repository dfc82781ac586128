"""CLI start-up: `comply --version`, `--help` and usage errors against `python -c "import typer, rich"`.

The goal is at most 3x: those answers must not import boto3, SQLAlchemy, WeasyPrint, cryptography or
pydantic (tests/cli/test_startup_imports.py guards that without timing). Each command runs in a fresh
process, alternating with the reference (A B A B ...), and the ratio is the median of the pairs'
ratios, so it holds when the machine's load drifts during the run.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

GOAL = 3.0
REPEATS = 7
COMPLY = str(Path(sys.executable).with_name("comply"))
REFERENCE = [sys.executable, "-c", "import typer, rich"]
COMMANDS = {
    "comply --version": [COMPLY, "--version"],
    "comply --help": [COMPLY, "--help"],
    "comply scan --help": [COMPLY, "scan", "--help"],
    "comply --bogus (usage error)": [COMPLY, "--bogus"],
    "comply scan aws --bogus": [COMPLY, "scan", "aws", "--bogus"],
    "comply scan web --bogus": [COMPLY, "scan", "web", "--bogus"],
    "comply scan kubernetes --bogus": [COMPLY, "scan", "kubernetes", "--bogus"],
    "comply scan all --bogus": [COMPLY, "scan", "all", "--bogus"],
    "comply shard run --bogus": [COMPLY, "shard", "run", "--bogus"],
    "comply scan aws --help": [COMPLY, "scan", "aws", "--help"],
}


def _took(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, capture_output=True, check=False, timeout=60)
    return time.perf_counter() - started


def _paired(argv: list[str]) -> tuple[float, float, float]:
    """Median time of the command, of the reference, and median of their pairwise ratios."""
    _took(argv), _took(REFERENCE)  # warm-up: the file cache, not the goal
    pairs = [(_took(argv), _took(REFERENCE)) for _ in range(REPEATS)]
    return (statistics.median(a for a, _ in pairs), statistics.median(b for _, b in pairs),
            statistics.median(a / b for a, b in pairs))


def run() -> None:
    print(f"each command against python -c 'import typer, rich', in turn, {REPEATS} pairs; goal {GOAL:.0f}x")
    for label, argv in COMMANDS.items():
        took, reference, ratio = _paired(argv)
        verdict = "ok" if ratio <= GOAL else f"over the {GOAL:.0f}x goal"
        print(f"{label}: {took * 1000:.0f} ms against {reference * 1000:.0f} ms = {ratio:.1f}x ({verdict})")


if __name__ == "__main__":
    run()
