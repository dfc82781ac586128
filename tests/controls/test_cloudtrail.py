from __future__ import annotations

import pytest

from compliance.findings import Status
from tests.controls import builders as b
from tests.controls.builders import ACCOUNT, OTHER, REGION, by_resource, inventory, ok, only, run

MULTI = "aws.cloudtrail.multi_region_logging"
VALIDATION = "aws.cloudtrail.log_validation"
KMS = "aws.cloudtrail.kms_encrypted"
LOCKED = "aws.cloudtrail.bucket_locked"
TRAIL = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/main"
ACCOUNT_ARN = f"arn:aws:cloudtrail::{ACCOUNT}:trails"


def trail(arn: str = TRAIL, multi: bool = True, home: str = REGION, **fields) -> dict:
    return {"Name": arn.rsplit("/", 1)[1], "TrailARN": arn, "HomeRegion": home, "IsMultiRegionTrail": multi,
            "S3BucketName": "audit-logs", "LogFileValidationEnabled": True, **fields}


def trails(*items: dict, region: str = REGION):
    return ok("cloudtrail", "describe_trails", {"trailList": list(items)}, region=region)


def status(logging: bool, arn: str = TRAIL, region: str = REGION):
    return ok("cloudtrail", "get_trail_status", {"IsLogging": logging}, region=region, Name=arn)


def test_shadow_copies_are_one_trail_and_a_logging_multi_region_trail_passes():
    inv = inventory(trails(trail()), trails(trail(), region=OTHER), status(True), regions=(REGION, OTHER))
    found = by_resource(run(MULTI, inv))
    assert set(found) == {TRAIL, ACCOUNT_ARN}
    assert found[ACCOUNT_ARN].status is Status.PASS
    assert found[ACCOUNT_ARN].reason == "multi-region trail(s) logging: main"
    assert found[TRAIL].status is Status.PASS and found[TRAIL].region == REGION
    assert len(run(VALIDATION, inv)) == 1


def test_home_region_copy_is_kept_when_listed_after_a_shadow():
    inv = inventory(trails(trail(LogFileValidationEnabled=False), region=OTHER),
                    trails(trail(LogFileValidationEnabled=True)), regions=(OTHER, REGION))
    assert only(VALIDATION, inv).status is Status.PASS


def test_stopped_multi_region_trail_fails_both_trail_and_account():
    found = by_resource(run(MULTI, inventory(trails(trail()), status(False))))
    assert found[TRAIL].status is Status.FAIL
    assert found[TRAIL].reason == "multi-region trail main is not logging"
    assert found[ACCOUNT_ARN].status is Status.FAIL
    assert found[ACCOUNT_ARN].reason == "no multi-region trail is logging"


def test_single_region_trails_only_fail_the_account():
    finding = only(MULTI, inventory(trails(trail(multi=False))))
    assert finding.resource_id == ACCOUNT_ARN and finding.status is Status.FAIL


def test_status_unknown_is_an_error_and_the_account_fails_closed():
    found = by_resource(run(MULTI, inventory(trails(trail()))))
    assert found[TRAIL].status is Status.ERROR
    assert "get_trail_status was not collected" in found[TRAIL].reason
    assert found[ACCOUNT_ARN].status is Status.FAIL


def test_status_is_read_in_the_home_region():
    other = f"arn:aws:cloudtrail:{OTHER}:{ACCOUNT}:trail/eu"
    inv = inventory(trails(trail(other, home=OTHER)), status(True, other, OTHER))
    assert by_resource(run(MULTI, inv))[other].status is Status.PASS


def test_listing_failure_only_matters_when_no_logging_trail_is_seen():
    failure = b.broken("cloudtrail", "describe_trails", region=OTHER)
    logging = inventory(trails(trail()), failure, status(True), regions=(REGION, OTHER))
    assert by_resource(run(MULTI, logging))[ACCOUNT_ARN].status is Status.PASS
    unknown = only(MULTI, inventory(trails(), failure, regions=(REGION, OTHER)))
    assert unknown.status is Status.ERROR and OTHER in unknown.reason
    assert failure.id in unknown.evidence_ids


def test_per_trail_checks_report_failed_regions():
    inv = inventory(b.broken("cloudtrail", "describe_trails"))
    for check_id in (VALIDATION, KMS, LOCKED):
        finding = only(check_id, inv)
        assert finding.status is Status.ERROR
        assert finding.resource_id == f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/*"


def test_log_validation_and_kms():
    inv = inventory(trails(trail(), trail(TRAIL + "2", LogFileValidationEnabled=False, KmsKeyId="arn:key")))
    validation, kms = by_resource(run(VALIDATION, inv)), by_resource(run(KMS, inv))
    assert validation[TRAIL].status is Status.PASS and validation[TRAIL + "2"].status is Status.FAIL
    assert kms[TRAIL].status is Status.FAIL
    assert kms[TRAIL].reason == "trail main does not encrypt its logs with a KMS key"
    assert kms[TRAIL + "2"].status is Status.PASS


def lock(mode: str | None = "COMPLIANCE", days: int = 0, years: int = 0, enabled: bool = True):
    config: dict = {"ObjectLockEnabled": "Enabled"} if enabled else {}
    if mode:
        config["Rule"] = {"DefaultRetention": {"Mode": mode, "Days": days, "Years": years}}
    return ok("s3", "get_object_lock_configuration", {"ObjectLockConfiguration": config}, region=None,
              Bucket="audit-logs")


@pytest.mark.parametrize(("record", "status", "says"), [
    (lock(days=365), Status.PASS, "is locked in COMPLIANCE mode for 365 days"),
    (lock(years=1), Status.PASS, "is locked in COMPLIANCE mode for 365 days"),
    (lock(days=400), Status.PASS, "for 400 days"),
    (lock(days=364), Status.FAIL, "is locked for only 364 days (at least 365 needed)"),
    (lock("GOVERNANCE", years=5), Status.FAIL, "GOVERNANCE mode for 1825 days, not COMPLIANCE mode "
     "(organisation policy, stricter than PCI DSS 10.3.2/10.5.1"),
    (lock(None), Status.FAIL, "has object lock without a default retention rule"),
    (lock(enabled=False), Status.FAIL, "has no object lock"),
    (b.absent("s3", "get_object_lock_configuration", region=None, Bucket="audit-logs"), Status.FAIL,
     "has no object lock"),
    (b.broken("s3", "get_object_lock_configuration", region=None, Bucket="audit-logs"), Status.ERROR,
     "object lock unknown"),
])
def test_bucket_lock(record, status, says):
    finding = only(LOCKED, inventory(trails(trail()), record))
    assert finding.status is status
    assert says in finding.reason
    assert finding.reason.startswith("trail main: bucket audit-logs")


def test_bucket_of_another_account_is_not_readable():
    finding = only(LOCKED, inventory(trails(trail())))
    assert finding.status is Status.ERROR and "bucket audit-logs not readable" in finding.reason


def test_trail_without_bucket_is_an_error():
    assert only(LOCKED, inventory(trails(trail(S3BucketName="")))).status is Status.ERROR
