"""KMS deletion and key policies; CloudTrail event selectors, CloudWatch delivery and the trail's bucket."""

from __future__ import annotations

import json

from compliance.findings import Status
from tests.controls.builders import ACCOUNT, REGION, absent, inventory, ok, only, run

KEY = "k-1"


def kms(state="Enabled", manager="CUSTOMER", policy=None):
    records = [
        ok("kms", "list_keys", {"Keys": [{"KeyId": KEY}]}),
        ok(
            "kms",
            "describe_key",
            {"KeyMetadata": {"KeyId": KEY, "KeyManager": manager, "KeyState": state}},
            KeyId=KEY,
        ),
    ]
    if policy is not None:
        records.append(
            ok(
                "kms",
                "get_key_policy",
                {"Policy": json.dumps({"Statement": policy})},
                KeyId=KEY,
                PolicyName="default",
            )
        )
    return inventory(*records)


def test_pending_deletion():
    assert only("aws.kms.no_pending_deletion", kms()).status is Status.PASS
    assert only("aws.kms.no_pending_deletion", kms("PendingDeletion")).status is Status.FAIL
    assert run("aws.kms.no_pending_deletion", kms("PendingDeletion", manager="AWS")) == []
    assert (
        only(
            "aws.kms.no_pending_deletion", inventory(ok("kms", "list_keys", {"Keys": [{"KeyId": KEY}]}))
        ).status
        is Status.ERROR
    )


def test_key_policy_not_public():
    owner = [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*"}]
    anyone = [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:Decrypt"}]
    assert only("aws.kms.key_policy_not_public", kms(policy=owner)).status is Status.PASS
    public = only("aws.kms.key_policy_not_public", kms(policy=anyone))
    assert public.status is Status.FAIL and "kms:Decrypt" in public.reason
    assert only("aws.kms.key_policy_not_public", kms()).status is Status.ERROR


TRAIL = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/main"
ACCOUNT_TRAILS = f"arn:aws:cloudtrail::{ACCOUNT}:trails"


def trail(**fields):
    data = {
        "Name": "main",
        "TrailARN": TRAIL,
        "HomeRegion": REGION,
        "IsMultiRegionTrail": True,
        "S3BucketName": "logs",
        **fields,
    }
    return ok("cloudtrail", "describe_trails", {"trailList": [data]})


def selectors(response):
    return ok("cloudtrail", "get_event_selectors", response, TrailName=TRAIL)


def test_cloudwatch_logs():
    assert (
        only("aws.cloudtrail.cloudwatch_logs", inventory(trail(CloudWatchLogsLogGroupArn="arn:lg"))).status
        is Status.PASS
    )
    assert only("aws.cloudtrail.cloudwatch_logs", inventory(trail())).status is Status.FAIL


def test_management_and_s3_data_events():
    full = {
        "EventSelectors": [
            {
                "ReadWriteType": "All",
                "IncludeManagementEvents": True,
                "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]}],
            }
        ]
    }
    writes = {"EventSelectors": [{"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True}]}
    advanced = {
        "AdvancedEventSelectors": [
            {"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]},
            {
                "FieldSelectors": [
                    {"Field": "eventCategory", "Equals": ["Data"]},
                    {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
                ]
            },
        ]
    }
    for check in ("aws.cloudtrail.management_events", "aws.cloudtrail.s3_data_events"):
        good = only(check, inventory(trail(), selectors(full)))
        assert (
            good.status is Status.PASS and good.resource_id == ACCOUNT_TRAILS and len(good.evidence_ids) == 2
        )
        assert only(check, inventory(trail(), selectors(advanced))).status is Status.PASS
        assert only(check, inventory(trail(), selectors(writes))).status is Status.FAIL
        assert only(check, inventory(trail())).status is Status.ERROR
        nothing = only(check, inventory(ok("cloudtrail", "describe_trails", {"trailList": []})))
        assert nothing.status is Status.FAIL and nothing.evidence_ids


def test_trail_bucket_public_and_logging():
    block = {
        "PublicAccessBlockConfiguration": dict.fromkeys(
            ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True
        )
    }
    no_account = absent("s3control", "get_public_access_block", region=None, AccountId=ACCOUNT)
    good = inventory(
        trail(),
        no_account,
        ok("s3", "get_public_access_block", block, region=None, Bucket="logs"),
        ok("s3", "get_bucket_logging", {"LoggingEnabled": {"TargetBucket": "x"}}, region=None, Bucket="logs"),
    )
    bad = inventory(
        trail(),
        no_account,
        absent("s3", "get_public_access_block", region=None, Bucket="logs"),
        ok("s3", "get_bucket_logging", {}, region=None, Bucket="logs"),
    )
    for check in ("aws.cloudtrail.bucket_not_public", "aws.cloudtrail.bucket_access_logging"):
        assert only(check, good).status is Status.PASS
        assert only(check, bad).status is Status.FAIL
        foreign = only(check, inventory(trail(), no_account))
        assert foreign.status is Status.ERROR and "another account" in foreign.reason
