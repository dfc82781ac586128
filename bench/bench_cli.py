"""CLI start-up: `comply --version`, `--help` and usage errors against `python -c "import typer, rich"`.

The goal is at most 3x: those answers must not import boto3, SQLAlchemy, WeasyPrint, cryptography or
pydantic (tests/cli/test_startup_imports.py guards that without timing). Each command
runs in a fresh process several times; the median wall time is compared with the reference's median,
measured the same way in the same run, so the ratio holds whatever the machine's load.
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


def _median(argv: list[str]) -> float:
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=False, timeout=60)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run() -> None:
    reference = _median(REFERENCE)
    print(f"python -c 'import typer, rich': {reference * 1000:.0f} ms (median of {REPEATS})")
    for label, argv in COMMANDS.items():
        took = _median(argv)
        ratio = took / reference
        verdict = "ok" if ratio <= GOAL else f"over the {GOAL:.0f}x goal"
        print(f"{label}: {took * 1000:.0f} ms = {ratio:.1f}x the reference ({verdict})")


if __name__ == "__main__":
    run()
