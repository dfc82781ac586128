from __future__ import annotations

import pytest

from compliance.findings import Severity, Status
from controls.registry import all_checks
from tests.controls.builders import inventory

EXPECTED = {
    "aws.ec2.sg_admin_ports_open": Severity.HIGH, "aws.ec2.sg_all_traffic_open": Severity.CRITICAL,
    "aws.ec2.default_sg_restricted": Severity.MEDIUM, "aws.ec2.ebs_default_encryption": Severity.MEDIUM,
    "aws.rds.not_public": Severity.HIGH, "aws.rds.storage_encrypted": Severity.HIGH,
    "aws.elbv2.waf_attached": Severity.HIGH, "aws.elbv2.listener_tls": Severity.HIGH,
    "aws.apigateway.waf_attached": Severity.HIGH, "aws.wafv2.managed_rules": Severity.HIGH,
    "aws.wafv2.logging_enabled": Severity.MEDIUM, "aws.s3.bucket_encrypted": Severity.HIGH,
    "aws.kms.key_rotation": Severity.MEDIUM, "aws.iam.root_mfa": Severity.CRITICAL,
    "aws.iam.console_user_mfa": Severity.HIGH, "aws.cloudtrail.multi_region_logging": Severity.HIGH,
    "aws.cloudtrail.log_validation": Severity.MEDIUM, "aws.cloudtrail.bucket_locked": Severity.HIGH,
    "aws.cloudtrail.kms_encrypted": Severity.MEDIUM, "aws.ecr.scan_on_push": Severity.MEDIUM,
    "aws.ecr.image_vulnerabilities": Severity.HIGH, "aws.eks.secrets_encryption": Severity.HIGH,
    "aws.eks.endpoint_restricted": Severity.HIGH, "aws.eks.audit_logging": Severity.MEDIUM,
}


def test_the_first_aws_checks_keep_their_ids_and_severities():
    registered = {c.id: c.severity for c in all_checks("aws")}
    assert {k: registered.get(k) for k in EXPECTED} == EXPECTED
    assert len(registered) >= 100


@pytest.mark.parametrize("item", all_checks("aws"), ids=lambda c: c.id)
def test_no_evidence_at_all_is_an_error_never_a_pass(item):
    """Fail closed: with nothing collected, every check says ERROR (at least once) and nothing else."""
    findings = item.run(inventory())
    assert findings and {f.status for f in findings} == {Status.ERROR}, findings
    assert all(f.reason and not f.resource_id.startswith("check:") for f in findings)


@pytest.mark.parametrize("item", all_checks("aws"), ids=lambda c: c.id)
def test_check_explains_itself(item):
    assert item.title and "\n" not in item.title and len(item.title) <= 90
    assert item.resource_type.startswith("Aws")
    for text in (item.rationale, item.remediation):
        assert 40 <= len(text) <= 600 and "\n" not in text and "  " not in text
        assert 1 <= text.count(". ") + text.endswith(".") <= 3
    service = item.id.split(".")[1]
    module = {"lambda": "lambda_functions"}.get(service, service)  # `lambda` is a Python keyword
    assert item.function.__module__ == f"controls.aws.{module}"



@pytest.mark.parametrize("item", all_checks("kubernetes"), ids=lambda c: c.id)
def test_kubernetes_check_explains_itself(item):
    assert item.title and "\n" not in item.title and len(item.title) <= 90
    assert item.resource_type.startswith("Kubernetes")
    for text in (item.rationale, item.remediation):
        assert 40 <= len(text) <= 600 and "\n" not in text and "  " not in text
    module = {"workload": "workloads", "rbac": "rbac", "network": "network"}[item.id.split(".")[1]]
    assert item.function.__module__ == f"controls.kubernetes.{module}"

def test_every_pci_mapping_of_an_aws_check_says_why_in_one_line():
    from compliance.frameworks import load

    pci = load("pci-dss-4.0.1")
    mapped = [(req, c) for req in pci.requirements for c in req.checks if c.startswith("aws.")]
    assert mapped
    for req, check_id in mapped:
        why = req.reason(check_id)
        assert why and "\n" not in why and len(why) <= 140, (req.id, check_id)
    assert len({req.id for req, _ in mapped}) >= 45
