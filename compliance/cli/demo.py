"""`comply demo`: scan a reference payments deployment in an emulated AWS account, end to end, together
with the wallet's own Kubernetes manifests (which must pass) and the real wallet served over TLS on
loopback (which must pass but for its self-signed certificate), into one scan and one report."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from unittest import mock
from urllib.parse import urlsplit

import typer
from rich.console import Console

from compliance.cli.scan import OUT, Output, claim, finish, prepare_output
from compliance.demo import CLEAN, DEMO_CREDENTIALS, PLANTED, REGION, moto_server, provision
from compliance.demo_wallet import served_wallet
from compliance.engine import run_scan
from compliance.findings import Finding, Status
from compliance.scan import Scan
from compliance.targets.aws import AwsTarget
from compliance.targets.kubernetes import KubernetesTarget, wallet_manifests
from compliance.targets.web import WebTarget

LOOPBACK_INHERENT = {"web.tls.certificate_trusted": "self-signed certificate made at start-up"}
"""Web failures a wallet served on loopback for a demo cannot avoid, and why."""


def web_report(scan: Scan) -> tuple[list[str], list[str]]:
    """The web failures inherent to a loopback demo, and any other (a real flaw of the wallet)."""
    failures = [f for f in scan.findings if f.status is Status.FAIL and f.check_id.startswith("web.")]
    inherent = [f"{f.check_id} on {f.resource_id} ({LOOPBACK_INHERENT[f.check_id]})" for f in failures
                if f.check_id in LOOPBACK_INHERENT]
    other = [f"{f.check_id} on {f.resource_id}: {f.reason}" for f in failures
             if f.check_id not in LOOPBACK_INHERENT]
    return inherent, other


def planted_report(scan: Scan) -> tuple[list[str], list[str]]:
    """The planted gaps that were missed, and the failures raised on resources built correctly."""
    failures = [f for f in scan.findings if f.status is Status.FAIL]

    def names(finding: Finding, fragment: str) -> bool:
        return fragment in finding.resource_id or fragment in finding.reason

    missed = [f"{p.check_id} on *{p.resource_contains}*" for p in PLANTED
              if not any(f.check_id == p.check_id and names(f, p.resource_contains) for f in failures)]
    wrong = [f"{f.check_id} on {f.resource_id}" for f in failures if any(names(f, c) for c in CLEAN)]
    return missed, wrong


def demo_waivers(path: Path, today: dt.date, wallet_url: str) -> Path:
    """One waiver that holds and one that has lapsed, so the demo shows both in its results."""
    path.write_text(f"""\
waivers:
  - check_id: aws.s3.bucket_encrypted
    resource: "arn:aws:s3:::scratch-uploads"
    justification: holds only public marketing images; no cardholder data may be written there
    approver: Demo CISO
    approved: {today - dt.timedelta(days=40)}
    expires: {today + dt.timedelta(days=20)}
    compensating_control: bucket policy denies uploads from CDE roles; Macie scans it weekly
  - check_id: aws.ecr.scan_on_push
    resource: "*legacy-worker"
    justification: repository retired at the end of the last quarter
    approver: Demo CISO
    approved: {today - dt.timedelta(days=100)}
    expires: {today - dt.timedelta(days=10)}
  - check_id: web.tls.certificate_trusted
    resource: "{wallet_url}"
    justification: inherent to the loopback demo, whose wallet makes a self-signed certificate at start-up
    approver: Demo CISO
    approved: {today}
    expires: {today + dt.timedelta(days=1)}
    compensating_control: the scan pins that certificate with --ca-file; production serves a CA-issued one
""", "utf-8")
    return path


def write_soa(scan: Scan, out_dir: Path) -> list[Path]:
    """The demo's Statement of Applicability: a decisions file as `comply soa init` writes it (every Annex A
    control applicable, approval left to fill in) and soa.csv, soa.html and soa.pdf from it and the scan."""
    from compliance.soa import DEFAULT_FILE, build_soa, init_text, load_decisions
    from reports.soa import render_soa
    from reports.workpapers import evidence_index

    decisions = out_dir / DEFAULT_FILE
    decisions.write_text(init_text(), encoding="utf-8")
    chosen = load_decisions(decisions)
    rows = build_soa(scan, chosen, {e.record.id: e.ref for e in evidence_index(scan)})
    written = [decisions]
    for name, data in render_soa(rows, chosen, scan, None).items():
        (out_dir / name).write_bytes(data)
        written.append(out_dir / name)
    return written


def run_demo(output: Output, console: Console) -> int:
    started = time.monotonic()
    own_waivers = output.waivers_path is None
    with mock.patch.dict(os.environ, DEMO_CREDENTIALS), moto_server() as endpoint, \
            tempfile.TemporaryDirectory(prefix="comply-demo-wallet-") as home:
        console.print(f"moto server on {endpoint}; provisioning the reference payments deployment ...")
        provision(endpoint)
        console.print(f"and the wallet's Kubernetes manifests in {wallet_manifests()} ...")
        with served_wallet(Path(home)) as wallet:
            console.print(f"and the real wallet over TLS at {wallet.url} with two demo tenants ...")
            if own_waivers:  # the wallet's certificate waiver names its origin exactly, known only now
                parts = urlsplit(wallet.url)
                waivers = demo_waivers(output.out_dir / "waivers.yaml", dt.date.today(),
                                       f"{parts.scheme}://{parts.netloc}")
                output = replace(output, waivers_path=waivers)
            scan = run_scan([AwsTarget(regions=[REGION], endpoint_url=endpoint),
                             KubernetesTarget(manifests=[wallet_manifests()]),
                             WebTarget(url=wallet.url, ca_file=wallet.cert, credentials=wallet.credentials)])
        scan.scope["label"] = "comply demo: emulated AWS account, wallet manifests, wallet on loopback"
        finish(scan, output, console)
    if output.out_dir is not None:
        for path in write_soa(scan, output.out_dir):
            console.print(f"wrote {path}", markup=False)
    missed, wrong = planted_report(scan)
    inherent, flaws = web_report(scan)
    console.print(f"demo finished in {time.monotonic() - started:.1f} s: "
                  f"{len(PLANTED) - len(missed)} of {len(PLANTED)} planted gaps reported, "
                  f"{len(wrong)} false failures on correctly built resources.")
    for line in missed:
        console.print(f"missed: {line}", style="red", markup=False)
    for line in wrong:
        console.print(f"false failure: {line}", style="red", markup=False)
    web = [f for f in scan.findings if f.check_id.startswith("web.")]
    console.print(f"the wallet on loopback: {sum(f.status is Status.PASS for f in web)} of {len(web)} web "
                  f"findings passed; {len(flaws)} failures of the wallet itself.")
    for line in inherent:
        console.print(f"inherent to a loopback demo (waived): {line}", markup=False)
    for line in flaws:
        console.print(f"wallet flaw: {line}", style="red", markup=False)
    return 1 if missed or wrong or flaws else 0


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        out: Path = OUT,
        format: str = typer.Option("all", "--format", help="Report formats to write."),
        db: str | None = typer.Option(None, "--db", help="Store URL (default: comply.db in --out)."),
    ) -> None:
        """Start moto's server with a payments deployment with deliberate gaps and the real wallet over TLS
        on loopback, and scan both (with the wallet's Kubernetes manifests) into one report."""
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
