"""The generic collector against moto in-process: real boto3, real pagination, real errors."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws
from moto.core import set_initial_no_auth_action_count

from compliance.collect.aws.collector import NOT_IMPLEMENTED, AwsCollector, collect, fill, plan
from compliance.collect.aws.session import connect
from compliance.collect.aws.spec import AWS_SPEC, GLOBAL, Call, Follow
from compliance.collect.record import Outcome, canonical_json
from compliance.demo import provision


@pytest.fixture
def account():
    with mock_aws():
        provision(endpoint_url=None)  # type: ignore[arg-type]
        yield connect(regions=["us-east-1"])


def by_op(records, service, operation):
    return [r for r in records if r.service == service and r.operation == operation]


MOTO_LACKS = {("ssm", "describe_instance_information"), ("ssm", "list_resource_compliance_summaries")}
"""Operations of the spec moto (5.2) does not implement: recorded as NotImplemented ERROR evidence, never
dropped. Both are follow-ups asked only where instances run; their checks are tested on hand-built
inventories (tests/controls/test_monitoring.py)."""


def spec_operations(calls=AWS_SPEC) -> set[tuple[str, str]]:
    """Every (service, operation) the spec can call, follow-ups included."""
    found: set[tuple[str, str]] = set()

    def walk(service: str, steps) -> None:
        for step in steps:
            found.add((step.service or service, step.operation))
            walk(step.service or service, step.then)

    for call in calls:
        found.add((call.service, call.operation))
        walk(call.service, call.follow)
    return found


def test_what_moto_lacks_is_recorded_as_not_implemented_and_nothing_else_is(account):
    """MOTO_LACKS is exactly what moto answers NotImplemented to today, with an instance running so the
    per-instance follow-ups are asked too; a moto upgrade that adds one of them fails here, on purpose."""
    boto3.client("ec2", region_name="us-east-1").run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)
    records = collect(account, AWS_SPEC)
    lacking = {(r.service, r.operation) for r in records if r.error_code == NOT_IMPLEMENTED}
    assert lacking == MOTO_LACKS
    assert all(r.outcome is Outcome.ERROR for r in records if (r.service, r.operation) in MOTO_LACKS)
    assert spec_operations() >= MOTO_LACKS


def test_every_spec_operation_is_recorded_once_per_scope_with_its_evidence(account):
    records = collect(account, AWS_SPEC)
    for call in AWS_SPEC:
        scope = GLOBAL if call.scope == GLOBAL else "us-east-1"
        params = fill(call.params, {"region": "us-east-1", "account": "123456789012"})
        listed = [r for r in by_op(records, call.service, call.operation) if r.params == params]
        assert len(listed) == 1, call.operation
        assert listed[0].scope == scope
        if (call.service, call.operation) in MOTO_LACKS:
            assert listed[0].outcome is Outcome.ERROR and listed[0].error_code == NOT_IMPLEMENTED
        elif listed[0].outcome is Outcome.ABSENT:
            assert listed[0].error_code in call.absent
        else:
            assert listed[0].outcome is Outcome.OK, listed[0].error
    identity = by_op(records, "sts", "get_caller_identity")[0]
    assert identity.response["Account"] == "123456789012"
    for rec in records:
        assert rec.collected_at.endswith("+00:00")
        body = (
            rec.response
            if rec.outcome is not Outcome.ERROR
            else {"error_code": rec.error_code, "error_message": rec.error_message}
        )
        assert rec.sha256 == hashlib.sha256(canonical_json(body).encode()).hexdigest()
        assert rec.request_id, rec.id
    assert len({r.id for r in records}) == len(records)


def test_follow_ups_run_per_item_and_absent_answers_are_definite(account):
    records = collect(account, AWS_SPEC)
    buckets = by_op(records, "s3", "list_buckets")[0].response["Buckets"]
    locks = {r.params["Bucket"]: r for r in by_op(records, "s3", "get_object_lock_configuration")}
    assert set(locks) == {b["Name"] for b in buckets}
    assert locks["org-trail-logs"].outcome is Outcome.OK
    assert locks["scratch-uploads"].outcome is Outcome.ABSENT
    assert locks["scratch-uploads"].error_code == "ObjectLockConfigurationNotFoundError"
    profiles = {r.params["UserName"]: r.outcome for r in by_op(records, "iam", "get_login_profile")}
    assert profiles == {"alice": Outcome.OK, "bob": Outcome.OK, "ci-deployer": Outcome.ABSENT}
    stage_waf = {
        r.params["ResourceArn"].rsplit("/", 1)[-1]: r
        for r in by_op(records, "wafv2", "get_web_acl_for_resource")
        if "/stages/" in r.params["ResourceArn"]
    }
    assert set(stage_waf) == {"prod", "sandbox"}
    scans = by_op(records, "ecr", "describe_image_scan_findings")
    assert len(scans) == 2 and all("imageDigest" in r.params["imageId"] for r in scans)
    listeners = by_op(records, "elbv2", "describe_listeners")
    assert len(listeners) == 3
    assert len(by_op(records, "wafv2", "get_web_acl_for_resource")) == 3 + 2


def test_pagination_merges_every_page():
    with mock_aws():
        iam = boto3.client("iam")
        for i in range(130):
            iam.create_user(UserName=f"user-{i:03d}")
        target = connect(regions=["us-east-1"])
        records = collect(target, [Call("iam", "list_users", "Users", scope=GLOBAL)])
    users = by_op(records, "iam", "list_users")[0]
    assert len(users.response["Users"]) == 130
    assert "IsTruncated" not in users.response and "Marker" not in users.response


@set_initial_no_auth_action_count(4)
@mock_aws
def test_access_denied_is_recorded_as_an_error_not_dropped():
    iam = boto3.client("iam")
    iam.create_user(UserName="auditor")
    iam.put_user_policy(
        UserName="auditor",
        PolicyName="read-ec2",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Resource": "*", "Action": ["sts:GetCallerIdentity", "ec2:Describe*"]}
                ],
            }
        ),
    )
    key = iam.create_access_key(UserName="auditor")["AccessKey"]
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
        env.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
        env.delenv("AWS_SESSION_TOKEN")
        target = connect(regions=["us-east-1"])
        records = collect(
            target,
            [
                Call("ec2", "describe_security_groups", "SecurityGroups"),
                Call("rds", "describe_db_instances", "DBInstances"),
            ],
        )
    assert by_op(records, "ec2", "describe_security_groups")[0].outcome is Outcome.OK
    denied = by_op(records, "rds", "describe_db_instances")[0]
    assert denied.outcome is Outcome.ERROR
    assert denied.error_code == "AccessDenied"
    assert "rds:DescribeDBInstances" in denied.error


def test_an_operation_the_endpoint_does_not_implement_is_an_error_record():
    with mock_aws():
        target = connect(regions=["us-east-1"])
        records = collect(target, [Call("securityhub", "get_enabled_standards", "StandardsSubscriptions")])
    rec = by_op(records, "securityhub", "get_enabled_standards")[0]
    assert rec.outcome is Outcome.ERROR
    assert rec.error_code == NOT_IMPLEMENTED


def _throttle(**kwargs: Any) -> AWSResponse:
    body = b'{"__type":"ThrottlingException","message":"Rate exceeded"}'
    return AWSResponse(
        "https://kms.us-east-1.amazonaws.com/",
        400,
        {"x-amzn-RequestId": "throttled-1", "Content-Type": "application/x-amz-json-1.1"},
        _Raw(body),
    )


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any):
        yield self.body


def test_throttling_after_retries_is_an_error_record_and_other_calls_go_on():
    with mock_aws():
        boto3.client("kms").create_key()
        target = connect(regions=["us-east-1"])
        collector = AwsCollector(target, max_attempts=2)
        attempts = []
        kms = collector.client("kms", "us-east-1")
        kms.meta.events.register("before-send.kms.ListKeys", lambda **kw: attempts.append(1) or _throttle())
        spec = [Call("kms", "list_keys", "Keys"), Call("ec2", "describe_security_groups", "SecurityGroups")]
        records = list(collector.run(plan(spec, target)))
    throttled = by_op(records, "kms", "list_keys")[0]
    assert throttled.outcome is Outcome.ERROR
    assert throttled.error_code == "ThrottlingException"
    assert len(attempts) == 3  # the first call and max_attempts=2 retries
    assert by_op(records, "ec2", "describe_security_groups")[0].outcome is Outcome.OK


def test_progress_reports_growing_totals(account):
    seen: list[tuple[int, int]] = []
    collect(account, AWS_SPEC, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1][0] == seen[-1][1] > len(AWS_SPEC)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_fill_keeps_types_and_formats_templates():
    ctx = {"Name": "b", "id": "api1", "stageName": "prod", "region": "eu-west-1", "n": 3}
    assert fill({"Bucket": "{Name}", "Scope": "REGIONAL", "n": "{n}"}, ctx) == {
        "Bucket": "b",
        "Scope": "REGIONAL",
        "n": 3,
    }
    assert fill({"a": ["arn:{region}:/{id}/{stageName}"]}, ctx) == {"a": ["arn:eu-west-1:/api1/prod"]}
    with pytest.raises(KeyError):
        fill("{Missing}", ctx)


def test_items_without_the_needed_field_are_skipped_not_called():
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="only-bucket")
        target = connect(regions=["us-east-1"])
        spec = [
            Call(
                "s3",
                "list_buckets",
                "Buckets",
                scope=GLOBAL,
                follow=(
                    Follow("get_bucket_tagging", {"Bucket": "{NoSuchField}"}),
                    Follow("get_bucket_versioning", {"Bucket": "{Name}"}),
                ),
            )
        ]
        records = collect(target, spec)
    assert not by_op(records, "s3", "get_bucket_tagging")
    assert by_op(records, "s3", "get_bucket_versioning")[0].params == {"Bucket": "only-bucket"}
