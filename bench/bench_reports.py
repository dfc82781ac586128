"""Render the reports of a stored scan with 10,000 findings over 2,000 resources.

Each step runs in a fresh process so that its peak resident memory (ru_maxrss, the whole process,
interpreter included) is its own. Goal: the PDF under 10 s and under 500 MB on a 2-core machine. The PDF
holds the whole population (every finding, passing and failing) and the whole evidence index.

The PDF is timed against a reference measured in the same run, in turn with it (reference, 10k,
reference, ...): the PDF of a demo-size scan (50 findings over 10 resources, the same catalogs). Most of
the demo-size PDF's time is the catalog's workpapers, so the ratio says what the 10,000 findings add,
whatever the load of the shared machine; the absolute times are printed beside it.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import statistics
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
DEMO_SIZE = (50, 10)
"""Findings and resources of the reference PDF."""
PDF_ROUNDS = 3


def big_scan(findings: int = FINDINGS, resources: int = RESOURCES, scan_id: str = "bench0001") -> Scan:
    checks = [f"aws.bench.check_{i:02}" for i in range(50)]
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
        for i in range(resources)
    ]
    statuses = (Status.PASS, Status.PASS, Status.FAIL, Status.PASS, Status.ERROR)
    out = []
    for n in range(findings):
        r = n % resources
        check = checks[(n // resources * 10 + r % 10) % len(checks)]
        out.append(
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
        id=scan_id,
        started_at="2026-01-10T09:00:00.000+00:00",
        finished_at="2026-01-10T09:01:00.000+00:00",
        evidence=evidence,
        findings=out,
        requirement_results=results,
    )


def _step(url: str, fmt: str, out: str, queue: multiprocessing.Queue, scan_id: str = "bench0001") -> None:
    """One format from the stored scan; html and pdf alone, without the evidence pack they imply."""
    from reports import FILE_NAMES, write_reports
    from reports.html import render_html
    from reports.pdf import render_pdf
    from reports.view import ScanView

    scan = Store(url).load_scan(scan_id)
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


def _in_process(url: str, fmt: str, out: str, scan_id: str = "bench0001") -> tuple[float, float, float, int]:
    queue = multiprocessing.get_context("spawn").Queue()
    proc = multiprocessing.get_context("spawn").Process(target=_step, args=(url, fmt, out, queue, scan_id))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def _pdf_against_reference(url: str, out: str) -> None:
    """PDF_ROUNDS pairs, reference then 10k, each in a fresh process; medians and the median ratio."""
    big, ref = [], []
    for _ in range(PDF_ROUNDS):
        ref.append(_in_process(url, "pdf", out, "benchdemo"))
        big.append(_in_process(url, "pdf", out))
    ratio = statistics.median(b[0] / r[0] for b, r in zip(big, ref, strict=True))
    cpu_ratio = statistics.median(b[1] / r[1] for b, r in zip(big, ref, strict=True))
    wall, cpu = statistics.median(b[0] for b in big), statistics.median(b[1] for b in big)
    ref_wall, ref_cpu = statistics.median(r[0] for r in ref), statistics.median(r[1] for r in ref)
    peak = max(b[2] for b in big)
    print(f"reports: pdf       {wall:6.2f} s wall {cpu:6.2f} s CPU  peak RSS {peak:6.0f} MB  "
          f"output {big[0][3] / 1e6:6.2f} MB  (median of {PDF_ROUNDS}; goal: under 10 s and 500 MB)")
    print(f"reports: pdf of a demo-size scan ({DEMO_SIZE[0]} findings, the reference) {ref_wall:.2f} s wall "
          f"{ref_cpu:.2f} s CPU, peak RSS {max(r[2] for r in ref):.0f} MB; 10k / reference: "
          f"x{ratio:.2f} wall, x{cpu_ratio:.2f} CPU (median of the {PDF_ROUNDS} pairs)")


def run() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["COMPLY_CONFIG_DIR"] = str(Path(tmp) / "config")
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        start = time.perf_counter()
        Store(url).save_scan(big_scan())
        Store(url).save_scan(big_scan(*DEMO_SIZE, scan_id="benchdemo"))
        print(
            f"reports: stored a scan of {FINDINGS} findings over {RESOURCES} resources "
            f"in {time.perf_counter() - start:.1f} s"
        )
        for fmt in STEPS:
            if fmt == "pdf":
                _pdf_against_reference(url, tmp)
                continue
            elapsed, cpu, peak_mb, size = _in_process(url, fmt, tmp)
            print(f"reports: {fmt:9} {elapsed:6.2f} s wall {cpu:6.2f} s CPU  peak RSS {peak_mb:6.0f} MB  "
                  f"output {size / 1e6:6.2f} MB")
        print(f"reports: load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs "
              "(wall times on a shared machine are longer than on an idle one)")


if __name__ == "__main__":
    run()
