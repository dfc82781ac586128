"""CloudTrail checks: a logging multi-region trail with management and S3 data events, validated and
encrypted logs sent to CloudWatch, kept in a locked, private, logged bucket."""

from __future__ import annotations

from collections.abc import Callable, Iterator

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
    else:  # absence is a finding too: it links the listings that showed no logging multi-region trail
        yield failed(account_arn, "no multi-region trail is logging", *evidence,
                     *inv.calls("cloudtrail", "describe_trails"))


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
        return (f"is locked in {described}, not COMPLIANCE mode (organisation policy, stricter than PCI DSS "
                "10.3.2/10.5.1, which ask for protected, retained logs, not a lock mode)"), described
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


@check("aws.cloudtrail.cloudwatch_logs", severity=Severity.MEDIUM, resource_type="AwsCloudTrailTrail",
       title="CloudTrail trails deliver events to CloudWatch Logs",
       rationale="""Events delivered to CloudWatch Logs can drive metric filters and alarms, so suspicious
       activity is flagged within minutes instead of waiting for someone to read the files.""",
       remediation="""In the CloudTrail console edit the trail, enable CloudWatch Logs and choose a log group
       and role, or run `aws cloudtrail update-trail --cloud-watch-logs-log-group-arn ...
       --cloud-watch-logs-role-arn ...`.""")
def cloudwatch_logs(inv: AwsInventory) -> Iterator[Verdict]:
    found, errors = _per_trail(inv)
    yield from errors
    for trail in found:
        group = trail.get("CloudWatchLogsLogGroupArn")
        if group:
            yield passed(trail["TrailARN"], f"{_label(trail)} delivers to {group}", trail.record,
                         region=_home(trail))
        else:
            yield failed(trail["TrailARN"], f"{_label(trail)} does not deliver to CloudWatch Logs",
                         trail.record, region=_home(trail))


def _selectors(inv: AwsInventory, trail: Item) -> tuple[EvidenceRecord | None, str | None]:
    rec = inv.call("cloudtrail", "get_event_selectors", _home(trail), TrailName=trail["TrailARN"])
    return rec, unusable(rec, "get_event_selectors")


def logs_management_events(response: dict) -> bool:
    """Basic selectors with read and write management events, or an advanced Management selector."""
    for sel in response.get("EventSelectors") or []:
        if sel.get("IncludeManagementEvents", True) and sel.get("ReadWriteType", "All") == "All":
            return True
    for sel in response.get("AdvancedEventSelectors") or []:
        fields = {f.get("Field"): f for f in sel.get("FieldSelectors") or []}
        category = fields.get("eventCategory") or {}
        if "Management" in (category.get("Equals") or []) and "readOnly" not in fields:
            return True
    return False


def logs_s3_data_events(response: dict) -> bool:
    """Selectors that log S3 object events for every bucket (or an advanced S3 data selector)."""
    for sel in response.get("EventSelectors") or []:
        if sel.get("ReadWriteType", "All") != "All":
            continue
        for resource in sel.get("DataResources") or []:
            values = resource.get("Values") or []
            if resource.get("Type") == "AWS::S3::Object" and any(v in ("arn:aws:s3", "arn:aws:s3:::")
                                                                 for v in values):
                return True
    for sel in response.get("AdvancedEventSelectors") or []:
        fields = {f.get("Field"): f for f in sel.get("FieldSelectors") or []}
        if "Data" in ((fields.get("eventCategory") or {}).get("Equals") or []) and \
                "AWS::S3::Object" in ((fields.get("resources.type") or {}).get("Equals") or []) and \
                "resources.ARN" not in fields and "readOnly" not in fields:
            return True
    return False


def _account_selector_check(inv: AwsInventory, test: Callable[[dict], bool], what: str) -> Iterator[Verdict]:
    """PASS on the account when a logging multi-region trail's selectors pass `test`."""
    found, failures = trails(inv)
    account_arn = inv.arn("cloudtrail", GLOBAL, "trails")
    evidence: list[EvidenceRecord | None] = list(inv.calls("cloudtrail", "describe_trails"))
    unknowns: list[str] = []
    for trail in (t for t in found if t.get("IsMultiRegionTrail") is True):
        selectors, why = _selectors(inv, trail)
        evidence.append(selectors)
        if why:
            unknowns.append(f"{_label(trail)}: {why}")
        elif test(selectors.response or {}):  # type: ignore[union-attr]
            yield passed(account_arn, f"multi-region {_label(trail)} logs {what}", *evidence)
            return
    if unknowns or failures:
        reason = "; ".join(unknowns) or f"trails could not be listed: {failures[0].error}"
        yield errored(account_arn, f"no multi-region trail seen logging {what}, and {reason}", *evidence,
                      *failures)
    else:
        yield failed(account_arn, f"no multi-region trail logs {what}", *evidence)


@check("aws.cloudtrail.management_events", severity=Severity.HIGH, resource_type="AwsCloudTrailTrail",
       title="A multi-region trail records read and write management events",
       rationale="""Management events are the administrative actions on the account: who changed a policy,
       a security group or a key. A trail that skips them, or only records writes, leaves those actions
       untraceable.""",
       remediation="""Edit the multi-region trail's event selectors to include management events with both
       read and write (`aws cloudtrail put-event-selectors --event-selectors
       ReadWriteType=All,IncludeManagementEvents=true`).""")
def management_events(inv: AwsInventory) -> Iterator[Verdict]:
    yield from _account_selector_check(inv, logs_management_events, "read and write management events")


@check("aws.cloudtrail.s3_data_events", severity=Severity.MEDIUM, resource_type="AwsCloudTrailTrail",
       title="A multi-region trail records S3 object-level reads and writes",
       rationale="""Reading a file of card data is an S3 data event, not a management event. Only a trail
       logging S3 data events shows which person or role read or changed each object.""",
       remediation="""Add a data event selector for all S3 buckets (AWS::S3::Object, arn:aws:s3) with read
       and write events to the multi-region trail, in the CloudTrail console or with
       `aws cloudtrail put-event-selectors`.""")
def s3_data_events(inv: AwsInventory) -> Iterator[Verdict]:
    yield from _account_selector_check(inv, logs_s3_data_events, "S3 data events for every bucket")


def _trail_bucket(inv: AwsInventory, trail: Item, operation: str,
                  judge: Callable[[EvidenceRecord], tuple[bool, str]],
                  extra: EvidenceRecord | None = None) -> Verdict:
    arn, region, bucket = trail["TrailARN"], _home(trail), trail.get("S3BucketName")
    if not bucket:
        return errored(arn, f"{_label(trail)} names no S3 bucket", trail.record, region=region)
    rec = inv.call("s3", operation, None, Bucket=bucket)
    if rec is None:
        return errored(arn, f"{_label(trail)}: bucket {bucket} not readable (no record of it in this "
                       "account's evidence; it may belong to another account)", trail.record, region=region)
    if rec.outcome is Outcome.ERROR:
        return errored(arn, f"{_label(trail)}: bucket {bucket} {operation} failed: {rec.error}", trail.record,
                       rec, region=region)
    ok, reason = judge(rec)
    return (passed if ok else failed)(arn, f"{_label(trail)}: bucket {bucket} {reason}", trail.record, rec,
                                      extra, region=region)


@check("aws.cloudtrail.bucket_not_public", severity=Severity.HIGH, resource_type="AwsCloudTrailTrail",
       title="CloudTrail's bucket blocks all public access",
       rationale="""The audit trail shows how the environment is run and where data lives. Its bucket must
       never be readable, or writable, from outside.""",
       remediation="""Turn on all four Block Public Access settings for the trail's bucket (S3 console >
       bucket > Permissions, or `aws s3api put-public-access-block`), or for the whole account.""")
def bucket_not_public(inv: AwsInventory) -> Iterator[Verdict]:
    from controls.aws.s3 import account_block, blocks_everything

    found, errors = _per_trail(inv)
    yield from errors
    account, why = account_block(inv)
    account_blocks = not why and account is not None and account.outcome is Outcome.OK \
        and blocks_everything(account.response)

    def judge(rec: EvidenceRecord) -> tuple[bool, str]:
        if account_blocks:
            return True, "is covered by the account-wide public access block"
        if rec.outcome is Outcome.OK and blocks_everything(rec.response):
            return True, "blocks all public access"
        return False, "does not block all public access (nor does the account)"

    for trail in found:
        yield _trail_bucket(inv, trail, "get_public_access_block", judge, account)


@check("aws.cloudtrail.bucket_access_logging", severity=Severity.LOW, resource_type="AwsCloudTrailTrail",
       title="CloudTrail's bucket logs the requests made to it",
       rationale="""Access logging on the trail's bucket shows who read or tried to delete the audit logs
       themselves.""",
       remediation="""Enable server access logging on the trail's bucket to a separate log bucket (S3
       console > bucket > Properties > Server access logging, or `aws s3api put-bucket-logging`).""")
def bucket_access_logging(inv: AwsInventory) -> Iterator[Verdict]:
    found, errors = _per_trail(inv)
    yield from errors

    def judge(rec: EvidenceRecord) -> tuple[bool, str]:
        target = ((rec.response or {}).get("LoggingEnabled") or {}).get("TargetBucket")
        return (True, f"logs requests to {target}") if target else (False, "does not log requests")

    for trail in found:
        yield _trail_bucket(inv, trail, "get_bucket_logging", judge)
