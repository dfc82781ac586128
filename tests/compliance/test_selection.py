"""Check selection (--checks, --exclude-checks, --services, --severity) and `comply checks list`."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from compliance.cli import app
from compliance.errors import UsageError
from compliance.findings import Severity
from compliance.selection import parse_selection
from controls.registry import all_checks

runner = CliRunner()
AWS = all_checks("aws")


def chosen(**kwargs) -> set[str]:
    args = {"checks": None, "exclude": None, "services": None, "severity": None, **kwargs}
    select = parse_selection(args["checks"], args["exclude"], args["services"], args["severity"], AWS)
    return {c.id for c in AWS if select is None or select(c)}


def test_no_selection_runs_everything():
    assert parse_selection(None, None, None, None, AWS) is None
    assert chosen() == {c.id for c in AWS}


def test_checks_services_exclusions_and_minimum_severity_combine():
    assert chosen(checks=["aws.s3.tls_only,aws.iam.root_mfa"]) == {"aws.s3.tls_only", "aws.iam.root_mfa"}
    s3 = chosen(services=["S3"])
    assert s3 and all(c.startswith("aws.s3.") for c in s3)
    assert "aws.s3.tls_only" not in chosen(services=["s3"], exclude=["aws.s3.tls_only"])
    high = chosen(severity="high")
    assert high and all(c.severity >= Severity.HIGH for c in AWS if c.id in high)
    assert "aws.iam.root_mfa" in high and "aws.s3.tls_only" not in high
    assert chosen(services=["iam"], severity="critical") == {"aws.iam.root_mfa", "aws.iam.root_access_keys"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"checks": ["aws.s3.nope"]}, "unknown check id(s): aws.s3.nope"),
        ({"exclude": ["aws.iam.typo"]}, "unknown check id(s): aws.iam.typo"),
        ({"services": ["s4"]}, "unknown service(s): s4"),
        ({"severity": "severe"}, "--severity"),
        ({"checks": ["aws.s3.tls_only"], "exclude": ["aws.s3.tls_only"]}, "leaves no check to run"),
    ],
)
def test_bad_selection_is_a_usage_error(kwargs, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        chosen(**kwargs)


@pytest.mark.parametrize(
    "args",
    [
        ["--checks", "aws.s3.nope"],
        ["--services", "nosuch"],
        ["--severity", "extreme"],
        ["--exclude-checks", "aws.x.y"],
    ],
)
def test_scan_refuses_an_unknown_selection_before_collecting(tmp_path, args):
    # the endpoint is unreachable: reaching it would be a different error, so exit 2 here proves the
    # selection was checked first
    result = runner.invoke(
        app, ["scan", "aws", "--endpoint-url", "http://127.0.0.1:9", "--out", str(tmp_path / "o"), *args]
    )
    assert result.exit_code == 2, result.output
    assert "cannot reach" not in result.output and "Traceback" not in result.output
    assert not (tmp_path / "o").exists()


def test_checks_list_json_and_table():
    result = runner.invoke(app, ["checks", "list", "--target", "aws", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert len(rows) == len(AWS) >= 100
    assert set(rows[0]) == {"id", "target", "service", "severity", "title", "requirements"}
    by_id = {r["id"]: r for r in rows}
    assert "PCI DSS v4.0.1/3.2.1" in by_id["aws.s3.cardholder_data_lifecycle"]["requirements"]
    assert by_id["aws.s3.cardholder_data_lifecycle"]["service"] == "s3"
    pci = {r.split("/", 1)[1] for row in rows for r in row["requirements"] if r.startswith("PCI DSS v4.0.1/")}
    assert len(pci) >= 45
    table = runner.invoke(app, ["checks", "list"])
    assert table.exit_code == 0 and table.output.startswith(f"{len(all_checks())} checks")


@pytest.mark.parametrize(
    ("args", "message"), [(["--target", "gcp"], "unknown target"), (["--format", "xml"], "table or json")]
)
def test_checks_list_bad_input_is_exit_2(args, message):
    result = runner.invoke(app, ["checks", "list", *args])
    assert result.exit_code == 2 and message in result.output
