"""Every requirement result carries its basis beside the ROC word: store, JSON, CSV, HTML."""

from __future__ import annotations

import csv
import io
import json

from compliance import keys
from compliance.scan import Basis
from reports import REQUIREMENT_RESULTS, REQUIREMENT_RESULTS_CSV, write_reports


def test_basis_round_trips_through_the_store(store, scan):
    store.save_scan(scan)
    again = {(r.framework, r.requirement_id): r for r in store.load_scan(scan.id).requirement_results}
    assert again["pci-dss-4.0.1", "12.1.1"].basis is Basis.ASSESSED
    assert again["pci-dss-4.0.1", "12.1.1"].decision_ids == ("rev00001",)
    assert again["pci-dss-4.0.1", "A1.1.1"].basis is Basis.SCOPED
    assert again["pci-dss-4.0.1", "3.5.1"].basis is Basis.AUTOMATED
    assert again["iso27001-2022", "A.8.15"].waived[0].startswith("aws.cloudtrail.enabled on trail/old")


def test_basis_in_json_csv_and_html(tmp_path, scan, store):
    written = write_reports(scan, ["csv", "html", "evidence"], tmp_path, store=store)
    names = {p.name for p in written}
    assert REQUIREMENT_RESULTS_CSV in names
    rows = list(csv.DictReader(io.StringIO((tmp_path / REQUIREMENT_RESULTS_CSV).read_text())))
    by_id = {r["requirement_id"]: r for r in rows}
    assert (by_id["A1.1.1"]["result"], by_id["A1.1.1"]["basis"]) == ("Not Applicable", "scoped")
    assert (by_id["12.1.1"]["result"], by_id["12.1.1"]["basis"]) == ("In Place", "assessed")
    assert by_id["A.8.15"]["waived"].startswith("aws.cloudtrail.enabled on trail/old")
    import zipfile

    with zipfile.ZipFile(tmp_path / "evidence.zip") as zf:
        results = json.loads(zf.read(REQUIREMENT_RESULTS))["requirement_results"]
        assert REQUIREMENT_RESULTS_CSV in zf.namelist()
    assert {r["basis"] for r in results} == {"automated", "assessed", "scoped"}
    html = (tmp_path / "report.html").read_text()
    assert "basis: scoped" in html and "basis: assessed" in html
    assert "Waived: aws.cloudtrail.enabled on trail/old" in html
    fingerprint = keys.fingerprint(keys.signer().public_key())
    assert fingerprint in html
