"""`comply soa init` and `comply soa`: the Statement of Applicability from decisions and a stored scan."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pypdf
import pytest
import yaml
from typer.testing import CliRunner

from compliance import keys
from compliance.assess import evaluate_requirements
from compliance.cli import app
from compliance.errors import UsageError
from compliance.evidence import verify_pack
from compliance.frameworks import load
from compliance.scan import RocResult
from compliance.soa import STATUSES, annex_a, implementation_status, init_text, parse_decisions
from compliance.store import Store
from tests.reports.conftest import make_scan

runner = CliRunner()


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'soa.db'}"
    scan = make_scan("soa00001")
    scan.organisation = "Acme Pay"
    iso = load("iso27001-2022")
    ran = {f.check_id for f in scan.findings}
    scan.requirement_results = evaluate_requirements(scan.findings, iso, [], ran)
    Store(url).save_scan(scan)
    return url


def decisions_file(tmp_path: Path, edit=None) -> Path:
    path = tmp_path / "soa-decisions.yaml"
    assert runner.invoke(app, ["soa", "init", "--decisions", str(path)]).exit_code == 0
    if edit:
        data = yaml.safe_load(path.read_text())
        edit(data)
        path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_init_writes_every_control_applicable_with_a_justification(tmp_path):
    path = decisions_file(tmp_path)
    data = yaml.safe_load(path.read_text())
    assert list(data["controls"]) == [r.id for r in annex_a()] and len(data["controls"]) == 93
    assert all(d["applicable"] is True and d["justification"] for d in data["controls"].values())
    again = runner.invoke(app, ["soa", "init", "--decisions", str(path)])
    assert again.exit_code == 2 and "exists" in again.output
    assert runner.invoke(app, ["soa", "init", "--decisions", str(path), "--force"]).exit_code == 0


def test_soa_from_an_initialised_decisions_file(tmp_path, db, config_dir):
    def approve(data):
        data["version"] = "2.1"
        data["approval"] = {"approver": "CISO, J. Roe", "date": "2026-01-31"}
        data["controls"]["A.7.4"] = {"applicable": False, "justification": "cloud only: no premises to watch"}

    decisions = decisions_file(tmp_path, approve)
    out = tmp_path / "soa"
    result = runner.invoke(app, ["soa", "soa00001", "--out", str(out), "--decisions", str(decisions),
                                 "--db", db])
    assert result.exit_code == 0, result.output
    data = (out / "soa.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert [r["control_id"] for r in rows] == [r.id for r in annex_a()]
    by_id = {r["control_id"]: r for r in rows}
    assert by_id["A.7.4"]["applicable"] == "no" and by_id["A.7.4"]["implementation_status"] == \
        "not applicable (excluded)"
    assert by_id["A.8.24"]["implementation_status"] == "not implemented"
    assert by_id["A.5.1"]["implementation_status"] == "not assessed"
    evidence = by_id["A.8.24"]["evidence"].split("; ")
    assert set(load("iso27001-2022").requirement("A.8.24").checks) <= set(evidence)
    assert any(e.startswith("E") and e[1:].isdigit() for e in evidence)
    assert all(r["justification"] and r["soa_version"] == "2.1" for r in rows)
    assert {r["approved_by"] for r in rows} == {"CISO, J. Roe"}
    assert {r["implementation_status"] for r in rows} <= {*STATUSES, "not applicable (excluded)"}
    html = (out / "soa.html").read_text()
    assert html.count('<tr id="soa-A.') == 93 and "CISO, J. Roe on 2026-01-31" in html
    reader = pypdf.PdfReader(out / "soa.pdf")
    text = "\n".join(p.extract_text() for p in reader.pages)
    assert "Statement of Applicability: Acme Pay" in text and "A.8.34" in text and "version 2.1" in text
    assert reader.metadata.title.startswith("Statement of Applicability: Acme Pay")
    pack = out / "evidence.zip"
    assert {"soa/soa.csv", "soa/soa.html", "soa/soa.pdf"} <= set(zipfile.ZipFile(pack).namelist())
    assert verify_pack(pack, config_dir / keys.PUBLIC_NAME).ok


def test_an_exclusion_without_a_justification_is_exit_2(tmp_path, db):
    decisions = decisions_file(tmp_path, lambda d: d["controls"].__setitem__(
        "A.7.4", {"applicable": False, "justification": " "}))
    result = runner.invoke(app, ["soa", "--out", str(tmp_path / "o"), "--decisions", str(decisions),
                                 "--db", db])
    assert result.exit_code == 2
    assert "A.7.4 is excluded without a justification" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "o").exists()


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["controls"].pop("A.5.3"), "no decision for A.5.3"),
    (lambda d: d["controls"].__setitem__("A.9.9", {"applicable": True, "justification": "x"}),
     "'A.9.9' is not an ISO/IEC 27001:2022 Annex A control"),
    (lambda d: d["controls"].__setitem__("A.5.1", {"applicable": "yes", "justification": "x"}),
     "'applicable' must be true or false"),
    (lambda d: d["controls"].__setitem__("A.5.1", {"applicable": True}), "justification for including"),
    (lambda d: d["controls"].__setitem__("A.5.1", {"applicable": True, "justification": "x", "why": 1}),
     "unknown key 'why'"),
    (lambda d: d.__setitem__("approval", {"approver": "x", "date": "31/01/2026"}), "is not a date"),
    (lambda d: d.__setitem__("approval", "someone"), "'approval' must be a mapping"),
    (lambda d: d.__setitem__("version", ""), "'version' is required"),
    (lambda d: d.__setitem__("extra", 1), "unknown key 'extra'"),
    (lambda d: d["controls"].__setitem__("A.5.1", "yes"), "expected {applicable"),
])
def test_malformed_decisions_are_one_line_errors(change, message):
    data = yaml.safe_load(init_text())
    change(data)
    with pytest.raises(UsageError, match=message):
        parse_decisions(data, "d.yaml")


def test_missing_or_broken_decisions_file_and_unapproved_warning(tmp_path, db):
    missing = runner.invoke(app, ["soa", "--decisions", str(tmp_path / "none.yaml"), "--db", db])
    assert missing.exit_code == 2 and "comply soa init" in missing.output
    broken = tmp_path / "broken.yaml"
    broken.write_text("controls: [\n")
    result = runner.invoke(app, ["soa", "--decisions", str(broken), "--db", db])
    assert result.exit_code == 2 and "not valid YAML at line" in result.output
    with pytest.raises(UsageError, match="expected a mapping"):
        parse_decisions(["x"], "list.yaml")
    decisions = decisions_file(tmp_path)
    result = runner.invoke(app, ["soa", "--out", str(tmp_path / "o"), "--decisions", str(decisions),
                                 "--db", db])
    assert result.exit_code == 0 and "warning: the SoA is not approved" in result.output
    assert "not approved" in (tmp_path / "o" / "soa.html").read_text()
    afile = tmp_path / "file"
    afile.write_text("x")
    result = runner.invoke(app, ["soa", "--out", str(afile), "--decisions", str(decisions), "--db", db])
    assert result.exit_code == 2 and "is a file" in result.output


def test_implementation_status_in_plain_words():
    assert implementation_status(RocResult.IN_PLACE, 3, 0) == "implemented"
    assert implementation_status(RocResult.NOT_IN_PLACE, 2, 1) == "partially implemented"
    assert implementation_status(RocResult.NOT_IN_PLACE, 0, 1) == "not implemented"
    assert implementation_status(RocResult.NOT_TESTED, 2, 0) == "partially implemented"
    assert implementation_status(RocResult.NOT_TESTED, 0, 0) == "not assessed"
    assert implementation_status(None, 0, 0) == "not assessed"
