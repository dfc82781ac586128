"""Render the reports of a stored scan with 10,000 findings over 2,000 resources.

Each step runs in a fresh process so that its peak resident memory (ru_maxrss, the whole process,
interpreter included) is its own. Goal: the PDF under 10 s and under 500 MB on a 2-core machine. The PDF
holds the whole population (every finding, passing and failing) and the whole evidence index.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import tempfile
import time
from pathlib import Path

from compliance.collect.record import EvidenceRecord, Outcome
from compliance.findings import Finding, Severity, Status
from compliance.frameworks import all_frameworks
from compliance.scan import RequirementResult, RocResult, Scan
from compliance.store import Store

FINDINGS = 10_000
RESOURCES = 2_000
STEPS = ("ocsf", "csv", "sarif", "junit", "html", "pdf", "evidence")


def big_scan() -> Scan:
    checks = [f"aws.bench.check_{i:02}" for i in range(FINDINGS // RESOURCES * 10)]
    evidence = [
        EvidenceRecord(
            "aws",
            "s3",
            "get_bucket_policy",
            "eu-west-1",
            {"Bucket": f"b{i}"},
            "2026-01-10T09:00:01.000+00:00",
            Outcome.OK,
            {"Policy": "{}" * 20},
            request_id=f"REQ-{i}",
        )
        for i in range(RESOURCES)
    ]
    statuses = (Status.PASS, Status.PASS, Status.FAIL, Status.PASS, Status.ERROR)
    findings = []
    for n in range(FINDINGS):
        r = n % RESOURCES
        check = checks[n // RESOURCES * 10 + r % 10]
        findings.append(
            Finding(
                check,
                f"arn:aws:s3:::bucket-{r:05}",
                statuses[n % 5],
                f"resource {r} reason for {check}",
                Severity(1 + n % 5),
                "AwsS3Bucket",
                "eu-west-1",
                (evidence[r].id,),
            )
        )
    results = []
    for fw in all_frameworks():
        for i, req in enumerate(fw.requirements):
            mapped = (checks[i % len(checks)],) if i % 3 == 0 else ()
            roc = (
                RocResult.NOT_IN_PLACE
                if mapped
                else (RocResult.NOT_TESTED, RocResult.NOT_APPLICABLE, RocResult.IN_PLACE)[i % 3]
            )
            results.append(RequirementResult(fw.id, req.id, roc, "bench", mapped))
    return Scan(
        target="aws",
        scope={"account_id": "123456789012", "regions": ["eu-west-1"]},
        identity={"Arn": "arn:aws:iam::123456789012:user/bench"},
        id="bench0001",
        started_at="2026-01-10T09:00:00.000+00:00",
        finished_at="2026-01-10T09:01:00.000+00:00",
        evidence=evidence,
        findings=findings,
        requirement_results=results,
    )


def _step(url: str, fmt: str, out: str, queue: multiprocessing.Queue) -> None:
    """One format from the stored scan; html and pdf alone, without the evidence pack they imply."""
    from reports import FILE_NAMES, write_reports
    from reports.html import render_html
    from reports.pdf import render_pdf
    from reports.view import ScanView

    scan = Store(url).load_scan("bench0001")
    start, cpu_start = time.perf_counter(), time.process_time()
    if fmt in ("html", "pdf"):
        data = render_html(ScanView(scan)).encode() if fmt == "html" else render_pdf(ScanView(scan))
        path = Path(out) / FILE_NAMES[fmt]
        path.write_bytes(data)
        paths = [path]
    else:
        paths = write_reports(scan, [fmt], Path(out) / fmt)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    size = sum(p.stat().st_size for p in paths)
    queue.put((elapsed, cpu, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, size))


def run() -> None:
    spawn = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["COMPLY_CONFIG_DIR"] = str(Path(tmp) / "config")
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        start = time.perf_counter()
        Store(url).save_scan(big_scan())
        print(
            f"reports: stored a scan of {FINDINGS} findings over {RESOURCES} resources "
            f"in {time.perf_counter() - start:.1f} s"
        )
        for fmt in STEPS:
            queue = spawn.Queue()
            proc = spawn.Process(target=_step, args=(url, fmt, tmp, queue))
            proc.start()
            elapsed, cpu, peak_mb, size = queue.get()
            proc.join()
            goal = "  (goal: under 10 s and 500 MB)" if fmt == "pdf" else ""
            print(f"reports: {fmt:9} {elapsed:6.2f} s wall {cpu:6.2f} s CPU  peak RSS {peak_mb:6.0f} MB  "
                  f"output {size / 1e6:6.2f} MB{goal}")
        print(f"reports: load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs "
              "(wall times on a shared machine are longer than on an idle one)")


if __name__ == "__main__":
    run()
