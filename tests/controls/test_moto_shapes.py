"""The checks read the shapes boto3 really returns (from moto), recorded as the collector stores them."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto import mock_aws

from compliance.collect.record import EvidenceRecord, Outcome, jsonable
from compliance.findings import Status
from tests.controls.builders import ACCOUNT, REGION, WHEN, inventory, only

VISIBILITY = {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": "m"}


def recorded(service: str, operation: str, response: dict[str, Any], region: str | None = REGION,
             **params: Any) -> EvidenceRecord:
    response.pop("ResponseMetadata", None)
    return EvidenceRecord("aws", service, operation, region, params, WHEN, Outcome.OK, jsonable(response))


@pytest.fixture
def aws(monkeypatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield


def test_security_group_and_iam_shapes(aws):
    ec2, iam = boto3.client("ec2", REGION), boto3.client("iam")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    sg = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}])
    groups = ec2.describe_security_groups(Filters=[{"Name": "group-id", "Values": [sg]}])
    iam.create_user(UserName="ann")
    iam.create_login_profile(UserName="ann", Password="A-long-enough-passw0rd!")
    inv = inventory(recorded("ec2", "describe_security_groups", groups),
                    recorded("iam", "get_account_summary", iam.get_account_summary(), None),
                    recorded("iam", "list_users", iam.list_users(), None),
                    recorded("iam", "get_login_profile", iam.get_login_profile(UserName="ann"), None,
                             UserName="ann"),
                    recorded("iam", "list_mfa_devices", iam.list_mfa_devices(UserName="ann"), None,
                             UserName="ann"))
    finding = only("aws.ec2.sg_admin_ports_open", inv)
    assert finding.status is Status.FAIL and finding.reason == f"{sg} (web) allows ::/0 on tcp 22 (SSH)"
    assert finding.resource_id == f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/{sg}"
    assert only("aws.iam.root_mfa", inv).status is Status.FAIL
    assert only("aws.iam.console_user_mfa", inv).status is Status.FAIL


def test_cloudtrail_and_object_lock_shapes(aws):
    s3, trail = boto3.client("s3", REGION), boto3.client("cloudtrail", REGION)
    s3.create_bucket(Bucket="audit-logs", ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(Bucket="audit-logs", ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Years": 1}}})
    arn = trail.create_trail(Name="main", S3BucketName="audit-logs", IsMultiRegionTrail=True)["TrailARN"]
    trail.start_logging(Name="main")
    lock = s3.get_object_lock_configuration(Bucket="audit-logs")
    inv = inventory(recorded("cloudtrail", "describe_trails", trail.describe_trails()),
                    recorded("cloudtrail", "get_trail_status", trail.get_trail_status(Name=arn), Name=arn),
                    recorded("s3", "get_object_lock_configuration", lock, None, Bucket="audit-logs"))
    locked = only("aws.cloudtrail.bucket_locked", inv)
    assert locked.status is Status.PASS, locked.reason
    assert "COMPLIANCE mode for 365 days" in locked.reason
    assert only("aws.cloudtrail.log_validation", inv).status is Status.FAIL


def test_ecr_scan_and_waf_shapes(aws):
    ecr, waf = boto3.client("ecr", REGION), boto3.client("wafv2", REGION)
    ecr.create_repository(repositoryName="app", imageScanningConfiguration={"scanOnPush": True})
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {"digest": "sha256:" + "a" * 64, "size": 1,
                           "mediaType": "application/vnd.docker.container.image.v1+json"}, "layers": []}
    ecr.put_image(repositoryName="app", imageManifest=json.dumps(manifest), imageTag="v1")
    images = ecr.describe_images(repositoryName="app")
    image_id = {"imageDigest": images["imageDetails"][0]["imageDigest"]}
    ecr.start_image_scan(repositoryName="app", imageId=image_id)
    core = {"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": "AWSManagedRulesCommonRuleSet"}}
    rule = {"Name": "core", "Priority": 0, "OverrideAction": {"None": {}}, "VisibilityConfig": VISIBILITY,
            "Statement": core}
    acl = waf.create_web_acl(Name="edge", Scope="REGIONAL", DefaultAction={"Allow": {}},
                             VisibilityConfig=VISIBILITY, Rules=[rule])["Summary"]
    inv = inventory(
        recorded("ecr", "describe_repositories", ecr.describe_repositories()),
        recorded("ecr", "get_registry_scanning_configuration", ecr.get_registry_scanning_configuration()),
        recorded("ecr", "describe_images", images, repositoryName="app"),
        recorded("ecr", "describe_image_scan_findings",
                 ecr.describe_image_scan_findings(repositoryName="app", imageId=image_id),
                 repositoryName="app", imageId=image_id),
        recorded("wafv2", "list_web_acls", waf.list_web_acls(Scope="REGIONAL"), Scope="REGIONAL"),
        recorded("wafv2", "get_web_acl", waf.get_web_acl(Name="edge", Id=acl["Id"], Scope="REGIONAL"),
                 Name="edge", Id=acl["Id"], Scope="REGIONAL"))
    assert only("aws.ecr.scan_on_push", inv).status is Status.PASS
    vulns = only("aws.ecr.image_vulnerabilities", inv)
    assert vulns.status is Status.FAIL and "1 HIGH" in vulns.reason and "v1" in vulns.reason
    rules = only("aws.wafv2.managed_rules", inv)
    assert rules.status is Status.FAIL
    assert rules.reason == "web ACL edge lacks AWSManagedRulesKnownBadInputsRuleSet"


def test_checks_over_the_real_collector(aws):
    """The spec, the collector's scopes and params, and the checks' lookups agree end to end."""
    from compliance.collect.aws.collector import collect
    from compliance.collect.aws.session import connect
    from compliance.collect.aws.spec import AWS_SPEC
    from controls.aws.inventory import AwsInventory
    from controls.registry import all_checks, run_checks

    ec2, s3 = boto3.client("ec2", REGION), boto3.client("s3", REGION)
    sg = ec2.create_security_group(GroupName="db", Description="db")["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    s3.create_bucket(Bucket="audit-logs", ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(Bucket="audit-logs", ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 30}}})
    boto3.client("cloudtrail", REGION).create_trail(Name="main", S3BucketName="audit-logs",
                                                    IsMultiRegionTrail=True)
    boto3.client("kms", REGION).create_key()

    target = connect(regions=[REGION])
    inv = AwsInventory(target.account_id, target.regions, collect(target, AWS_SPEC, workers=4))
    findings = list(run_checks(all_checks("aws"), inv))
    assert not [f for f in findings if f.resource_id.startswith("check:")]
    status = {(f.check_id, f.resource_id.rsplit("/", 1)[-1]): f for f in findings}
    assert status[("aws.ec2.sg_admin_ports_open", sg)].status is Status.FAIL
    assert "5432 (PostgreSQL)" in status[("aws.ec2.sg_admin_ports_open", sg)].reason
    locked = status[("aws.cloudtrail.bucket_locked", "main")]
    assert locked.status is Status.FAIL and "GOVERNANCE mode for 30 days" in locked.reason
    assert status[("aws.cloudtrail.multi_region_logging", "main")].status is Status.FAIL
    assert status[("aws.s3.bucket_encrypted", "arn:aws:s3:::audit-logs")].status is Status.FAIL
    assert [f.status for f in findings if f.check_id == "aws.kms.key_rotation"] == [Status.FAIL]
    assert status[("aws.iam.root_mfa", "arn:aws:iam::123456789012:root")].status is Status.FAIL
