"""An honest diff: waived and vanished failures are never 'resolved', and a scope change warns first."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from compliance.cli import app
from compliance.findings import Finding, Severity, Status
from compliance.scan import Scan
from compliance.store import Store
from reports.history import diff_scans

ACCOUNT = "111122223333"


def _f(check: str, resource: str, status: Status, waived: str | None = None) -> Finding:
    return Finding(check, resource, status, f"{status.value.lower()}", Severity.HIGH, suppressed_by=waived)


def _scan(scan_id: str, findings: list[Finding], regions=("eu-west-1",), checks=("c.a", "c.b")) -> Scan:
    return Scan(
        target="aws",
        scope={"account_id": ACCOUNT, "regions": list(regions)},
        id=scan_id,
        options={"checks": list(checks)},
        findings=findings,
    )


OLD = [
    _f("c.a", "bucket-fixed", Status.FAIL),
    _f("c.a", "bucket-waived", Status.FAIL),
    _f("c.a", "bucket-deleted", Status.FAIL),
    _f("c.b", "key-still", Status.FAIL),
    _f("c.b", "key-error", Status.FAIL),
    _f("c.a", "bucket-ok", Status.PASS),
]
NEW = [
    _f("c.a", "bucket-fixed", Status.PASS),
    _f("c.a", "bucket-waived", Status.FAIL, "waiver: moving it (approved by CISO, expires 2026-12-31)"),
    _f("c.b", "key-still", Status.FAIL),
    _f("c.b", "key-error", Status.ERROR),
    _f("c.a", "bucket-ok", Status.FAIL),
    _f("c.b", "key-new", Status.FAIL),
]


def test_every_failing_finding_is_classified() -> None:
    diff = diff_scans(_scan("a", OLD), _scan("b", NEW))
    got = {name: [f.resource_id for f in items] for name, items in diff.items.items()}
    assert got == {
        "new": ["bucket-ok", "key-new"],
        "fixed": ["bucket-fixed"],
        "waived": ["bucket-waived"],
        "gone": ["bucket-deleted"],
        "still_failing": ["key-still"],
        "not_assessed": ["key-error"],
    }
    assert not diff.scope_changed
    body = diff.as_dict()
    assert set(body) >= {"scope_changed", "scopes", "new", "fixed", "waived", "gone", "still_failing"}
    assert body["waived"][0]["waived_by"].startswith("waiver: moving it")
    assert {"check_id", "resource_id", "severity"} <= set(body["gone"][0])


def test_a_region_or_check_change_is_flagged_with_both_scopes() -> None:
    diff = diff_scans(_scan("a", OLD), _scan("b", NEW, regions=("eu-west-1", "us-east-1"), checks=("c.a",)))
    assert diff.scope_changed
    assert diff.scope_changes == ["regions: added us-east-1", "checks: removed c.b"]
    assert diff.scopes["old"]["regions"] == ["eu-west-1"]
    assert diff.scopes["new"]["regions"] == ["eu-west-1", "us-east-1"]


def test_cli_text_warns_first_and_json_carries_the_scopes(tmp_path) -> None:
    db = f"sqlite:///{tmp_path / 'd.db'}"
    store = Store(db)
    store.save_scan(_scan("scana001", OLD))
    later = _scan("scanb002", NEW, regions=("eu-central-1",))
    later.started_at = "2099-01-01T00:00:00+00:00"
    store.save_scan(later)
    runner = CliRunner()
    text = runner.invoke(app, ["diff", "scana001", "latest", "--db", db])
    assert text.exit_code == 0, text.output
    lines = text.output.splitlines()
    assert lines[0].startswith("WARNING: the scope changed between scana001 and scanb002")
    assert lines[1] == "  regions: removed eu-west-1; added eu-central-1"
    assert "waived:" in lines and "gone:" in lines
    assert "(waived: waiver: moving it" in text.output
    body = json.loads(
        runner.invoke(app, ["diff", "scana001", "scanb002", "--db", db, "--format", "json"]).output
    )
    assert body["scope_changed"] is True
    assert body["scopes"]["old"]["regions"] == ["eu-west-1"] and body["scopes"]["new"]["regions"] == [
        "eu-central-1"
    ]
    assert [f["resource_id"] for f in body["gone"]] == ["bucket-deleted"]
