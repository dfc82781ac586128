"""S3 checks: buckets encrypt by default, with KMS keys where they hold cardholder data."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from compliance.collect.record import Outcome
from compliance.findings import Severity
from controls.aws.inventory import GLOBAL, AwsInventory
from controls.aws.verdicts import listing_errors, unusable
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
                         "not SSE-KMS", bucket.record, enc, tags, region=region)
        else:
            yield passed(arn, f"bucket {name} encrypts by default with {algorithm}", bucket.record, enc, tags,
                         region=region)
