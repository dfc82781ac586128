"""Offline Kubernetes scan speed: the wallet's manifests, then a rendered platform of ~5,000 objects.

The larger set is the wallet's Deployment, Job, ServiceAccount and NetworkPolicies copied into 400
namespaces (the shape of a multi-tenant platform's `helm template` output). The ratio printed is the
time per object of the large scan against the small one, so it shows whether reading, indexing and
the checks stay linear in the number of objects whatever the machine's load.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import yaml

from compliance.engine import run_scan
from compliance.targets.kubernetes import KubernetesTarget, wallet_manifests

NAMESPACES = 400


def _platform(folder: Path) -> int:
    """Write the wallet's objects once per namespace; returns the number of documents written."""
    files = sorted(wallet_manifests().glob("*.yaml"))
    docs = [d for p in files for d in yaml.safe_load_all(p.read_text()) if d]
    count = 0
    for i in range(NAMESPACES):
        copies = []
        for doc in docs:
            copy = yaml.safe_load(yaml.safe_dump(doc))
            if copy["kind"] == "Namespace":
                copy["metadata"]["name"] = f"tenant-{i}"
            else:
                copy["metadata"]["namespace"] = f"tenant-{i}"
            copies.append(copy)
        (folder / f"tenant-{i}.yaml").write_text(yaml.safe_dump_all(copies))
        count += len(copies)
    return count


def _timed(path: Path, repeats: int) -> tuple[float, int, int]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        scan = run_scan([KubernetesTarget(manifests=[path])])
        times.append(time.perf_counter() - started)
    return statistics.median(times), len(scan.evidence), len(scan.findings)


def run() -> None:
    small, small_records, small_findings = _timed(wallet_manifests(), 5)
    with tempfile.TemporaryDirectory() as tmp:
        objects = _platform(Path(tmp))
        large, records, findings = _timed(Path(tmp), 1)
    per_small = small / max(small_records, 1)
    per_large = large / max(records, 1)
    print(f"wallet manifests: {small_records} records, {small_findings} findings in {small:.2f} s",
          flush=True)
    print(f"platform, {objects} objects in {NAMESPACES} namespaces: {records} records, {findings} findings "
          f"in {large:.2f} s; time per record x{per_large / per_small:.2f} of the small scan", flush=True)
