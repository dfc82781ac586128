"""CloudWatch CIS alarms, GuardDuty, Inspector and AWS Config."""

from __future__ import annotations

import pytest

from compliance.findings import Status
from controls.registry import all_checks
from tests.controls.builders import ACCOUNT, OTHER, REGION, broken, inventory, ok, only, run

TRAIL = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/main"
GROUP = "cloudtrail/events"


def trail(**fields):
    data = {
        "Name": "main",
        "TrailARN": TRAIL,
        "HomeRegion": REGION,
        "IsMultiRegionTrail": True,
        "CloudWatchLogsLogGroupArn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{GROUP}:*",
        **fields,
    }
    return ok("cloudtrail", "describe_trails", {"trailList": [data]})


ROOT_FILTER = {
    "filterName": "root",
    "logGroupName": GROUP,
    "filterPattern": '{ $.userIdentity.type = "Root" && $.eventType != "AwsServiceEvent" }',
    "metricTransformations": [{"metricName": "RootUse", "metricNamespace": "CIS"}],
}
ALARM = {"AlarmName": "root-alarm", "MetricName": "RootUse", "Namespace": "CIS", "AlarmActions": ["arn:sns"]}


def filters(*items):
    return ok("logs", "describe_metric_filters", {"metricFilters": list(items)})


def alarms(*items):
    return ok("cloudwatch", "describe_alarms", {"MetricAlarms": list(items)})


def test_root_use_alarm_chain():
    check = "aws.cloudwatch.alarm_root_use"
    good = only(check, inventory(trail(), filters(ROOT_FILTER), alarms(ALARM)))
    assert good.status is Status.PASS and "root-alarm" in good.reason and len(good.evidence_ids) == 3
    silent = only(check, inventory(trail(), filters(ROOT_FILTER), alarms({**ALARM, "AlarmActions": []})))
    assert silent.status is Status.FAIL and "no alarm with an action" in silent.reason
    other_group = only(
        check, inventory(trail(), filters({**ROOT_FILTER, "logGroupName": "x"}), alarms(ALARM))
    )
    assert other_group.status is Status.FAIL and "no metric filter" in other_group.reason
    no_cw = only(check, inventory(trail(CloudWatchLogsLogGroupArn=None), filters(), alarms()))
    assert no_cw.status is Status.FAIL and no_cw.evidence_ids
    assert only(check, inventory(trail(), alarms(ALARM))).status is Status.ERROR
    assert only(check, inventory(broken("cloudtrail", "describe_trails"))).status is Status.ERROR


def test_every_alarm_check_fails_without_filters_and_names_its_event():
    alarm_checks = [c for c in all_checks("aws") if c.id.startswith("aws.cloudwatch.alarm_")]
    assert len(alarm_checks) == 14
    for item in alarm_checks:
        finding = only(item.id, inventory(trail(), filters(), alarms()))
        assert finding.status is Status.FAIL and "raises no alarm" in finding.reason


def detectors(region=REGION, *ids):
    return ok("guardduty", "list_detectors", {"DetectorIds": list(ids)}, region=region)


def detector(detector_id, region=REGION, **body):
    return ok(
        "guardduty", "get_detector", {"Status": "ENABLED", **body}, region=region, DetectorId=detector_id
    )


GD = [
    "aws.guardduty.enabled",
    "aws.guardduty.eks_protection",
    "aws.guardduty.s3_protection",
    "aws.guardduty.malware_protection",
]


@pytest.mark.parametrize("check_id", GD)
def test_guardduty_per_region(check_id):
    features = [
        {"Name": n, "Status": "ENABLED"}
        for n in ("EKS_AUDIT_LOGS", "S3_DATA_EVENTS", "EBS_MALWARE_PROTECTION")
    ]
    inv = inventory(
        detectors(REGION, "d1"), detector("d1", Features=features), detectors(OTHER), regions=(REGION, OTHER)
    )
    found = {f.region: f for f in run(check_id, inv)}
    assert found[REGION].status is Status.PASS and found[OTHER].status is Status.FAIL
    assert found[OTHER].evidence_ids  # the empty detector listing is the evidence of absence
    old = inventory(
        detectors(REGION, "d1"),
        detector(
            "d1",
            DataSources={
                "S3Logs": {"Status": "DISABLED"},
                "Kubernetes": {"AuditLogs": {"Status": "DISABLED"}},
            },
        ),
    )
    assert only(check_id, old).status is (Status.PASS if check_id == "aws.guardduty.enabled" else Status.FAIL)
    assert only(check_id, inventory(detectors(REGION, "d1"))).status is Status.ERROR
    suspended = inventory(detectors(REGION, "d1"), detector("d1", Status="DISABLED"))
    assert only(check_id, suspended).status is Status.FAIL


def status(**states):
    return ok(
        "inspector2",
        "batch_get_account_status",
        {
            "accounts": [
                {"accountId": ACCOUNT, "resourceState": {k: {"status": v} for k, v in states.items()}}
            ]
        },
        accountIds=[ACCOUNT],
    )


@pytest.mark.parametrize(
    ("check_id", "key"),
    [
        ("aws.inspector2.ec2_scanning", "ec2"),
        ("aws.inspector2.ecr_scanning", "ecr"),
        ("aws.inspector2.lambda_scanning", "lambda"),
    ],
)
def test_inspector_scanning(check_id, key):
    assert only(check_id, inventory(status(**{key: "ENABLED"}))).status is Status.PASS
    assert only(check_id, inventory(status(**{key: "DISABLED"}))).status is Status.FAIL
    assert only(check_id, inventory(status())).status is Status.ERROR
    unanswered = ok("inspector2", "batch_get_account_status", {"accounts": []}, accountIds=[ACCOUNT])
    assert only(check_id, inventory(unanswered)).status is Status.ERROR


def test_config_recorder():
    def config(recorders, states):
        return inventory(
            ok("config", "describe_configuration_recorders", {"ConfigurationRecorders": recorders}),
            ok("config", "describe_configuration_recorder_status", {"ConfigurationRecordersStatus": states}),
        )

    check = "aws.config.recorder_all_resources"
    everything = [{"name": "default", "recordingGroup": {"allSupported": True}}]
    assert only(check, config(everything, [{"name": "default", "recording": True}])).status is Status.PASS
    assert only(check, config(everything, [{"name": "default", "recording": False}])).status is Status.FAIL
    some = [{"name": "default", "recordingGroup": {"allSupported": False}}]
    assert only(check, config(some, [{"name": "default", "recording": True}])).status is Status.FAIL
    none = only(check, config([], []))
    assert none.status is Status.FAIL and len(none.evidence_ids) == 2
    assert only(check, inventory(ok("config", "describe_configuration_recorders", {}))).status is Status.ERROR
