"""Waivers files: valid, expired, malformed, unknown keys, missing expiry, matching nothing."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import yaml

from compliance.assess import apply_waivers
from compliance.errors import UsageError
from compliance.findings import Finding, Severity, Status
from compliance.waivers import Waiver, default_waivers_path, load_waivers, parse_waivers

TODAY = dt.date(2026, 3, 1)
SG = "arn:aws:ec2:us-east-1:111122223333:security-group/sg-0bastion1"


def _finding(check_id: str = "aws.ec2.sg_admin_ports_open", resource: str = SG,
             status: Status = Status.FAIL) -> Finding:
    return Finding(check_id, resource, status, "port 22 open to 0.0.0.0/0", Severity.HIGH)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "waivers.yaml"
    path.write_text(text)
    return path


VALID = """
waivers:
  - check_id: aws.ec2.sg_admin_ports_open
    resource: "arn:aws:ec2:us-east-1:111122223333:security-group/sg-0bastion1"
    justification: bastion reachable from the office range only
    approver: Jane Roe (CISO)
    approved: 2026-01-15
    expires: 2026-06-30
    compensating_control: session recording on the bastion
  - check_id: aws.kms.key_rotation
    resource: "*"
    justification: legacy keys being migrated
    approver: Jane Roe
    approved: 2025-12-01
    expires: "2026-01-31"
"""


def test_load_valid_file(tmp_path: Path) -> None:
    first, second = load_waivers(_write(tmp_path, VALID), TODAY)
    assert first == Waiver("aws.ec2.sg_admin_ports_open", SG,
                           "bastion reachable from the office range only", "Jane Roe (CISO)",
                           dt.date(2026, 6, 30), "session recording on the bastion",
                           f"{tmp_path / 'waivers.yaml'} entry 1", dt.date(2026, 1, 15))
    assert second.expires == dt.date(2026, 1, 31)
    assert second.compensation == "waived: legacy keys being migrated"
    assert first.applies(TODAY) and not first.expired(TODAY)
    assert second.expired(TODAY) and not second.applies(TODAY)


def test_a_bare_list_and_an_empty_file_are_accepted(tmp_path: Path) -> None:
    text = ("- {check_id: aws.kms.key_rotation, resource: r, justification: j, approver: x,"
            " approved: 2026-01-01, expires: 2030-01-01T10:00:00}\n")
    (waiver,) = load_waivers(_write(tmp_path, text), TODAY)
    assert waiver.expires == dt.date(2030, 1, 1)
    assert load_waivers(_write(tmp_path, "")) == []
    assert load_waivers(_write(tmp_path, "waivers:\n")) == []


def _parse(text: str) -> list[Waiver]:
    return parse_waivers(yaml.safe_load(text), "w.yaml")


def test_valid_waiver_suppresses_only_matching_failures() -> None:
    (waiver,) = [w for w in _parse(VALID) if w.check_id.endswith("open")]
    findings = [_finding(), _finding(resource=SG.replace("bastion1", "web")),
                _finding(status=Status.PASS, resource=SG + "x"), _finding("aws.rds.not_public")]
    outcome = apply_waivers(findings, [waiver], TODAY)
    assert [f.suppressed_by is not None for f in outcome.findings] == [True, False, False, False]
    suppressed = outcome.findings[0]
    assert suppressed.status is Status.FAIL
    assert suppressed.suppressed_by == ("waiver: bastion reachable from the office range only "
                                        "(approved by Jane Roe (CISO) on 2026-01-15, expires 2026-06-30)")
    assert findings[0].suppressed_by is None
    assert outcome.compensations == {suppressed.uid: "session recording on the bastion"}
    (use,) = outcome.uses
    assert (use.state, use.matched, use.expires) == ("active", (SG,), "2026-06-30")
    assert outcome.warnings == []


def test_expired_waiver_is_ignored_and_reported() -> None:
    waiver = Waiver("aws.ec2.*", "*", "old", "Bob", dt.date(2026, 2, 28), source="w.yaml entry 3")
    outcome = apply_waivers([_finding()], [waiver], TODAY)
    assert outcome.findings[0].suppressed_by is None
    assert outcome.uses[0].state == "expired"
    assert outcome.warnings == ["waiver aws.ec2.* on * (w.yaml entry 3) expired on 2026-02-28: ignored"]
    last_day = Waiver("aws.ec2.*", "*", "old", "Bob", TODAY)
    assert apply_waivers([_finding()], [last_day], TODAY).findings[0].suppressed_by


def test_waiver_matching_nothing_is_a_warning() -> None:
    waiver = Waiver("aws.rds.*", "*", "j", "a", dt.date(2027, 1, 1), source="w.yaml entry 1")
    outcome = apply_waivers([_finding(), _finding("aws.rds.not_public", status=Status.PASS)], [waiver], TODAY)
    assert outcome.uses[0].state == "unmatched"
    assert outcome.warnings == ["waiver aws.rds.* on * (w.yaml entry 1) matches no failing finding"]
    assert all(f.suppressed_by is None for f in outcome.findings)


def test_missing_expiry_is_loaded_but_never_applied(tmp_path: Path) -> None:
    text = ("- {check_id: aws.kms.key_rotation, resource: '*', justification: j, approver: a, "
            "approved: 2026-01-01}\n")
    (waiver,) = load_waivers(_write(tmp_path, text), TODAY)
    assert waiver.expires is None and not waiver.applies(TODAY) and not waiver.expired(TODAY)
    outcome = apply_waivers([_finding()], [waiver], TODAY)
    assert outcome.findings[0].suppressed_by is None
    assert outcome.uses[0].state == "no-expiry" and outcome.uses[0].expires == ""
    assert outcome.warnings[0].endswith("has no expiry date: ignored")


def test_first_matching_waiver_wins() -> None:
    a = Waiver("aws.ec2.*", "*", "first", "A", dt.date(2027, 1, 1))
    b = Waiver("aws.ec2.sg_admin_ports_open", SG, "second", "B", dt.date(2027, 1, 1))
    outcome = apply_waivers([_finding()], [a, b], TODAY)
    assert "first" in outcome.findings[0].suppressed_by
    assert [u.state for u in outcome.uses] == ["active", "active"]


@pytest.mark.parametrize(("text", "message"), [
    ("waivers: [", r"is not valid YAML at line \d"),
    ("- check_id: a\n  resource: r\n  justification: j\n  approver: x\n  approved: 2026-01-01\n"
     "  expires: 2026-01-01\n  owner: me\n",
     r"entry 1: unknown key 'owner'"),
    ("waivers: []\nextra: 1\n", "unexpected top-level key 'extra'"),
    ("just a string", "expected a list of waivers"),
    ("- [a, b]", "entry 1: expected a mapping"),
    ("- {check_id: a, resource: r, justification: '', approver: x, expires: 2026-01-01}",
     "entry 1: 'justification' is required"),
    ("- {check_id: a, resource: r, justification: j, expires: 2026-01-01}", "'approver' is required"),
    ("- {check_id: a, resource: r, justification: j, approver: x, approved: 2026-01-01, expires: soon}",
     "'expires' must be a date like 2026-06-30, got 'soon'"),
    ("- {check_id: a, resource: r, justification: j, approver: x, approved: 2026-01-01, expires: 2026-01-01,"
     " compensating_control: 5}",
     "'compensating_control' must be a string"),
])
def test_malformed_files_are_one_line_usage_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message) as caught:
        load_waivers(_write(tmp_path, text))
    assert "\n" not in str(caught.value)
    assert "waivers.yaml" in str(caught.value)


ENTRY = ("- {{check_id: {check}, resource: '{resource}', justification: j, approver: x, "
         "approved: {approved}{extra}}}\n")


@pytest.mark.parametrize(("check", "resource", "approved", "extra", "message"), [
    ("aws.iam.root_mfa", SG, "2026-01-01", "", "aws.iam.root_mfa is Critical: a waiver on a High or Critical "
                                                "check needs a compensating_control"),
    ("aws.ec2.sg_admin_ports_open", "arn:aws:ec2:*", "2026-01-01", ", compensating_control: vpn only",
     "name the resource exactly; a wildcard resource ('arn:aws:ec2:*') is refused"),
    ("aws.ec2.*", SG, "2026-01-01", "", "aws.ec2.* is Critical: a waiver on a High or Critical check needs"),
    ("aws.ec2.sg_admin_port_open", SG, "2026-01-01", "", "unknown check id 'aws.ec2.sg_admin_port_open'"),
    ("aws.kms.key_rotation", SG, "2026-04-01", "", "'approved' 2026-04-01 is in the future"),
    ("aws.kms.key_rotation", SG, "2026-02-01", ", expires: 2026-01-31", "'approved' 2026-02-01 is after"),
    ("aws.kms.key_rotation", SG, "yesterday", "", "'approved' must be a date like 2026-06-30"),
])
def test_waiver_rules_an_assessor_holds(tmp_path: Path, check, resource, approved, extra, message) -> None:
    text = ENTRY.format(check=check, resource=resource, approved=approved, extra=extra)
    with pytest.raises(UsageError, match=re.escape(message)) as caught:
        load_waivers(_write(tmp_path, text), TODAY)
    assert "waivers.yaml entry 1" in str(caught.value)


def test_a_waiver_without_approval_date_is_refused(tmp_path: Path) -> None:
    text = ("- {check_id: aws.kms.key_rotation, resource: r, justification: j, approver: x, "
            "expires: 2026-06-30}\n")
    with pytest.raises(UsageError, match="'approved' is required"):
        load_waivers(_write(tmp_path, text), TODAY)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read waivers file"):
        load_waivers(tmp_path / "absent.yaml")


def test_default_path_is_waivers_yaml_in_the_config_directory(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_waivers_path(tmp_path) is None
    path = _write(tmp_path, VALID)
    assert default_waivers_path(tmp_path) == path
    monkeypatch.chdir(tmp_path)
    assert default_waivers_path() == tmp_path / "waivers.yaml"


def test_scan_refuses_critical_waiver_without_compensating_control_before_collecting(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from compliance.cli import app

    bad = _write(tmp_path, "- {check_id: aws.iam.root_mfa, resource: 'arn:aws:iam::123456789012:root', "
                           "justification: j, approver: x, approved: 2026-01-01, expires: 2099-12-31}\n")
    result = CliRunner().invoke(app, ["scan", "aws", "--endpoint-url", "http://127.0.0.1:9", "--region",
                                      "us-east-1", "--waivers", str(bad), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert "aws.iam.root_mfa is Critical: a waiver on a High or Critical check needs a compensating_control" \
        in result.output
    assert "Traceback" not in result.output
