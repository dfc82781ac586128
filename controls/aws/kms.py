"""KMS checks: customer managed encryption keys rotate automatically."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from compliance.findings import Severity
from controls.aws.inventory import AwsInventory
from controls.aws.verdicts import listing_errors, unusable
from controls.registry import Verdict, check, errored, failed, passed


def rotatable(meta: dict[str, Any]) -> bool:
    """An enabled, customer managed, symmetric encryption key: the keys automatic rotation applies to."""
    spec = meta.get("KeySpec") or meta.get("CustomerMasterKeySpec") or "SYMMETRIC_DEFAULT"
    return (meta.get("KeyManager") == "CUSTOMER" and meta.get("KeyState", "Enabled") == "Enabled"
            and meta.get("Enabled", True) is True and spec == "SYMMETRIC_DEFAULT"
            and meta.get("KeyUsage", "ENCRYPT_DECRYPT") == "ENCRYPT_DECRYPT")


@check("aws.kms.key_rotation", severity=Severity.MEDIUM, resource_type="AwsKmsKey",
       title="Customer managed KMS keys rotate their key material automatically",
       rationale="""Keys must be retired at the end of a defined cryptoperiod. Automatic rotation replaces
       the key material on a schedule while old ciphertext stays decryptable, limiting how much data any
       one key version protects.""",
       remediation="""In the KMS console open the key, choose Key rotation and tick Automatically rotate
       this KMS key, or run `aws kms enable-key-rotation --key-id <key> --rotation-period-in-days 365`.""")
def key_rotation(inv: AwsInventory) -> Iterator[Verdict]:
    keys, failures = inv.listing("kms", "list_keys", "Keys")
    yield from listing_errors(inv, failures, "kms", "key/*")
    for key in keys:
        arn = key.get("KeyArn") or inv.arn("kms", key.region, f"key/{key['KeyId']}")
        described = inv.call("kms", "describe_key", key.region, KeyId=key["KeyId"])
        why = unusable(described, "describe_key")
        if described is None or why:
            yield errored(arn, f"key {key['KeyId']}: metadata unknown: {why}", key.record, described,
                          region=key.region)
            continue
        meta = (described.response or {}).get("KeyMetadata") or {}
        if not rotatable(meta):
            continue
        label = f"key {key['KeyId']}" + (f" ({meta['Description']})" if meta.get("Description") else "")
        status = inv.call("kms", "get_key_rotation_status", key.region, KeyId=key["KeyId"])
        why = unusable(status, "get_key_rotation_status")
        if status is None or why:
            yield errored(arn, f"{label}: rotation status unknown: {why}", key.record, described, status,
                          region=key.region)
        elif (status.response or {}).get("KeyRotationEnabled") is True:
            period = (status.response or {}).get("RotationPeriodInDays")
            every = f" every {period} days" if period else ""
            yield passed(arn, f"{label} rotates automatically{every}", key.record, described, status,
                         region=key.region)
        else:
            yield failed(arn, f"{label} does not rotate automatically", key.record, described, status,
                         region=key.region)
