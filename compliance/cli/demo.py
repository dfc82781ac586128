"""`comply demo`: scan a reference payments deployment in an emulated AWS account, end to end, together
with the wallet's own Kubernetes manifests (which must pass), into one scan and one report."""

from __future__ import annotations

import datetime as dt
import os
import time
from dataclasses import replace
from pathlib import Path
from unittest import mock

import typer
from rich.console import Console

from compliance.cli.scan import OUT, Output, claim, finish, prepare_output
from compliance.demo import CLEAN, DEMO_CREDENTIALS, PLANTED, REGION, moto_server, provision
from compliance.engine import run_scan
from compliance.findings import Finding, Status
from compliance.scan import Scan
from compliance.targets.aws import AwsTarget
from compliance.targets.kubernetes import KubernetesTarget, wallet_manifests


def planted_report(scan: Scan) -> tuple[list[str], list[str]]:
    """The planted gaps that were missed, and the failures raised on resources built correctly."""
    failures = [f for f in scan.findings if f.status is Status.FAIL]

    def names(finding: Finding, fragment: str) -> bool:
        return fragment in finding.resource_id or fragment in finding.reason

    missed = [f"{p.check_id} on *{p.resource_contains}*" for p in PLANTED
              if not any(f.check_id == p.check_id and names(f, p.resource_contains) for f in failures)]
    wrong = [f"{f.check_id} on {f.resource_id}" for f in failures if any(names(f, c) for c in CLEAN)]
    return missed, wrong


def demo_waivers(path: Path, today: dt.date) -> Path:
    """One waiver that holds and one that has lapsed, so the demo shows both in its results."""
    path.write_text(f"""\
waivers:
  - check_id: aws.s3.bucket_encrypted
    resource: "arn:aws:s3:::scratch-uploads"
    justification: holds only public marketing images; no cardholder data may be written there
    approver: Demo CISO
    expires: {today + dt.timedelta(days=20)}
    compensating_control: bucket policy denies uploads from CDE roles; Macie scans it weekly
  - check_id: aws.ecr.scan_on_push
    resource: "*legacy-worker"
    justification: repository retired at the end of the last quarter
    approver: Demo CISO
    expires: {today - dt.timedelta(days=10)}
""", "utf-8")
    return path


def run_demo(output: Output, console: Console) -> int:
    started = time.monotonic()
    if output.waivers_path is None:
        output = replace(output, waivers_path=demo_waivers(output.out_dir / "waivers.yaml", dt.date.today()))
    with mock.patch.dict(os.environ, DEMO_CREDENTIALS), moto_server() as endpoint:
        console.print(f"moto server on {endpoint}; provisioning the reference payments deployment ...")
        provision(endpoint)
        console.print(f"and the wallet's Kubernetes manifests in {wallet_manifests()} ...")
        scan = run_scan([AwsTarget(regions=[REGION], endpoint_url=endpoint),
                         KubernetesTarget(manifests=[wallet_manifests()])])
        scan.scope["label"] = "comply demo: emulated AWS account"
        finish(scan, output, console)
    missed, wrong = planted_report(scan)
    console.print(f"demo finished in {time.monotonic() - started:.1f} s: "
                  f"{len(PLANTED) - len(missed)} of {len(PLANTED)} planted gaps reported, "
                  f"{len(wrong)} false failures on correctly built resources.")
    for line in missed:
        console.print(f"missed: {line}", style="red", markup=False)
    for line in wrong:
        console.print(f"false failure: {line}", style="red", markup=False)
    return 1 if missed or wrong else 0


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        out: Path = OUT,
        format: str = typer.Option("all", "--format", help="Report formats to write."),
        db: str | None = typer.Option(None, "--db", help="Store URL (default: comply.db in --out)."),
    ) -> None:
        """Start moto's server, provision a payments deployment with deliberate gaps, and scan it."""
        output = prepare_output(out, format, "low", db or f"sqlite:///{out.resolve() / 'comply.db'}",
                                None, None, None, "Demo Payments Ltd")
        output = replace(output, waivers_path=None, waivers=())
        claim(output)
        try:
            code = run_demo(output, Console())
        finally:
            if output.folder is not None:
                output.folder.release()
        raise typer.Exit(code)
