"""Attestations: stored with their files' bytes and SHA-256; counted until they expire; bad input refused."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from compliance.attestations import active_attestations, add_attestation, attestation_files, list_attestations
from compliance.cli import app
from compliance.errors import UsageError
from compliance.store import Store

NOW = dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'att.db'}")


@pytest.fixture
def evidence(tmp_path: Path) -> list[Path]:
    paths = [tmp_path / "policy.pdf", tmp_path / "minutes.txt"]
    paths[0].write_bytes(b"%PDF security policy v7")
    paths[1].write_text("board approved the policy")
    return paths


def test_valid_attestation_keeps_files_and_hashes(store: Store, evidence: list[Path]) -> None:
    att = add_attestation(store, "pci-dss-4.0.1", "12.1.1", [*evidence, evidence[0]], " Jane Roe ",
                          "approved", NOW + dt.timedelta(days=90), now=NOW)
    assert att.attested_by == "Jane Roe"
    assert att.expires_at == "2026-05-30T09:00:00+00:00"
    digest = hashlib.sha256(b"%PDF security policy v7").hexdigest()
    minutes = hashlib.sha256(b"board approved the policy").hexdigest()
    assert [f["sha256"] for f in att.files] == [digest, minutes, digest]
    assert attestation_files(store, att.id)[digest] == ("policy.pdf", b"%PDF security policy v7")
    assert len(attestation_files(store, att.id)) == 2
    evidence[0].write_bytes(b"edited later")
    assert attestation_files(store, att.id)[digest][1] == b"%PDF security policy v7"
    assert list_attestations(store) == [att]
    assert list_attestations(store, "iso27001-2022") == []


def test_expired_attestations_stop_counting(store: Store, evidence: list[Path]) -> None:
    att = add_attestation(store, "iso27001-2022", "A.5.24", evidence[:1], "Jane", "IR plan",
                          NOW + dt.timedelta(days=10), now=NOW)
    assert active_attestations(store, NOW + dt.timedelta(days=9)) == [att]
    assert active_attestations(store, NOW + dt.timedelta(days=10)) == []
    assert att.state(NOW + dt.timedelta(days=11)) == "expired"
    assert active_attestations(store) == []


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"requirement_id": "12.99.1"}, "pci-dss-4.0.1 has no requirement '12.99.1'"),
    ({"attested_by": "  "}, "needs the name of who attests"),
    ({"note": ""}, "needs a note"),
    ({"expires_at": NOW}, "is not in the future"),
    ({"evidence": []}, "at least one --evidence file"),
    ({"evidence": [Path("/nonexistent/file.pdf")]}, "evidence file /nonexistent/file.pdf does not exist"),
])
def test_bad_input_is_refused_and_nothing_stored(store: Store, evidence: list[Path], kwargs: dict,
                                                 message: str) -> None:
    args = {"framework_id": "pci-dss-4.0.1", "requirement_id": "12.1.1", "evidence": evidence,
            "attested_by": "Jane", "note": "n", "expires_at": NOW + dt.timedelta(days=1), "now": NOW,
            **kwargs}
    with pytest.raises(UsageError, match=message):
        add_attestation(store, **args)
    assert list_attestations(store) == []


def test_a_directory_is_not_evidence(store: Store, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is not a file"):
        add_attestation(store, "pci-dss-4.0.1", "12.1.1", [tmp_path], "J", "n", NOW + dt.timedelta(days=1),
                        now=NOW)


runner = CliRunner()


def _db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def test_cli_attest_and_list(tmp_path: Path, evidence: list[Path]) -> None:
    db = _db(tmp_path)
    added = runner.invoke(app, ["attest", "12.10.1", "--framework", "pci-dss-4.0.1", "--evidence",
                                str(evidence[0]), "-e", str(evidence[1]), "--by", "Jane", "--note", "IR plan",
                                "--valid-days", "30", "--db", db])
    assert added.exit_code == 0, added.output
    assert "PCI DSS v4.0.1/12.10.1 by Jane, 2 file(s)" in added.output
    inferred = runner.invoke(app, ["attest", "add", "A.5.24", "-e", str(evidence[0]), "--by", "Ann",
                                   "--note", "n", "--expires", "2099-12-31", "--db", db])
    assert inferred.exit_code == 0, inferred.output
    assert "ISO/IEC 27001:2022/A.5.24" in inferred.output and "2099-12-31T23:59:59" in inferred.output

    listed = runner.invoke(app, ["attest", "list", "--format", "json", "--db", db])
    assert listed.exit_code == 0
    rows = sorted(json.loads(listed.output), key=lambda r: r["framework"], reverse=True)
    assert [(r["framework"], r["requirement_id"], r["state"]) for r in rows] == [
        ("pci-dss-4.0.1", "12.10.1", "active"), ("iso27001-2022", "A.5.24", "active")]
    assert [f["name"] for f in rows[0]["files"]] == ["policy.pdf", "minutes.txt"]

    table = runner.invoke(app, ["attest", "list", "--framework", "iso27001-2022", "--db", db])
    assert table.exit_code == 0 and "A.5.24" in table.output and "12.10.1" not in table.output


def test_cli_uses_comply_db(tmp_path: Path, evidence: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPLY_DB", _db(tmp_path))
    assert "no attestations" in runner.invoke(app, ["attest", "list"]).output
    result = runner.invoke(app, ["attest", "8.4.2", "-e", str(evidence[0]), "--by", "J", "--note", "n"])
    assert result.exit_code == 0
    assert len(list_attestations(Store(_db(tmp_path)))) == 1


@pytest.mark.parametrize(("args", "message"), [
    (["99.9.9"], "no catalog has a requirement '99.9.9'"),
    (["12.1.1", "--framework", "iso27001-2022"], "iso27001-2022 has no requirement '12.1.1'"),
    (["12.1.1", "--framework", "nist"], "unknown framework 'nist'"),
    (["12.1.1", "--valid-days", "0"], "--valid-days must be between 1 and 3650"),
    (["12.1.1", "--expires", "2020-01-01"], "expiry 2020-01-01T23:59:59+00:00 is not in the future"),
    (["12.1.1", "--expires", "next year"], "--expires must be a date"),
    (["12.1.1", "--expires", "2099-01-01", "--valid-days", "3"], "either --valid-days or --expires"),
])
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path: Path, evidence: list[Path], args: list[str],
                                              message: str) -> None:
    result = runner.invoke(app, ["attest", *args, "-e", str(evidence[0]), "--by", "J", "--note", "n",
                                 "--db", _db(tmp_path)])
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert line.startswith("comply: error: ") and message in line


def test_cli_missing_file_and_unknown_list_framework(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["attest", "12.1.1", "-e", str(tmp_path / "gone.pdf"), "--by", "J",
                                  "--note", "n", "--db", _db(tmp_path)])
    assert missing.exit_code == 2
    assert "gone.pdf does not exist" in missing.output
    assert runner.invoke(app, ["attest", "list", "-f", "nist", "--db", _db(tmp_path)]).exit_code == 2
