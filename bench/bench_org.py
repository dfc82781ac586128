"""An organisation in one scan: 20 member accounts against one account, with AWS-like latency.

Both scans run as `comply` processes against the same emulated AWS (moto forked into replicas behind a
proxy, bench.moto_replicas, each adding 40 ms to every answer as bench_scan does), in the same run, so
the printed ratio is what scanning twenty-one accounts costs over scanning one whatever the machine's
load. Goal: at most 3x, and the scanning
process's peak memory under 500 MB. Then the same organisation as shards in 1 and in 4 local
processes (`--workers`): goal at least 3x faster with 4, with the peak memory of the shard processes
and of the planning and finishing process. How busy the machine's cores were during each run is
printed beside it: `--workers 1` already overlaps an account's round trips (--concurrency), so on a
machine it keeps X% busy no pool can be more than 100/X times faster. Last, the finishing step
alone (`comply scan finish`) on planned scans whose shards hold 1x and 4x the evidence, and twice the
accounts: its peak memory should follow the findings, not accounts x evidence.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

from bench.moto_replicas import emulator, replicas
from compliance.demo import DEMO_CREDENTIALS, REGION
from compliance.organization_demo import build

MEMBERS = 20
REPLICAS = 6
"""moto processes answering the organisation (bench.moto_replicas): one would be the bottleneck."""
EMULATOR = {"MOTO_EC2_LOAD_DEFAULT_AMIS": "false"}
"""moto ignores describe_snapshots' OwnerIds=["self"] and answers every account with the snapshots of
its ~1,000 built-in public AMIs (430 kB), whose serialisation took most of the emulator's CPU: one
process's GIL serving every shard, the emulator, not the scanner, set the pace of `--workers 4`.
Without the built-in AMIs each account answers with its own snapshots, as AWS does."""
COMPLY = str(Path(sys.executable).parent / "comply")


def _busy() -> tuple[int, int]:
    """Busy and total CPU ticks of the machine so far (Linux /proc/stat; zeros elsewhere)."""
    try:
        with open("/proc/stat") as stat:
            ticks = [int(v) for v in stat.readline().split()[1:]]
    except OSError:
        return 0, 0
    return sum(ticks) - ticks[3] - ticks[4], sum(ticks)


def _busy_since(start: tuple[int, int]) -> str:
    busy, total = (now - then for now, then in zip(_busy(), start, strict=True))
    return f"machine {100 * busy / total:.0f}% busy" if total else "machine load unknown"


def _timed(command: list[str]) -> tuple[float, float, str, str]:
    """Wall time, peak RSS in MB (the process and its children), stdout and stderr of one process."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=err, text=True)
        output = process.stdout.read() if process.stdout else ""
        _, _, usage = os.wait4(process.pid, 0)
        err.seek(0)
        errors = err.read()
    return time.perf_counter() - started, usage.ru_maxrss / 1024, output, errors


def _timed_scan(endpoint: str, *extra: str) -> tuple[float, float, str, str]:
    """Wall time, peak RSS in MB, last line of stdout and stderr of one `comply scan aws` process."""
    with tempfile.TemporaryDirectory() as out:
        elapsed, rss, output, errors = _timed([
            COMPLY, "scan", "aws", "--endpoint-url", endpoint, "--region", REGION, "--out", out,
            "--db", f"sqlite:///{Path(out) / 'c.db'}", "--format", "ocsf", *extra])
    lines = [line for line in output.splitlines() if line.strip()]
    return elapsed, rss, lines[-1] if lines else "", errors


def _peaks(errors: str) -> str:
    found = re.search(r"peak memory: (.*)", errors)
    return found.group(1) if found else "(not reported)"


def _synthetic_plan(db: str, accounts: int, records: int, size: int, findings: int) -> str:
    """A planned scan whose every shard has committed `records` evidence records of `size` bytes of
    response each and `findings` findings, as `comply shard run` would leave it."""
    from compliance import shards
    from compliance.collect.record import EvidenceRecord, Outcome
    from compliance.engine import selected_checks
    from compliance.findings import Finding, Severity, Status
    from compliance.store import Store

    store = Store(db)
    checks = [c.id for c in selected_checks("aws")]
    ids = [f"{100000000000 + n}" for n in range(accounts)]
    scan_id = f"bench{accounts}x{records}"
    listing = EvidenceRecord("aws", "organizations", "list_accounts", None, {}, "2026-01-01T00:00:00+00:00",
                             Outcome.OK, response={"Accounts": [{"Id": i} for i in ids]})
    request = {"regions": [REGION], "ecr_min_severity": "HIGH", "shard_by": "account", "endpoint_url": None}
    output = {"out": str(Path(db.removeprefix("sqlite:///")).parent / f"out-{scan_id}"),
              "formats": "ocsf,evidence", "fail_on": "none", "frameworks": ["pci-dss-4.0.1"], "waivers": None,
              "signing_key": None, "organisation": None, "timeout": 30}
    shards.create(store, scan_id, "aws", [shards.Unit(i, f"acct-{i}") for i in ids], request=request,
                  output=output, scope={"organization": True, "regions": [REGION]}, listing=listing.as_dict())
    filler = "x" * size
    for n, account in enumerate(ids):
        evidence = [EvidenceRecord("aws", "ec2", "describe_things", REGION, {"page": k},
                                   "2026-01-01T00:00:00+00:00", Outcome.OK, response={"blob": filler, "k": k},
                                   account=account) for k in range(records)]
        found = [Finding(checks[k % len(checks)], f"arn:aws:ec2:{REGION}:{account}:thing/{k}",
                         Status.FAIL if k % 3 else Status.PASS, "synthetic", Severity.MEDIUM,
                         evidence_ids=(evidence[k % records].id,)) for k in range(findings)]
        _, attempt = shards.start(store, scan_id, n)
        shards.commit(store, scan_id, n, attempt, {"reached": True, "reason": None,
                                                   "evidence": [r.as_dict() for r in evidence],
                                                   "findings": [f.as_dict() for f in found]})
    return scan_id


def finish_memory() -> None:
    """Peak RSS of `comply scan finish` as the evidence per account, then the accounts, grow."""
    for accounts, records in ((MEMBERS, 50), (MEMBERS, 200), (2 * MEMBERS, 50)):
        with tempfile.TemporaryDirectory() as folder:
            db = f"sqlite:///{Path(folder) / 'c.db'}"
            scan_id = _synthetic_plan(db, accounts, records, 16_000, 60)
            elapsed, rss, _, errors = _timed([COMPLY, "scan", "finish", scan_id, "--db", db])
            megabytes = accounts * records * 16_000 / 1e6
            print(f"  finishing {accounts} accounts x {records} records of 16 kB ({megabytes:.0f} MB of "
                  f"evidence, {accounts * 60} findings, ocsf + pack): {elapsed:.1f} s, peak {rss:.0f} MB",
                  flush=True)
            if "Traceback" in errors:
                print(errors[-2000:], flush=True)


def run() -> None:
    print(f"load average at start: {os.getloadavg()[0]:.1f} (2 cores shared; numbers above ~4 are noise)",
          flush=True)
    with mock.patch.dict(os.environ, {**DEMO_CREDENTIALS, **EMULATOR}):
        with emulator() as (fast, app):
            names = [f"member-{i:02d}" for i in range(MEMBERS)]
            build(names, REGION, fast, open_ssh_in=tuple(names[::5]))
            _timed_scan(fast, "--organization")  # warms moto up: its apps and models, before the forks
        with replicas(REPLICAS, app) as slow:
            if "BENCH_ORG_POOL_ONLY" not in os.environ:
                one, one_rss, _, _ = _timed_scan(slow)
                org, org_rss, last, _ = _timed_scan(slow, "--organization")
                print(
                    f"organisation of {MEMBERS} members + management, moto + 40 ms a call: "
                    f"one account {one:.1f} s ({one_rss:.0f} MB peak), whole organisation {org:.1f} s "
                    f"({org_rss:.0f} MB peak): x{org / one:.1f} the time of one account (goal <= 3)",
                    flush=True,
                )
                print(f"  organisation scan: {last}", flush=True)
            start = _busy()
            one_process, _, _, one_err = _timed_scan(slow, "--organization", "--workers", "1")
            one_busy, start = _busy_since(start), _busy()
            four, _, _, four_err = _timed_scan(slow, "--organization", "--workers", "4")
            print(f"as {MEMBERS + 1} shards in local processes: --workers 1 {one_process:.1f} s "
                  f"({one_busy}), --workers 4 {four:.1f} s ({_busy_since(start)}): "
                  f"x{one_process / four:.1f} faster (goal >= 3; at most 100 / the first busy % on "
                  f"{os.cpu_count()} cores)", flush=True)
            print(f"  --workers 1 {_peaks(one_err)}", flush=True)
            print(f"  --workers 4 {_peaks(four_err)}", flush=True)
    finish_memory()


if __name__ == "__main__":
    run()
