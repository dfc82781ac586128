"""An organisation in one scan: 20 member accounts against one account, with AWS-like latency.

Both scans run as `comply` processes against the same moto server (which adds 40 ms to every
answer, as bench_scan does), in the same run, so the printed ratio is what scanning twenty-one
accounts costs over scanning one whatever the machine's load. Goal: at most 3x, and the scanning
process's peak memory under 500 MB. Then the same organisation as shards in 1 and in 4 local
processes (`--workers`): goal at least 3x faster with 4.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

from bench.bench_scan import _SlowMoto
from compliance.demo import DEMO_CREDENTIALS, REGION, moto_server
from compliance.organization_demo import build

MEMBERS = 20


def _timed_scan(endpoint: str, *extra: str) -> tuple[float, float, str]:
    """Wall time, peak RSS in MB and the last line of one `comply scan aws` process."""
    with tempfile.TemporaryDirectory() as out:
        command = [
            str(Path(sys.executable).parent / "comply"),
            "scan",
            "aws",
            "--endpoint-url",
            endpoint,
            "--region",
            REGION,
            "--out",
            out,
            "--db",
            f"sqlite:///{Path(out) / 'c.db'}",
            "--format",
            "ocsf",
            *extra,
        ]
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        output = process.stdout.read() if process.stdout else ""
        _, _, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
    lines = [line for line in output.splitlines() if line.strip()]
    return elapsed, usage.ru_maxrss / 1024, lines[-1] if lines else ""


def run() -> None:
    with mock.patch.dict(os.environ, DEMO_CREDENTIALS), moto_server() as fast, moto_server(_SlowMoto) as slow:
        names = [f"member-{i:02d}" for i in range(MEMBERS)]
        build(names, REGION, fast, open_ssh_in=tuple(names[::5]))
        one, one_rss, _ = _timed_scan(slow)
        org, org_rss, last = _timed_scan(slow, "--organization")
        print(
            f"organisation of {MEMBERS} members + management, moto + 40 ms a call: "
            f"one account {one:.1f} s ({one_rss:.0f} MB peak), whole organisation {org:.1f} s "
            f"({org_rss:.0f} MB peak): x{org / one:.1f} the time of one account (goal <= 3)",
            flush=True,
        )
        print(f"  organisation scan: {last}", flush=True)
        one_process, one_rss, _ = _timed_scan(slow, "--organization", "--workers", "1")
        four, four_rss, _ = _timed_scan(slow, "--organization", "--workers", "4")
        print(f"as shards in local processes: --workers 1 {one_process:.1f} s, --workers 4 {four:.1f} s: "
              f"x{one_process / four:.1f} faster (goal >= 3); peak of the finishing process "
              f"{four_rss:.0f} MB (the shard processes are its children, each one account)", flush=True)


if __name__ == "__main__":
    run()
