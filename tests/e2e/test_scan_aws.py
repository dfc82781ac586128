"""`comply scan aws` end to end against moto's server: planted gaps found, clean resources clean."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from compliance.cli import app
from compliance.cli.demo import planted_report
from compliance.demo import PLANTED
from compliance.store import Store

PCI_FAMILY = {
    "aws.ecr.repository_policy": "1.",
    "aws.apigateway.access_logging": "10.",
    "aws.apigateway.method_authorization": "7.",
    "aws.apigateway.domain_tls": "4.",
    "aws.elb.listener_tls": "4.",
    "aws.elb.access_logs": "10.",
    "aws.elb.desync": "6.",
    "aws.lambda.supported_runtime": "6.",
    "aws.lambda": "1.",
    "aws.opensearch.encrypted_at_rest": "3.",
    "aws.opensearch.node_to_node": "4.",
    "aws.opensearch.https": "4.",
    "aws.opensearch.not_public": "1.",
    "aws.opensearch.audit": "10.",
    "aws.cloudfront.access_logging": "10.",
    "aws.cloudfront.waf": "6.",
    "aws.cloudfront": "4.",
    "aws.eks.supported_version": "6.",
    "aws.cloudwatch": "10.",
    "aws.guardduty": "11.",
    "aws.inspector2": "6.",
    "aws.config": "12.",
    "aws.secretsmanager": "8.",
    "aws.rds.backups": "12.",
    "aws.rds.multi_az": "12.",
    "aws.rds.snapshot": "3.",
    "aws.elbv2.deletion": "6.",
    "aws.elbv2.access_logs": "10.",
    "aws.elbv2.desync": "6.",
    "aws.ec2.vpc_flow_logs": "10.",
    "aws.iam.full_admin": "7.",
    "aws.iam.user_direct": "7.",
    "aws.s3.cardholder_data_lifecycle": "3.",
    "aws.s3.tls_only": "4.",
    "aws.s3.account_public": "1.",
    "aws.s3.bucket_public": "1.",
    "aws.s3.bucket_policy": "1.",
    "aws.cloudtrail.bucket_not_public": "10.",
    "aws.ec2.sg": "1.",
    "aws.ec2.default_sg": "1.",
    "aws.rds.not_public": "1.",
    "aws.elbv2.waf": "6.",
    "aws.apigateway": "6.",
    "aws.wafv2.managed": "6.",
    "aws.wafv2.logging": "10.",
    "aws.rds.storage": "3.",
    "aws.ec2.ebs": "3.",
    "aws.s3": "3.",
    "aws.kms": "3.",
    "aws.elbv2.listener": "4.",
    "aws.iam": "8.",
    "aws.cloudtrail": "10.",
    "aws.ecr": "6.",
    "aws.eks.secrets": "8.",
    "aws.eks.endpoint": "1.",
    "aws.eks.audit": "10.",
    "aws.wafv2": "6.",
    "aws.ec2": "1.",
}

runner = CliRunner()


def scan(endpoint: str, out: Path, *extra: str):
    return runner.invoke(
        app, ["scan", "aws", "--endpoint-url", endpoint, "--region", "us-east-1", "--out", str(out), *extra]
    )


@pytest.fixture(scope="module")
def scanned(deployment, tmp_path_factory):
    out = tmp_path_factory.mktemp("scan")
    db = f"sqlite:///{out / 'comply.db'}"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("COMPLY_CONFIG_DIR", str(out / "config"))
        result = scan(deployment, out, "--db", db, "--format", "ocsf")
    return result, out, db


def test_scan_reports_every_planted_gap_and_no_false_failure(scanned, monkeypatch):
    result, out, db = scanned
    monkeypatch.setenv("COMPLY_CONFIG_DIR", str(out / "config"))
    assert result.exit_code == 1, result.output
    stored = Store(db).load_scan(Store(db).latest_scan_id())
    missed, wrong = planted_report(stored)
    assert missed == [] and wrong == []
    # the only ERRORs: the legacy-worker image was never scanned, so neither image check can judge it
    image_checks = ("aws.ecr.image_vulnerabilities", "aws.ecr.findings_overdue")
    assert all(f.check_id in image_checks and "legacy-worker" in f.resource_id for f in stored.errors())


def test_findings_file_follows_the_ocsf_contract(scanned):
    _, out, _ = scanned
    findings = json.loads((out / "findings.ocsf.json").read_text())
    assert findings and all(f["class_uid"] == 2003 for f in findings)
    by_check: dict[str, list[dict]] = {}
    for f in findings:
        assert f["status_code"] in {"PASS", "FAIL", "ERROR", "MANUAL"}
        assert f["resources"][0]["uid"]
        by_check.setdefault(f["metadata"]["event_code"], []).append(f)
    for planted in PLANTED:
        failing = [f for f in by_check[planted.check_id] if f["status_code"] == "FAIL"]
        assert failing, planted
        family = next(v for k, v in PCI_FAMILY.items() if planted.check_id.startswith(k))
        pci = [r for r in failing[0]["compliance"]["requirements"] if r.startswith("PCI DSS v4.0.1/")]
        assert any(r.split("/", 1)[1].startswith(family) for r in pci), (planted.check_id, pci)


def test_a_second_scan_keeps_finding_ids_stable(deployment, scanned, tmp_path, monkeypatch):
    _, out, db = scanned
    monkeypatch.setenv("COMPLY_CONFIG_DIR", str(out / "config"))
    first = {f["finding_info"]["uid"] for f in json.loads((out / "findings.ocsf.json").read_text())}
    result = scan(deployment, tmp_path, "--db", db, "--fail-on", "critical")
    assert result.exit_code == 1, result.output  # the root account has no MFA: critical
    second = {f["finding_info"]["uid"] for f in json.loads((tmp_path / "findings.ocsf.json").read_text())}
    assert first == second
    assert len(Store(db).list_scans()) == 2


def test_requirement_results_are_stored_for_every_requirement(scanned, monkeypatch):
    _, out, db = scanned
    monkeypatch.setenv("COMPLY_CONFIG_DIR", str(out / "config"))
    stored = Store(db).load_scan(Store(db).latest_scan_id())
    pci = [r for r in stored.requirement_results if r.framework == "pci-dss-4.0.1"]
    iso = [r for r in stored.requirement_results if r.framework == "iso27001-2022"]
    assert len(pci) == 280 and len(iso) == 30 + 93
    assert {r.result.value for r in pci} >= {"Not in Place", "Not Tested"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--region", "mars-north-1"], "unknown AWS region mars-north-1"),
        (["--region", "eu-west-1,mars-north-1"], "unknown AWS region mars-north-1"),
        (["--region", " , "], "--region names no region"),
        (["--role-arn", "arn:aws:iam::1:role/x"], "malformed role ARN"),
        (["--fail-on", "severe"], "--fail-on: unknown severity"),
        (["--format", "ocsf,docx"], "docx"),
        (["--framework", "sox"], "unknown framework 'sox'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(deployment, tmp_path, args, message):
    result = runner.invoke(
        app, ["scan", "aws", "--endpoint-url", deployment, "--out", str(tmp_path / "o"), *args]
    )
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_out_that_is_a_file_is_refused(deployment, tmp_path):
    target = tmp_path / "findings.txt"
    target.write_text("keep me")
    result = scan(deployment, target)
    assert result.exit_code == 2 and "is a file" in result.output
    assert target.read_text() == "keep me"


def test_unreachable_endpoint_is_exit_2(tmp_path):
    from compliance.demo import free_port

    result = scan(f"http://127.0.0.1:{free_port()}", tmp_path)
    assert result.exit_code == 2 and "cannot reach the AWS endpoint" in result.output


def test_missing_credentials_is_exit_2(deployment, tmp_path, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    result = scan(deployment, tmp_path)
    assert result.exit_code == 2 and "no AWS credentials found" in result.output


def test_regions_may_be_given_as_a_comma_separated_list(deployment, tmp_path):
    result = scan(deployment, tmp_path, "--db", f"sqlite:///{tmp_path / 'r.db'}", "--services", "s3",
                  "--region", "eu-west-1, us-east-1,", "--format", "ocsf")
    assert result.exit_code in (0, 1), result.output
    store = Store(f"sqlite:///{tmp_path / 'r.db'}")
    scope = store.load_scan(store.latest_scan_id(), verify=False).scope
    assert scope["regions"] == ["us-east-1", "eu-west-1"]


def test_selection_narrows_the_scan_to_the_chosen_checks(deployment, tmp_path):
    result = scan(deployment, tmp_path, "--db", f"sqlite:///{tmp_path / 'c.db'}", "--services", "s3,kms",
                  "--severity", "high", "--exclude-checks", "aws.s3.bucket_encrypted")
    assert result.exit_code == 1, result.output
    ran = {f["metadata"]["event_code"] for f in json.loads((tmp_path / "findings.ocsf.json").read_text())}
    assert ran and all(c.split(".")[1] in ("s3", "kms") for c in ran)
    assert "aws.s3.bucket_encrypted" not in ran and "aws.s3.tls_only" not in ran  # medium: below high
    assert "aws.s3.bucket_policy_not_public" in ran
    store = Store(f"sqlite:///{tmp_path / 'c.db'}")
    excluded = store.load_scan(store.latest_scan_id(), verify=False).scope["excluded"]
    assert any(line.startswith("regions ") and "eu-west-1" in line
               and line.endswith("not selected (--region)") for line in excluded), excluded
    assert "1 check (aws.s3.bucket_encrypted): excluded with --exclude-checks" in excluded
    assert any(line.endswith("service not selected (--services s3,kms)") for line in excluded)
    assert any("aws.s3.tls_only" in line and line.endswith("below --severity High") for line in excluded)
