"""S3 public access, TLS-only policies, access logs and lifecycle of cardholder data."""

from __future__ import annotations

import json

from compliance.findings import Status
from tests.controls.builders import ACCOUNT, absent, broken, inventory, ok, only, run

ALL_ON = {
    "PublicAccessBlockConfiguration": {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
}
HALF = {"PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "IgnorePublicAcls": True}}


def buckets(*names: str):
    return ok("s3", "list_buckets", {"Buckets": [{"Name": n} for n in names]}, region=None)


def on(operation: str, bucket: str, response):
    return ok("s3", operation, response, region=None, Bucket=bucket)


def none(operation: str, bucket: str, code: str = "NotFound"):
    return absent("s3", operation, region=None, code=code, Bucket=bucket)


def account(response=None):
    if response is None:
        return absent("s3control", "get_public_access_block", region=None, AccountId=ACCOUNT)
    return ok("s3control", "get_public_access_block", response, region=None, AccountId=ACCOUNT)


def statuses(check_id, inv):
    return {f.resource_id.rsplit(":", 1)[-1]: f.status for f in run(check_id, inv)}


def test_account_public_access_block():
    check = "aws.s3.account_public_access_block"
    assert only(check, inventory(account(ALL_ON))).status is Status.PASS
    half = only(check, inventory(account(HALF)))
    assert half.status is Status.FAIL and "BlockPublicPolicy, RestrictPublicBuckets" in half.reason
    assert only(check, inventory(account())).status is Status.FAIL
    assert (
        only(
            check, inventory(broken("s3control", "get_public_access_block", region=None, AccountId=ACCOUNT))
        ).status
        is Status.ERROR
    )


def test_bucket_public_access_block_counts_the_account_setting():
    inv = inventory(
        buckets("a", "b", "c", "d"),
        account(),
        on("get_public_access_block", "a", ALL_ON),
        on("get_public_access_block", "b", HALF),
        none("get_public_access_block", "c"),
    )
    assert statuses("aws.s3.bucket_public_access_block", inv) == {
        "a": Status.PASS,
        "b": Status.FAIL,
        "c": Status.FAIL,
        "d": Status.ERROR,
    }
    covered = inventory(buckets("x"), account(ALL_ON))
    assert only("aws.s3.bucket_public_access_block", covered).status is Status.PASS


def policy(*statements):
    return {"Policy": json.dumps({"Version": "2012-10-17", "Statement": list(statements)})}


PUBLIC_READ = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::p/*"}
ORG_READ = {**PUBLIC_READ, "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-1"}}}
DENY_HTTP = {
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:*",
    "Resource": "*",
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}


def test_bucket_policy_not_public_and_tls_only():
    inv = inventory(
        buckets("open", "org", "bare", "lost"),
        on("get_bucket_policy", "open", policy(PUBLIC_READ)),
        on("get_bucket_policy", "org", policy(ORG_READ, DENY_HTTP)),
        none("get_bucket_policy", "bare", "NoSuchBucketPolicy"),
    )
    assert statuses("aws.s3.bucket_policy_not_public", inv) == {
        "open": Status.FAIL,
        "org": Status.PASS,
        "bare": Status.PASS,
        "lost": Status.ERROR,
    }
    assert statuses("aws.s3.tls_only", inv) == {
        "open": Status.FAIL,
        "org": Status.PASS,
        "bare": Status.FAIL,
        "lost": Status.ERROR,
    }


def test_bucket_acl_not_public():
    everyone = {
        "Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"},
        "Permission": "READ",
    }
    owner = {"Grantee": {"Type": "CanonicalUser", "ID": "abc"}, "Permission": "FULL_CONTROL"}
    inv = inventory(
        buckets("open", "shut", "lost"),
        on("get_bucket_acl", "open", {"Grants": [owner, everyone]}),
        on("get_bucket_acl", "shut", {"Grants": [owner]}),
    )
    found = {f.resource_id.rsplit(":", 1)[-1]: f for f in run("aws.s3.bucket_acl_not_public", inv)}
    assert found["open"].status is Status.FAIL and "READ to AllUsers" in found["open"].reason
    assert found["shut"].status is Status.PASS and found["lost"].status is Status.ERROR


def test_access_logging():
    inv = inventory(
        buckets("good", "bad", "lost"),
        on("get_bucket_logging", "good", {"LoggingEnabled": {"TargetBucket": "logs"}}),
        on("get_bucket_logging", "bad", {}),
    )
    expected = {"good": Status.PASS, "bad": Status.FAIL, "lost": Status.ERROR}
    assert statuses("aws.s3.access_logging", inv) == expected


def test_cardholder_data_lifecycle_only_judges_cardholder_buckets():
    cde = {"TagSet": [{"Key": "data-classification", "Value": "cardholder"}]}
    expiring = {"Rules": [{"ID": "r", "Status": "Enabled", "Expiration": {"Days": 400}}]}
    inv = inventory(
        buckets("kept", "forever", "other", "unknown", "untagged"),
        on("get_bucket_tagging", "kept", cde),
        on("get_bucket_lifecycle_configuration", "kept", expiring),
        on("get_bucket_tagging", "forever", cde),
        none("get_bucket_lifecycle_configuration", "forever", "NoSuchLifecycleConfiguration"),
        on("get_bucket_tagging", "other", {"TagSet": []}),
        on("get_bucket_tagging", "unknown", cde),
    )
    assert statuses("aws.s3.cardholder_data_lifecycle", inv) == {
        "kept": Status.PASS,
        "forever": Status.FAIL,
        "unknown": Status.ERROR,
        "untagged": Status.ERROR,
    }
