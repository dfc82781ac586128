"""Exit codes and the terminal summary, from scans built by hand."""

from __future__ import annotations

from compliance.cli.scan import EXIT_FAILED, EXIT_INCOMPLETE, EXIT_OK, check_table, exit_code, failure_lines
from compliance.findings import Finding, Severity, Status
from compliance.scan import Scan


def finding(status: Status, severity: Severity = Severity.HIGH, resource: str = "r", waived: bool = False):
    return Finding(
        "aws.x.check",
        resource,
        status,
        f"{status.value} reason",
        severity,
        suppressed_by="waiver: ok" if waived else None,
    )


def scan_of(*findings: Finding) -> Scan:
    scan = Scan(target="aws", scope={})
    scan.findings = list(findings)
    return scan


def test_nothing_failed_is_0_even_with_low_failures_below_the_threshold():
    assert exit_code(scan_of(finding(Status.PASS)), Severity.LOW) == EXIT_OK
    assert exit_code(scan_of(finding(Status.FAIL, Severity.LOW)), Severity.HIGH) == EXIT_OK


def test_a_failure_at_or_above_the_threshold_is_1_even_with_errors():
    scan = scan_of(finding(Status.FAIL, Severity.HIGH, "a"), finding(Status.ERROR, resource="b"))
    assert exit_code(scan, Severity.HIGH) == EXIT_FAILED


def test_errors_without_failures_are_3():
    assert (
        exit_code(
            scan_of(finding(Status.PASS, resource="a"), finding(Status.ERROR, resource="b")), Severity.LOW
        )
        == EXIT_INCOMPLETE
    )


def test_waived_failures_do_not_fail_the_gate():
    assert exit_code(scan_of(finding(Status.FAIL, waived=True)), Severity.LOW) == EXIT_OK


def test_summary_lists_failures_first_and_marks_waivers():
    scan = scan_of(
        finding(Status.ERROR, resource="e"),
        finding(Status.FAIL, Severity.LOW, "low"),
        finding(Status.FAIL, Severity.CRITICAL, "crit", waived=True),
    )
    lines = failure_lines(scan, limit=2)
    assert lines[0].startswith("FAIL  Critical") and "[waived]" in lines[0]
    assert "low" in lines[1]
    assert lines[-1] == "... and 1 more in the findings file"
    assert check_table(scan).row_count == 1
