"""`comply demo` end to end: the emulated account, the wallet's manifests and the real wallet on loopback
in one scan; every planted gap reported, and the wallet failing only what a loopback demo must."""

from __future__ import annotations

import requests
from typer.testing import CliRunner

from compliance.cli import app
from compliance.demo import moto_server
from compliance.findings import Status
from compliance.store import Store


def test_demo_scans_the_wallet_over_tls_with_the_account(tmp_path):
    with moto_server() as endpoint:  # moto keeps one state per process: start from an empty account
        requests.post(f"{endpoint}/moto-api/reset", timeout=10)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["demo", "--out", str(out), "--format", "ocsf"])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())  # rich wraps at the terminal's width
    assert "0 failures of the wallet itself" in said
    assert "inherent to a loopback demo (waived): web.tls.certificate_trusted" in said
    store = Store(f"sqlite:///{out.resolve() / 'comply.db'}")
    scan = store.load_scan(store.latest_scan_id())
    assert set(scan.target.split("+")) == {"aws", "kubernetes", "web"}
    web_failures = [f for f in scan.findings if f.check_id.startswith("web.") and f.status is Status.FAIL]
    assert [(f.check_id, f.suppressed_by is not None) for f in web_failures] == [
        ("web.tls.certificate_trusted", True)]
    # the demo writes a Statement of Applicability from an init'ed decisions file
    assert {"soa-decisions.yaml", "soa.csv", "soa.html", "soa.pdf"} <= {p.name for p in out.iterdir()}
    rows = (out / "soa.csv").read_text(encoding="utf-8-sig").splitlines()
    assert len(rows) == 1 + 93 and rows[1].startswith("A.5.1,")
    assert (out / "soa.pdf").read_bytes().startswith(b"%PDF")
