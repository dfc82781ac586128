"""`comply frameworks list|show|coverage` against the real catalogs."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from compliance.cli import app
from compliance.cli.frameworks import coverage_counts
from compliance.frameworks import load

runner = CliRunner(env={"COLUMNS": "200"})


def _ok(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_list() -> None:
    rows = json.loads(_ok("frameworks", "list", "--format", "json"))
    assert [(r["id"], r["requirements"]) for r in rows] == [("pci-dss-4.0.1", 280), ("iso27001-2022", 123)]
    assert rows[0]["checks"] >= 19
    table = _ok("frameworks", "list")
    assert "PCI DSS v4.0.1" in table and "ISO/IEC 27001:2022" in table


def test_show_catalog_and_one_requirement() -> None:
    text = _ok("frameworks", "show", "pci-dss-4.0.1")
    assert "8.3.10.1" in text and "A3.5.1" in text
    one = _ok("frameworks", "show", "pci-dss-4.0.1", "--requirement", "10.3.2")
    assert "aws.cloudtrail.bucket_locked" in one and "1.1.1" not in one
    body = json.loads(_ok("frameworks", "show", "iso27001-2022", "-r", "A.8.15", "--format", "json"))
    assert body["ref"] == "ISO/IEC 27001:2022/A.8.15" and body["testing"] == "partial"
    whole = json.loads(_ok("frameworks", "show", "iso27001-2022", "--format", "json"))
    assert len(whole["requirements"]) == 30 + 93


def test_coverage_lists_every_requirement_and_counts_per_principal() -> None:
    pci = load("pci-dss-4.0.1")
    text = _ok("frameworks", "coverage", "pci-dss-4.0.1")
    for req in pci.requirements:
        assert f"│ {req.id} " in text, req.id
    summary = _ok("frameworks", "coverage", "pci-dss-4.0.1", "--summary")
    assert "│ 12.10.7 " not in summary and "│ A3  " in summary
    body = json.loads(_ok("frameworks", "coverage", "pci-dss-4.0.1", "--format", "json"))
    assert [r["id"] for r in body["requirements"]] == [r.id for r in pci.requirements]
    assert sum(p["total"] for p in body["principals"]) == 280
    ten = next(p for p in body["principals"] if p["principal"] == "10")
    assert ten["total"] == 27 and ten["partial"] == len([r for r in pci.under("10") if r.checks])


def test_coverage_counts_add_up() -> None:
    for row in coverage_counts(load("iso27001-2022")):
        assert row["automated"] + row["partial"] + row["manual"] == row["total"]


def test_unknown_framework_or_requirement_is_exit_2() -> None:
    for args in (["show", "nist"], ["coverage", "nist"], ["show", "pci-dss-4.0.1", "-r", "1.1"]):
        result = runner.invoke(app, ["frameworks", *args])
        assert result.exit_code == 2
        assert result.output.startswith("comply: error: ") and len(result.output.splitlines()) == 1
