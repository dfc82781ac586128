"""Who concluded what: an attestation waits for an assessor; reviews and scoping decisions conclude."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from typer.testing import CliRunner

from compliance import keys
from compliance.assess import assess_scan
from compliance.cli import app
from compliance.decisions import Review, apply_reviews, signature_holds
from compliance.scan import Basis, RequirementResult, RocResult, Scan
from compliance.store import Store

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'fresh.db'}"


def _scan(db: str, scan_id: str, frameworks: tuple[str, ...] = ("pci-dss-4.0.1",)) -> Scan:
    store = Store(db)
    scan = Scan(
        target="aws",
        scope={"account_id": "111122223333", "regions": ["eu-west-3"]},
        id=scan_id,
        options={"checks": []},
    )
    assess_scan(scan, store, list(frameworks), [], dt.date.today())
    store.save_scan(scan)
    return scan


def _results(db: str, scan_id: str, tmp_path: Path) -> dict[str, dict]:
    out = tmp_path / f"out-{scan_id}"
    done = invoke("report", scan_id, "--db", db, "--format", "evidence", "--out", str(out))
    assert done.exit_code == 0, done.output
    import zipfile

    with zipfile.ZipFile(out / "evidence.zip") as zf:
        rows = json.loads(zf.read("requirement-results.json"))["requirement_results"]
    return {r["requirement_id"]: r for r in rows if r["framework"] == "pci-dss-4.0.1"}


def test_attestation_alone_waits_for_review_and_only_a_review_concludes(db, tmp_path):
    proof = tmp_path / "ir-plan.pdf"
    proof.write_bytes(b"%PDF incident response plan v3")
    attested = invoke(
        "attest",
        "12.10.2",
        "--db",
        db,
        "-e",
        str(proof),
        "--by",
        "Jane Roe (CISO)",
        "--note",
        "IR plan approved",
    )
    assert attested.exit_code == 0, attested.output
    _scan(db, "scan0001")
    before = _results(db, "scan0001", tmp_path)["12.10.2"]
    assert (before["result"], before["basis"]) == ("Not Tested", "attested")
    assert (
        "attested by Jane Roe (CISO) on" in before["detail"]
        and "awaiting assessor review" in before["detail"]
    )
    assert not [r for r in _results(db, "scan0001", tmp_path).values() if r["result"] == "In Place"]

    reviewed = invoke(
        "review",
        "12.10.2",
        "--framework",
        "pci-dss-4.0.1",
        "--result",
        "in-place",
        "--assessor",
        "Q. Assessor (QSA Co)",
        "--note",
        "walked through the plan",
        "--db",
        db,
        "--scan",
        "scan0001",
    )
    assert reviewed.exit_code == 0, reviewed.output
    assert "In Place by Q. Assessor (QSA Co)" in reviewed.output and "unsigned" in reviewed.output
    after = _results(db, "scan0001", tmp_path)["12.10.2"]
    assert (after["result"], after["basis"]) == ("In Place", "assessed")
    assert after["detail"].startswith("assessed by Q. Assessor (QSA Co) on ")
    assert "(before review: Not Tested, attested: attested by Jane Roe" in after["detail"]
    shown = json.loads(invoke("scans", "show", "scan0001", "--db", db, "--format", "json").output)
    assert shown["requirement_results"]["pci-dss-4.0.1"]["In Place"] == 1


def test_a_review_signed_with_the_assessors_key_shows_its_fingerprint(db, tmp_path):
    _scan(db, "scan0001")
    assessor = ec.generate_private_key(ec.SECP256R1())
    key_file = tmp_path / "qsa.pem"
    key_file.write_bytes(
        assessor.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    fp = keys.fingerprint(assessor.public_key())
    done = invoke(
        "review",
        "1.2.1",
        "--result",
        "not-in-place",
        "--assessor",
        "Q",
        "--db",
        db,
        "--signing-key",
        str(key_file),
    )
    assert done.exit_code == 0, done.output
    assert f"signed by key {fp}" in done.output
    row = _results(db, "scan0001", tmp_path)["1.2.1"]
    assert row["result"] == "Not in Place" and f"signed by key {fp}" in row["detail"]


def test_review_bad_input_is_exit_2(db, tmp_path):
    _scan(db, "scan0001")
    cases = [
        (["--result", "compliant"], "--result 'compliant': expected one of in-place"),
        (["--result", "in-place", "--assessor", " "], "needs the assessor's name"),
        (["--result", "in-place", "--scan", "nope"], "no scan 'nope'"),
        (["--result", "in-place", "--framework", "iso27001-2022"], "iso27001-2022 has no requirement"),
    ]
    for extra, message in cases:
        args = ["review", "12.10.2", "--assessor", "Q", "--db", db, *extra]
        result = invoke(*args)
        assert result.exit_code == 2, (extra, result.output)
        assert message in result.output and "Traceback" not in result.output
    missing = invoke("review", "A.5.1", "--result", "in-place", "--assessor", "Q", "--db", db)
    assert missing.exit_code == 2 and "was not assessed against that framework" in missing.output


def test_scoping_decision_is_the_only_path_to_not_applicable(db, tmp_path):
    empty = _scan(db, "scan0001")
    assert not [r for r in empty.requirement_results if r.result is RocResult.NOT_APPLICABLE]
    no_resource = next(r for r in empty.requirement_results if r.requirement_id == "1.3.1")
    assert no_resource.result is RocResult.NOT_TESTED

    decided = invoke(
        "scope",
        "not-applicable",
        "1.3.3",
        "--justification",
        "no wireless networks anywhere",
        "--by",
        "Risk Board",
        "--expires",
        "2099-12-31",
        "--db",
        db,
    )
    assert decided.exit_code == 0, decided.output
    scoped = next(r for r in _scan(db, "scan0002").requirement_results if r.requirement_id == "1.3.3")
    assert (scoped.result, scoped.basis) == (RocResult.NOT_APPLICABLE, Basis.SCOPED)
    assert scoped.detail.startswith("scoped out by Risk Board on ") and "(until 2099-12-31)" in scoped.detail
    listed = json.loads(invoke("scope", "list", "--db", db, "--format", "json").output)
    assert [d["requirement_id"] for d in listed] == ["1.3.3"]
    assert "1.3.3: not applicable, by Risk Board" in invoke("scope", "list", "--db", db).output

    for extra, message in (
        (["--expires", "soon"], "--expires must be a date"),
        (["--expires", "2001-01-01"], "is not in the future"),
        (["--justification", " "], "needs a --justification"),
    ):
        args = ["scope", "not-applicable", "1.3.3", "--justification", "x", "--by", "B", "--db", db, *extra]
        bad = invoke(*args)
        assert bad.exit_code == 2 and message in bad.output, bad.output


def test_apply_reviews_latest_wins_and_signature_checks() -> None:
    base = RequirementResult("pci-dss-4.0.1", "1.2.1", RocResult.NOT_TESTED, "no check")
    first = Review(
        "r1", "s", "pci-dss-4.0.1", "1.2.1", RocResult.NOT_IN_PLACE, "A", "", "2026-01-01T00:00:00"
    )
    second = Review(
        "r2", "s", "pci-dss-4.0.1", "1.2.1", RocResult.IN_PLACE, "B", "fixed", "2026-01-02T00:00:00"
    )
    (result,) = apply_reviews([base], [first, second])
    assert (result.result, result.basis, result.decision_ids) == (RocResult.IN_PLACE, Basis.ASSESSED, ("r2",))
    from compliance.decisions import assessor_signature

    signed = Review(**{**second.__dict__, "signature": assessor_signature(second.body(), keys.signer())})
    assert signature_holds(signed) and signature_holds(second)
    tampered = Review(**{**signed.__dict__, "note": "nothing to see"})
    assert not signature_holds(tampered)
