"""S3 checks: encryption, public access (account, policy, ACL), TLS-only access, access logging and
lifecycle of buckets holding cardholder data."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from compliance.collect.record import EvidenceRecord, Outcome
from compliance.findings import Severity
from controls.aws.inventory import GLOBAL, AwsInventory, Item
from controls.aws.verdicts import (
    Judgement,
    Listing,
    answer,
    bad,
    each,
    good,
    listing_errors,
    policy_statements,
    public_statements,
    unknown,
    unusable,
)
from controls.registry import Verdict, check, errored, failed, passed

CLASSIFICATION_KEYS = ("data-classification", "dataclassification")
CARDHOLDER_CLASSES = ("cardholder", "cde", "pci")
SCOPE_KEY = "pci-scope"
IN_SCOPE = ("true", "in-scope")
KMS_ALGORITHMS = ("aws:kms", "aws:kms:dsse")


def bucket_arn(name: str) -> str:
    return f"arn:aws:s3:::{name}"


def holds_cardholder_data(tags: list[dict[str, Any]]) -> bool:
    """Whether the bucket's tags (case-insensitive) mark it as storing cardholder data."""
    for tag in tags:
        key, value = str(tag.get("Key", "")).lower(), str(tag.get("Value", "")).strip().lower()
        if key in CLASSIFICATION_KEYS and value in CARDHOLDER_CLASSES:
            return True
        if key == SCOPE_KEY and value in IN_SCOPE:
            return True
    return False


def default_algorithm(response: dict[str, Any]) -> str | None:
    rules = (response.get("ServerSideEncryptionConfiguration") or {}).get("Rules") or []
    for rule in rules:
        algorithm = (rule.get("ApplyServerSideEncryptionByDefault") or {}).get("SSEAlgorithm")
        if algorithm:
            return str(algorithm)
    return None


@check("aws.s3.bucket_encrypted", severity=Severity.HIGH, resource_type="AwsS3Bucket",
       title="S3 buckets encrypt objects by default, with KMS keys for cardholder data",
       rationale="""Default encryption protects every object written to the bucket. Buckets tagged as
       holding cardholder data need KMS keys so that reading the data also requires access to a key whose
       use is controlled separately and logged.""",
       remediation="""In the S3 console open the bucket, choose Properties > Default encryption > Edit and
       select SSE-KMS with a customer managed key, or run `aws s3api put-bucket-encryption` with
       SSEAlgorithm aws:kms.""")
def bucket_encrypted(inv: AwsInventory) -> Iterator[Verdict]:
    buckets, failures = inv.global_listing("s3", "list_buckets", "Buckets")
    yield from listing_errors(inv, failures, "s3", "buckets", arn=lambda _: inv.arn("s3", GLOBAL, "*"))
    for bucket in buckets:
        name = bucket["Name"]
        arn, region = bucket_arn(name), bucket.get("BucketRegion")
        enc = inv.call("s3", "get_bucket_encryption", None, Bucket=name)
        why = unusable(enc, "get_bucket_encryption")
        if enc is None or why:
            yield errored(arn, f"bucket {name}: encryption unknown: {why}", bucket.record, enc, region=region)
            continue
        algorithm = default_algorithm(enc.response or {}) if enc.outcome is Outcome.OK else None
        if algorithm is None:
            yield failed(arn, f"bucket {name} has no default encryption", bucket.record, enc, region=region)
            continue
        if algorithm in KMS_ALGORITHMS:
            yield passed(arn, f"bucket {name} encrypts by default with {algorithm}", bucket.record, enc,
                         region=region)
            continue
        tags = inv.call("s3", "get_bucket_tagging", None, Bucket=name)
        why = unusable(tags, "get_bucket_tagging")
        if tags is None or why:
            yield errored(arn, f"bucket {name} encrypts with {algorithm}, but whether it holds cardholder "
                          f"data is unknown: {why}", bucket.record, enc, tags, region=region)
        elif holds_cardholder_data((tags.response or {}).get("TagSet") or []):
            yield failed(arn, f"bucket {name} is tagged as cardholder data but encrypts with {algorithm}, "
                         "not SSE-KMS (organisation policy, stricter than PCI DSS 3.5.1, which does not "
                         "name a key service)", bucket.record, enc, tags, region=region)
        else:
            yield passed(arn, f"bucket {name} encrypts by default with {algorithm}", bucket.record, enc, tags,
                         region=region)


BLOCK_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
PUBLIC_GROUPS = ("http://acs.amazonaws.com/groups/global/AllUsers",
                 "http://acs.amazonaws.com/groups/global/AuthenticatedUsers")

BUCKETS = Listing("s3", "list_buckets", "Buckets", "*", arn=lambda inv, b: bucket_arn(b["Name"]),
                  label=lambda b: f"bucket {b['Name']}", scope=GLOBAL)


def blocks_everything(response: dict[str, Any] | None) -> bool:
    config = (response or {}).get("PublicAccessBlockConfiguration") or {}
    return all(config.get(flag) is True for flag in BLOCK_FLAGS)


def _unset(response: dict[str, Any] | None) -> str:
    config = (response or {}).get("PublicAccessBlockConfiguration") or {}
    return ", ".join(flag for flag in BLOCK_FLAGS if config.get(flag) is not True)


def account_block(inv: AwsInventory) -> tuple[EvidenceRecord | None, str | None]:
    """The account-wide S3 public access block: its record, and why it is unknown (if it is)."""
    rec = inv.call("s3control", "get_public_access_block", None, AccountId=inv.account_id)
    return rec, unusable(rec, "get_public_access_block")


@check("aws.s3.account_public_access_block", severity=Severity.HIGH,
       resource_type="AwsS3AccountPublicAccessBlock",
       title="S3 Block Public Access is on for the whole account",
       rationale="""The account-wide block stops any bucket, present or future, from being made public by a
       policy or ACL mistake. It is the single switch that keeps stored data off the internet.""",
       remediation="""In the S3 console choose Block Public Access settings for this account > Edit and tick
       all four options, or run `aws s3control put-public-access-block --account-id <id>` with all four
       settings true.""")
def account_public_access_block(inv: AwsInventory) -> Iterator[Verdict]:
    arn = inv.arn("s3", GLOBAL, "public-access-block")
    rec, why = account_block(inv)
    if why:
        yield errored(arn, f"account public access block unknown: {why}", rec)
    elif rec is not None and rec.outcome is Outcome.OK and blocks_everything(rec.response):
        yield passed(arn, "the account blocks all public access to S3", rec)
    elif rec is not None and rec.outcome is Outcome.OK:
        yield failed(arn, f"the account's public access block leaves off {_unset(rec.response)}", rec)
    else:
        yield failed(arn, "the account has no S3 public access block", rec)


@check("aws.s3.bucket_public_access_block", severity=Severity.HIGH, resource_type="AwsS3Bucket",
       title="Every S3 bucket blocks public access (itself or through the account)",
       rationale="""A bucket without Block Public Access can be opened to the internet by one policy or ACL
       change. The block must apply to each bucket, from its own settings or the account's.""",
       remediation="""In the S3 console open the bucket, choose Permissions > Block public access > Edit and
       tick all four options, or run `aws s3api put-public-access-block --bucket <name>`; or turn the
       block on for the whole account.""")
def bucket_public_access_block(inv: AwsInventory) -> Iterator[Verdict]:
    account, account_why = account_block(inv)

    def judge(bucket: Item) -> Judgement:
        if not account_why and account is not None and account.outcome is Outcome.OK \
                and blocks_everything(account.response):
            return good("is covered by the account-wide public access block", account)
        rec, why = answer(inv, bucket, "s3", "get_public_access_block", Bucket=bucket["Name"])
        if why:
            return unknown(f"public access block unknown: {why}", rec)
        if rec is not None and rec.outcome is Outcome.OK and blocks_everything(rec.response):
            return good("blocks all public access", rec, account)
        if rec is not None and rec.outcome is Outcome.OK:
            return bad(f"public access block leaves off {_unset(rec.response)}", rec, account)
        return bad("has no public access block and the account's does not cover it", rec, account)
    yield from each(inv, BUCKETS, judge)


def _policy(inv: AwsInventory, bucket: Item) -> tuple[EvidenceRecord | None, str | None, Any]:
    rec, why = answer(inv, bucket, "s3", "get_bucket_policy", Bucket=bucket["Name"])
    document = (rec.response or {}).get("Policy") if rec is not None and rec.outcome is Outcome.OK else None
    return rec, why, document


@check("aws.s3.bucket_policy_not_public", severity=Severity.CRITICAL, resource_type="AwsS3Bucket",
       title="No S3 bucket policy grants access to everyone",
       rationale="""A bucket policy with Principal "*" and no condition lets anyone on the internet use the
       bucket. Stored data must never be reachable from untrusted networks.""",
       remediation="""Edit the bucket policy (S3 console > bucket > Permissions > Bucket policy, or
       `aws s3api put-bucket-policy`) so every Allow names specific principals or carries a condition such
       as aws:SourceVpce or aws:PrincipalOrgID.""")
def bucket_policy_not_public(inv: AwsInventory) -> Iterator[Verdict]:
    def judge(bucket: Item) -> Judgement:
        rec, why, document = _policy(inv, bucket)
        if why:
            return unknown(f"bucket policy unknown: {why}", rec)
        if document is None:
            return good("has no bucket policy", rec)
        public = public_statements(document)
        if public:
            actions = ", ".join(str(st.get("Action")) for st in public)
            return bad(f"policy allows anyone: {actions}", rec)
        return good("policy grants nothing to everyone", rec)
    yield from each(inv, BUCKETS, judge)


@check("aws.s3.bucket_acl_not_public", severity=Severity.CRITICAL, resource_type="AwsS3Bucket",
       title="No S3 bucket ACL grants access to all users",
       rationale="""An ACL grant to AllUsers or AuthenticatedUsers opens the bucket to anyone with (or
       without) an AWS account.""",
       remediation="""Remove the grant with `aws s3api put-bucket-acl --bucket <name> --acl private` and set
       Object Ownership to Bucket owner enforced so ACLs stop applying.""")
def bucket_acl_not_public(inv: AwsInventory) -> Iterator[Verdict]:
    def judge(bucket: Item) -> Judgement:
        rec, why = answer(inv, bucket, "s3", "get_bucket_acl", Bucket=bucket["Name"])
        if why:
            return unknown(f"ACL unknown: {why}", rec)
        grants = [f"{g.get('Permission')} to {str((g.get('Grantee') or {}).get('URI')).rsplit('/', 1)[-1]}"
                  for g in (rec.response or {}).get("Grants") or []  # type: ignore[union-attr]
                  if (g.get("Grantee") or {}).get("URI") in PUBLIC_GROUPS]
        if grants:
            return bad(f"ACL grants {', '.join(grants)}", rec)
        return good("ACL grants nothing to all users", rec)
    yield from each(inv, BUCKETS, judge)


def denies_plain_http(document: Any) -> bool:
    """A Deny statement conditioned on aws:SecureTransport being false."""
    for st in policy_statements(document):
        if st.get("Effect") != "Deny":
            continue
        for values in (st.get("Condition") or {}).values():
            for key, value in (values or {}).items():
                if key.lower() == "aws:securetransport" and str(value).lower() in ("false", "['false']"):
                    return True
    return False


@check("aws.s3.tls_only", severity=Severity.MEDIUM, resource_type="AwsS3Bucket",
       title="S3 bucket policies refuse requests that do not use TLS",
       rationale="""Without a policy that denies plain HTTP, a client can read or write the bucket's data
       unencrypted over the network.""",
       remediation="""Add a statement to the bucket policy that denies s3:* for everyone when
       aws:SecureTransport is false (`aws s3api put-bucket-policy`).""")
def tls_only(inv: AwsInventory) -> Iterator[Verdict]:
    def judge(bucket: Item) -> Judgement:
        rec, why, document = _policy(inv, bucket)
        if why:
            return unknown(f"bucket policy unknown: {why}", rec)
        if document is None:
            return bad("has no bucket policy, so plain HTTP requests are allowed", rec)
        if denies_plain_http(document):
            return good("policy denies requests without TLS", rec)
        return bad("policy does not deny requests without TLS", rec)
    yield from each(inv, BUCKETS, judge)


@check("aws.s3.access_logging", severity=Severity.MEDIUM, resource_type="AwsS3Bucket",
       title="S3 buckets log the requests made to them",
       rationale="""Server access logs record who read or changed which object and when. Without them,
       access to stored data cannot be traced.""",
       remediation="""In the S3 console open the bucket, choose Properties > Server access logging > Edit
       and name a target bucket, or run `aws s3api put-bucket-logging`; CloudTrail S3 data events are an
       alternative.""")
def access_logging(inv: AwsInventory) -> Iterator[Verdict]:
    def judge(bucket: Item) -> Judgement:
        rec, why = answer(inv, bucket, "s3", "get_bucket_logging", Bucket=bucket["Name"])
        if why:
            return unknown(f"access logging unknown: {why}", rec)
        target = ((rec.response or {}).get("LoggingEnabled") or {}).get("TargetBucket")  # type: ignore[union-attr]
        if target:
            return good(f"logs requests to bucket {target}", rec)
        return bad("does not log requests", rec)
    yield from each(inv, BUCKETS, judge)


def expires(rules: list[dict[str, Any]]) -> bool:
    return any(r.get("Status") == "Enabled" and (r.get("Expiration") or r.get("NoncurrentVersionExpiration"))
               for r in rules)


@check("aws.s3.cardholder_data_lifecycle", severity=Severity.MEDIUM, resource_type="AwsS3Bucket",
       title="Buckets holding cardholder data delete objects after a set time",
       rationale="""Account data must be kept no longer than its retention period requires. An enabled
       lifecycle rule that expires objects enforces that limit without relying on people.""",
       remediation="""In the S3 console open the bucket, choose Management > Create lifecycle rule and add
       an Expire current versions action matching the retention policy, or run
       `aws s3api put-bucket-lifecycle-configuration`.""")
def cardholder_data_lifecycle(inv: AwsInventory) -> Iterator[Verdict]:
    def judge(bucket: Item) -> Judgement | None:
        tags, why = answer(inv, bucket, "s3", "get_bucket_tagging", Bucket=bucket["Name"])
        if why:
            return unknown(f"whether it holds cardholder data is unknown: {why}", tags)
        if not holds_cardholder_data((tags.response or {}).get("TagSet") or []):  # type: ignore[union-attr]
            return None
        rec, why = answer(inv, bucket, "s3", "get_bucket_lifecycle_configuration", Bucket=bucket["Name"])
        if why:
            return unknown(f"holds cardholder data; lifecycle unknown: {why}", tags, rec)
        if expires((rec.response or {}).get("Rules") or []):  # type: ignore[union-attr]
            return good("holds cardholder data and expires objects by lifecycle rule", tags, rec)
        return bad("holds cardholder data and no enabled lifecycle rule expires it", tags, rec)
    yield from each(inv, BUCKETS, judge)
