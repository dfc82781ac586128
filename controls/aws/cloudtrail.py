"""CloudTrail checks: a logging multi-region trail, validated and encrypted logs in a locked bucket."""

from __future__ import annotations

from collections.abc import Iterator

from compliance.collect.record import EvidenceRecord, Outcome
from compliance.findings import Severity
from controls.aws.inventory import GLOBAL, AwsInventory, Item
from controls.aws.verdicts import listing_errors, unusable
from controls.registry import Verdict, check, errored, failed, passed

RETENTION_DAYS = 365


def trails(inv: AwsInventory) -> tuple[list[Item], list[EvidenceRecord]]:
    """Every trail once: a multi-region trail shows in each region, its home region's copy is kept."""
    items, failures = inv.listing("cloudtrail", "describe_trails", "trailList")
    unique: dict[str, Item] = {}
    for item in items:
        seen = unique.get(item["TrailARN"])
        if seen is None or (seen.region != seen.get("HomeRegion") and item.region == item.get("HomeRegion")):
            unique[item["TrailARN"]] = item
    return list(unique.values()), failures


def _home(trail: Item) -> str:
    return trail.get("HomeRegion") or trail.region


def _label(trail: Item) -> str:
    return f"trail {trail.get('Name', trail['TrailARN'])}"


def _status(inv: AwsInventory, trail: Item) -> EvidenceRecord | None:
    return inv.call("cloudtrail", "get_trail_status", _home(trail), Name=trail["TrailARN"])


@check("aws.cloudtrail.multi_region_logging", severity=Severity.HIGH, resource_type="AwsCloudTrailTrail",
       title="A multi-region CloudTrail trail is logging",
       rationale="""Every API call in every region must leave an audit record; a trail that covers all
       regions catches activity in regions nobody watches, and a stopped trail records nothing.""",
       remediation="""In the CloudTrail console create a trail with Apply trail to all regions (or run
       `aws cloudtrail update-trail --is-multi-region-trail`), and start it with
       `aws cloudtrail start-logging --name <trail>`.""")
def multi_region_logging(inv: AwsInventory) -> Iterator[Verdict]:
    """A region whose listing failed does not matter once a logging multi-region trail is seen: that
    trail covers the region too. Only when none is seen does such a failure make the answer unknown."""
    found, failures = trails(inv)
    account_arn = inv.arn("cloudtrail", GLOBAL, "trails")
    logging: list[str] = []
    evidence: list[EvidenceRecord | None] = [t.record for t in found]
    for trail in (t for t in found if t.get("IsMultiRegionTrail") is True):
        status = _status(inv, trail)
        evidence.append(status)
        why = unusable(status, "get_trail_status")
        region = _home(trail)
        if status is None or why:
            yield errored(trail["TrailARN"], f"{_label(trail)}: logging status unknown: {why}", trail.record,
                          status, region=region)
        elif (status.response or {}).get("IsLogging") is True:
            logging.append(trail.get("Name", trail["TrailARN"]))
            yield passed(trail["TrailARN"], f"multi-region {_label(trail)} is logging", trail.record, status,
                         region=region)
        else:
            yield failed(trail["TrailARN"], f"multi-region {_label(trail)} is not logging", trail.record,
                         status, region=region)
    if logging:
        yield passed(account_arn, f"multi-region trail(s) logging: {', '.join(logging)}", *evidence)
    elif failures:
        regions = ", ".join(rec.scope or GLOBAL for rec in failures)
        yield errored(account_arn, f"no logging multi-region trail seen, and trails could not be listed in "
                      f"{regions}: {failures[0].error}", *evidence, *failures)
    else:
        yield failed(account_arn, "no multi-region trail is logging", *evidence)


def _per_trail(inv: AwsInventory) -> tuple[list[Item], Iterator[Verdict]]:
    found, failures = trails(inv)
    return found, listing_errors(inv, failures, "cloudtrail", "trail/*")


@check("aws.cloudtrail.log_validation", severity=Severity.MEDIUM, resource_type="AwsCloudTrailTrail",
       title="CloudTrail trails validate the integrity of their log files",
       rationale="""Log file validation writes signed digest files, so anyone reviewing the audit trail can
       prove that no log file was changed or deleted after delivery.""",
       remediation="""In the CloudTrail console edit the trail and tick Log file validation, or run
       `aws cloudtrail update-trail --name <trail> --enable-log-file-validation`.""")
def log_validation(inv: AwsInventory) -> Iterator[Verdict]:
    found, errors = _per_trail(inv)
    yield from errors
    for trail in found:
        if trail.get("LogFileValidationEnabled") is True:
            yield passed(trail["TrailARN"], f"{_label(trail)} validates its log files", trail.record,
                         region=_home(trail))
        else:
            yield failed(trail["TrailARN"], f"{_label(trail)} does not validate its log files", trail.record,
                         region=_home(trail))


@check("aws.cloudtrail.kms_encrypted", severity=Severity.MEDIUM, resource_type="AwsCloudTrailTrail",
       title="CloudTrail trails encrypt their logs with a KMS key",
       rationale="""Audit logs reveal a great deal about the environment; encrypting them with a customer
       managed KMS key means reading them also needs permission on the key, which is itself logged.""",
       remediation="""In the CloudTrail console edit the trail and enable Log file SSE-KMS encryption with a
       customer managed key, or run `aws cloudtrail update-trail --name <trail> --kms-key-id <key>`.""")
def kms_encrypted(inv: AwsInventory) -> Iterator[Verdict]:
    found, errors = _per_trail(inv)
    yield from errors
    for trail in found:
        if trail.get("KmsKeyId"):
            yield passed(trail["TrailARN"], f"{_label(trail)} encrypts its logs with {trail['KmsKeyId']}",
                         trail.record, region=_home(trail))
        else:
            yield failed(trail["TrailARN"], f"{_label(trail)} does not encrypt its logs with a KMS key",
                         trail.record, region=_home(trail))


def retention_days(retention: dict) -> int:
    """Days of a default retention rule; Years counts as 365 days each."""
    return max(int(retention.get("Days") or 0), int(retention.get("Years") or 0) * 365)


def _lock_problem(response: dict) -> tuple[str | None, str]:
    """(problem or None, description) of a bucket's object lock configuration."""
    config = response.get("ObjectLockConfiguration") or {}
    if config.get("ObjectLockEnabled") != "Enabled":
        return "has no object lock", ""
    retention = (config.get("Rule") or {}).get("DefaultRetention")
    if not retention:
        return "has object lock without a default retention rule", ""
    mode, days = retention.get("Mode", "?"), retention_days(retention)
    described = f"{mode} mode for {days} days"
    if mode != "COMPLIANCE":
        return f"is locked in {described}, not COMPLIANCE mode", described
    if days < RETENTION_DAYS:
        return f"is locked for only {days} days (at least {RETENTION_DAYS} needed)", described
    return None, described


@check("aws.cloudtrail.bucket_locked", severity=Severity.HIGH, resource_type="AwsCloudTrailTrail",
       title="CloudTrail logs are kept in a bucket locked in COMPLIANCE mode for a year",
       rationale="""Audit logs must be kept for at least a year and protected from change. S3 Object Lock
       in COMPLIANCE mode stops anyone, the root user included, from deleting or overwriting a log before
       its retention ends.""",
       remediation="""Deliver the trail to a bucket created with Object Lock enabled and set its default
       retention in the S3 console (Properties > Object Lock > Edit: Compliance, 365 days) or with
       `aws s3api put-object-lock-configuration`.""")
def bucket_locked(inv: AwsInventory) -> Iterator[Verdict]:
    found, errors = _per_trail(inv)
    yield from errors
    for trail in found:
        arn, region, bucket = trail["TrailARN"], _home(trail), trail.get("S3BucketName")
        if not bucket:
            yield errored(arn, f"{_label(trail)} names no S3 bucket", trail.record, region=region)
            continue
        lock = inv.call("s3", "get_object_lock_configuration", None, Bucket=bucket)
        if lock is None:
            yield errored(arn, f"{_label(trail)}: bucket {bucket} not readable (no record of it in this "
                          "account's evidence; it may belong to another account)", trail.record,
                          region=region)
            continue
        if lock.outcome is Outcome.ERROR:
            yield errored(arn, f"{_label(trail)}: bucket {bucket} object lock unknown: {lock.error}",
                          trail.record, lock, region=region)
            continue
        problem, described = _lock_problem(lock.response or {})
        if problem:
            yield failed(arn, f"{_label(trail)}: bucket {bucket} {problem}", trail.record, lock,
                         region=region)
        else:
            yield passed(arn, f"{_label(trail)}: bucket {bucket} is locked in {described}", trail.record,
                         lock, region=region)
