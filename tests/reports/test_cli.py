"""`comply report`, `comply evidence verify`, `comply scans list|show` and `comply diff` end to end."""

from __future__ import annotations

import json
import zipfile

import pytest
from typer.testing import CliRunner

from compliance import keys
from compliance.cli import app
from compliance.findings import Status
from compliance.store import Store
from tests.reports.conftest import BUCKET, add_attestation, make_scan

runner = CliRunner()


@pytest.fixture
def db(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    store = Store(url)
    add_attestation(store)
    old = make_scan("old00001")
    new = make_scan("new00002", bucket_status=Status.PASS)
    new.started_at = "2026-02-10T09:00:00.000+00:00"
    new.findings.append(
        old.findings[0].__class__(
            "aws.iam.mfa",
            "arn:aws:iam::123456789012:user/bob",
            Status.FAIL,
            "no MFA",
            old.findings[0].severity,
        )
    )
    store.save_scan(old)
    store.save_scan(new)
    return url


def invoke(*args: str):
    return runner.invoke(app, list(args))


def test_report_then_verify(tmp_path, db):
    out = tmp_path / "out"
    result = invoke(
        "report",
        "old00001",
        "--format",
        "html,pdf,ocsf,csv",
        "--out",
        str(out),
        "--db",
        db,
        "--organisation",
        "Acme Pay",
    )
    assert result.exit_code == 0, result.output
    for name in ("report.html", "report.pdf", "findings.ocsf.json", "findings.csv", "evidence.zip"):
        assert f"wrote {out / name}" in result.output
    with zipfile.ZipFile(out / "evidence.zip") as zf:
        assert {"report.html", "report.pdf", "attestations/att00001/minutes.pdf"} <= set(zf.namelist())
    fingerprint = keys.fingerprint(keys.signer().public_key())
    unpinned = invoke("evidence", "verify", str(out / "evidence.zip"))
    assert unpinned.exit_code == 3, unpinned.output
    assert f"intact, signed by key {fingerprint}; pin it with --fingerprint" in unpinned.output
    ok = invoke("evidence", "verify", str(out / "evidence.zip"), "--fingerprint", keys.grouped(fingerprint))
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith(f"OK: {out / 'evidence.zip'}: scan old00001")
    assert f"signed by the pinned key {fingerprint}" in ok.output
    shown = invoke("evidence", "key", "--public-out", str(tmp_path / "mine.pub"))
    assert (
        shown.exit_code == 0 and f"fingerprint (SHA-256 of the DER public key): {fingerprint}" in shown.output
    )
    by_file = invoke(
        "evidence", "verify", str(out / "evidence.zip"), "--public-key", str(tmp_path / "mine.pub")
    )
    assert by_file.exit_code == 0, by_file.output

    data = bytearray((out / "evidence.zip").read_bytes())
    offset = data.index(b"<!DOCTYPE html>")
    data[offset + 2] ^= 0x20
    (out / "evidence.zip").write_bytes(bytes(data))
    bad = invoke("evidence", "verify", str(out / "evidence.zip"), "--fingerprint", fingerprint)
    assert bad.exit_code == 1
    assert invoke("evidence", "verify", str(out / "evidence.zip")).exit_code == 1
    assert "report.html: altered" in bad.output


def test_verify_not_a_pack(tmp_path):
    junk = tmp_path / "junk.zip"
    junk.write_text("hello")
    result = invoke("evidence", "verify", str(junk), "--public-key", str(tmp_path / "none.pub"))
    assert result.exit_code == 2
    assert result.output.startswith("comply: error: cannot read public key")


def test_report_unknown_scan_and_format(tmp_path, db):
    missing = invoke("report", "nope", "--db", db, "--out", str(tmp_path))
    assert missing.exit_code == 2 and "no scan 'nope'" in missing.output
    bad = invoke("report", "old00001", "--db", db, "--format", "docx", "--out", str(tmp_path))
    assert bad.exit_code == 2 and "unknown report format 'docx'" in bad.output
    assert "Traceback" not in bad.output


def test_report_latest_and_unwritable_out(tmp_path, db):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = invoke("report", "latest", "--db", db, "--format", "ocsf", "--out", str(blocker / "sub"))
    assert result.exit_code == 2 and "cannot create --out" in result.output
    fine = invoke("report", "latest", "--db", db, "--format", "ocsf", "--out", str(tmp_path / "o"))
    events = json.loads((tmp_path / "o" / "findings.ocsf.json").read_text())
    assert fine.exit_code == 0 and events[0]["unmapped"]["scan_id"] == "new00002"


def test_scans_list_and_show(db, tmp_path):
    listed = invoke("scans", "list", "--db", db, "--format", "json")
    assert listed.exit_code == 0
    assert [s["id"] for s in json.loads(listed.output)] == ["new00002", "old00001"]
    table = invoke("scans", "list", "--db", db)
    assert "old00001" in table.output and "new00002" in table.output
    empty = invoke("scans", "list", "--db", f"sqlite:///{tmp_path / 'empty.db'}")
    assert empty.exit_code == 0 and "no scans in" in empty.output
    shown = invoke("scans", "show", "old00001", "--db", db, "--format", "json")
    summary = json.loads(shown.output)
    assert summary["findings"] == {"PASS": 1, "FAIL": 2, "ERROR": 1, "MANUAL": 1}
    assert summary["unwaived_failures"] == 1
    assert summary["requirement_results"]["pci-dss-4.0.1"]["Not in Place"] == 1
    text = invoke("scans", "show", "latest", "--db", db)
    assert text.exit_code == 0 and text.output.startswith("scan new00002 (aws)")
    assert "run by: arn:aws:iam::123456789012:user/auditor" in text.output
    bad = invoke("scans", "show", "old00001", "--db", db, "--format", "yaml")
    assert bad.exit_code == 2 and "unknown output format 'yaml'" in bad.output
    none = invoke("scans", "show", "latest", "--db", f"sqlite:///{tmp_path / 'empty.db'}")
    assert none.exit_code == 2 and "no scans in" in none.output


def test_diff_classifies_every_failing_finding(db):
    result = invoke("diff", "old00001", "new00002", "--db", db, "--format", "json")
    assert result.exit_code == 0, result.output
    diff = json.loads(result.output)
    assert [f["resource_id"] for f in diff["new"]] == ["arn:aws:iam::123456789012:user/bob"]
    assert [f["resource_id"] for f in diff["fixed"]] == [BUCKET]
    assert [f["resource_id"] for f in diff["waived"]] == ["arn:aws:s3:::public-site"]
    assert diff["still_failing"] == diff["gone"] == [] and diff["scope_changed"] is False
    assert set(diff["new"][0]) >= {"check_id", "resource_id", "severity"}
    same = json.loads(invoke("diff", "old00001", "old00001", "--db", db, "--format", "json").output)
    assert len(same["still_failing"]) == 1 and same["new"] == same["fixed"] == []
    text = invoke("diff", "old00001", "latest", "--db", db)
    assert text.output.splitlines()[0] == (
        "diff old00001 -> new00002: 1 new, 1 fixed, 1 waived, 0 gone, 0 still failing, 0 not assessed"
    )
    assert "[High] aws.iam.mfa arn:aws:iam::123456789012:user/bob: no MFA" in text.output
