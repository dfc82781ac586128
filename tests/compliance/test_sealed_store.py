"""A sealed store: rows edited after saving are refused, on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text
from typer.testing import CliRunner

from compliance import keys, seal
from compliance.attestations import add_attestation, list_attestations
from compliance.cli import app
from compliance.decisions import add_decision, add_review, list_decisions, list_reviews
from compliance.errors import IntegrityError, UsageError
from compliance.store import SealRow, Store, scan_parts
from tests.postgres import postgres_server, postgres_url  # noqa: F401 - fixtures
from tests.reports.conftest import make_scan

runner = CliRunner()


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path) -> Store:
    if request.param == "sqlite":
        return Store(f"sqlite:///{tmp_path / 'sealed.db'}")
    return Store(request.getfixturevalue("postgres_url"))


def _edit(store: Store, sql: str) -> None:
    with store.engine.begin() as conn:
        assert conn.execute(text(sql)).rowcount >= 1


def test_an_untouched_scan_loads(store):
    scan = make_scan("seal0001")
    store.save_scan(scan)
    assert store.load_scan("seal0001").id == "seal0001"


@pytest.mark.parametrize(
    ("sql", "part"),
    [
        ("UPDATE findings SET status = 'PASS' WHERE status = 'FAIL' AND suppressed_by IS NULL", "findings"),
        ("UPDATE findings SET suppressed_by = NULL WHERE suppressed_by IS NOT NULL", "findings"),
        (
            "UPDATE requirement_results SET result = 'In Place' WHERE requirement_id = '3.5.1'",
            "requirement results",
        ),
        (
            "UPDATE requirement_results SET basis = 'assessed' WHERE requirement_id = '8.3.6'",
            "requirement results",
        ),
        (
            "DELETE FROM evidence_records WHERE scan_id = 'seal0001' AND body LIKE '%AccessDenied%'",
            "evidence records",
        ),
        ('UPDATE scans SET scope = \'{"account_id": "999999999999"}\'', "scope"),
        ('UPDATE scan_waivers SET body = \'{"check_id": "x"}\' WHERE position = 0', "rows no longer parse"),
        ("UPDATE findings SET status = 'OK' WHERE status = 'FAIL'", "rows no longer parse"),
    ],
)
def test_an_edited_row_is_refused_naming_the_scan_and_the_part(store, sql, part):
    store.save_scan(make_scan("seal0001"))
    if "LIKE" in sql and store.url.startswith("postgresql"):
        sql = sql.replace("body LIKE", "body::text LIKE")
    _edit(store, sql)
    with pytest.raises(IntegrityError, match=rf"scan seal0001 in .* fails its seal: its {part}"):
        store.load_scan("seal0001")


def test_a_store_resealed_with_another_key_is_refused(store):
    scan = make_scan("seal0001")
    store.save_scan(scan)
    _edit(store, "UPDATE findings SET status = 'PASS' WHERE status = 'FAIL' AND suppressed_by IS NULL")
    forged = store.load_scan("seal0001", verify=False)
    intruder = keys.FileSigner(Ed25519PrivateKey.generate(), "intruder")
    with store.session() as db, db.begin():
        db.merge(
            SealRow(
                kind="scan",
                record_id="seal0001",
                body=seal.make_seal("scan", "seal0001", scan_parts(forged), intruder),
            )
        )
    with pytest.raises(IntegrityError, match="not by the configured signing key"):
        store.load_scan("seal0001")
    with store.session() as db, db.begin():
        db.execute(SealRow.__table__.delete())
    with pytest.raises(IntegrityError, match="it has no seal"):
        store.load_scan("seal0001")


def test_cli_refuses_an_edited_store_with_exit_1(store, tmp_path):
    store.save_scan(make_scan("seal0001"))
    other = make_scan("seal0002")
    store.save_scan(other)
    _edit(store, "UPDATE findings SET reason = 'fine' WHERE scan_id = 'seal0001'")
    for args in (
        ["report", "seal0001", "--format", "html", "--out", str(tmp_path / "r")],
        ["scans", "show", "seal0001"],
        ["diff", "seal0001", "seal0002"],
        ["report", "seal0001", "--format", "evidence", "--out", str(tmp_path / "e")],
    ):
        result = runner.invoke(app, [*args, "--db", store.url])
        assert result.exit_code == 1, (args, result.output)
        assert "scan seal0001" in result.output and "its findings no longer match the seal" in result.output
        assert "Traceback" not in result.output
    assert not (tmp_path / "e" / "evidence.zip").exists()
    fine = runner.invoke(app, ["scans", "show", "seal0002", "--db", store.url])
    assert fine.exit_code == 0, fine.output


def test_records_are_sealed_when_recorded(store, tmp_path):
    proof = tmp_path / "minutes.pdf"
    proof.write_bytes(b"%PDF minutes")
    now = dt.datetime.now(dt.UTC)
    att = add_attestation(
        store, "pci-dss-4.0.1", "12.1.1", [proof], "CISO", "reviewed", now + dt.timedelta(days=30)
    )
    decision = add_decision(store, "pci-dss-4.0.1", "1.3.3", "no wireless networks", "Risk board")
    scan = make_scan("seal0001")
    store.save_scan(scan)
    review = add_review(store, scan, "pci-dss-4.0.1", "12.1.1", "in-place", "Q. Assessor", "saw minutes")
    assert [a.id for a in list_attestations(store)] == [att.id]
    assert [d.id for d in list_decisions(store)] == [decision.id]
    assert [r.id for r in list_reviews(store, "seal0001")] == [review.id]

    _edit(store, "UPDATE attestations SET attested_by = 'Someone else'")
    with pytest.raises(IntegrityError, match=f"attestation {att.id} .* fails its seal"):
        list_attestations(store)
    _edit(store, "UPDATE attestation_files SET content = 'forged'")
    _edit(store, "UPDATE scoping_decisions SET expires_at = '2099-01-01T00:00:00+00:00'")
    with pytest.raises(
        IntegrityError, match=f"scoping decision {decision.id} .* its decision no longer match"
    ):
        list_decisions(store)
    _edit(store, "UPDATE reviews SET result = 'Not Applicable'")
    with pytest.raises(IntegrityError, match=f"review {review.id} .* fails its seal"):
        list_reviews(store, "seal0001")


def test_the_signing_key_is_never_silently_regenerated(tmp_path, config_dir=None):
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    store.save_scan(make_scan("seal0001"))
    keys.default_key_path().unlink()
    with pytest.raises(UsageError, match="comply will not silently make a new one"):
        keys.signer()
    with pytest.raises(UsageError, match="comply will not silently make a new one"):
        store.save_scan(make_scan("seal0002"))
    assert store.load_scan("seal0001").id == "seal0001"  # verified against the public half still there
    (keys.config_dir() / keys.PUBLIC_NAME).unlink()
    with pytest.raises(UsageError, match="no signing key to verify"):
        store.load_scan("seal0001")
