"""KMS checks: customer managed keys rotate, are not silently pending deletion, and are not public."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from compliance.collect.record import EvidenceRecord
from compliance.findings import Severity
from controls.aws.inventory import AwsInventory, Item
from controls.aws.verdicts import (
    Judgement,
    Listing,
    answer,
    bad,
    each,
    good,
    listing_errors,
    public_statements,
    unknown,
    unusable,
)
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


KEYS = Listing("kms", "list_keys", "Keys", "key/*",
               arn=lambda inv, k: k.get("KeyArn") or inv.arn("kms", k.region, f"key/{k['KeyId']}"),
               label=lambda k: f"key {k['KeyId']}")


def _metadata(inv: AwsInventory, key: Item) -> tuple[EvidenceRecord | None, str | None, dict[str, Any]]:
    rec, why = answer(inv, key, "kms", "describe_key", KeyId=key["KeyId"])
    return rec, why, ((rec.response or {}).get("KeyMetadata") or {}) if rec is not None and not why else {}


@check("aws.kms.no_pending_deletion", severity=Severity.MEDIUM, resource_type="AwsKmsKey",
       title="No customer managed KMS key is scheduled for deletion unnoticed",
       rationale="""Deleting a key makes everything encrypted under it unreadable for good. A pending
       deletion must be a deliberate, reviewed retirement, not a surprise.""",
       remediation="""If the key is still needed run `aws kms cancel-key-deletion --key-id <key>` and
       `enable-key`; otherwise record the retirement and confirm no data still depends on the key.""")
def no_pending_deletion(inv: AwsInventory) -> Iterator[Verdict]:
    def judge(key: Item) -> Judgement | None:
        rec, why, meta = _metadata(inv, key)
        if why:
            return unknown(f"metadata unknown: {why}", rec)
        if meta.get("KeyManager") != "CUSTOMER":
            return None
        if meta.get("KeyState") == "PendingDeletion":
            return bad(f"is scheduled for deletion on {meta.get('DeletionDate', '?')}", rec)
        return good(f"is {meta.get('KeyState', 'in an unstated state')}, not pending deletion", rec)
    yield from each(inv, KEYS, judge)


@check("aws.kms.key_policy_not_public", severity=Severity.HIGH, resource_type="AwsKmsKey",
       title="No KMS key policy lets everyone use the key",
       rationale="""A key policy that allows Principal "*" without a condition lets any AWS account use the
       key, so whoever can reach the ciphertext can decrypt it.""",
       remediation="""Edit the key policy (KMS console > key > Key policy, or `aws kms put-key-policy`) so
       each Allow names the account's roles or carries a condition such as kms:CallerAccount.""")
def key_policy_not_public(inv: AwsInventory) -> Iterator[Verdict]:
    def judge(key: Item) -> Judgement | None:
        rec, why, meta = _metadata(inv, key)
        if why:
            return unknown(f"metadata unknown: {why}", rec)
        if meta.get("KeyManager") != "CUSTOMER":
            return None
        policy, why = answer(inv, key, "kms", "get_key_policy", KeyId=key["KeyId"], PolicyName="default")
        if why:
            return unknown(f"key policy unknown: {why}", rec, policy)
        public = public_statements((policy.response or {}).get("Policy"))  # type: ignore[union-attr]
        if public:
            actions = ", ".join(str(st.get("Action")) for st in public)
            return bad(f"policy allows anyone: {actions}", rec, policy)
        return good("policy grants nothing to everyone", rec, policy)
    yield from each(inv, KEYS, judge)
