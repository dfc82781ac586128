"""CloudWatch checks: the CloudTrail log group has a metric filter and an alarm with a notification for
each security event an operations team must hear about at once (the CIS AWS Foundations set)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from compliance.collect.record import EvidenceRecord
from compliance.findings import Severity
from controls.aws.cloudtrail import trails
from controls.aws.inventory import GLOBAL, AwsInventory, Item
from controls.aws.verdicts import unusable
from controls.registry import Verdict, check, errored, failed, passed


@dataclass(frozen=True)
class Watch:
    slug: str
    what: str
    terms: tuple[str, ...]
    """Every term must appear in the metric filter's pattern (case-insensitive, spaces ignored)."""


def log_group_name(arn: str) -> str:
    """``arn:aws:logs:REGION:ACCOUNT:log-group:NAME:*`` -> NAME."""
    rest = arn.split(":log-group:", 1)[-1]
    return rest[:-2] if rest.endswith(":*") else rest


def _squash(text: str) -> str:
    return "".join(str(text).split()).lower()


def watched_groups(inv: AwsInventory) -> tuple[list[tuple[Item, str, str]], list[EvidenceRecord]]:
    """(trail, log group name, region) for each logging multi-region trail delivering to CloudWatch."""
    found, failures = trails(inv)
    out = []
    for trail in found:
        group = trail.get("CloudWatchLogsLogGroupArn")
        if trail.get("IsMultiRegionTrail") is True and group:
            region = str(group).split(":")[3] or trail.get("HomeRegion") or trail.region
            out.append((trail, log_group_name(str(group)), region))
    return out, failures


def alarm_verdict(inv: AwsInventory, watch: Watch) -> Verdict:
    """PASS when some watched log group has a matching metric filter whose metric has an alarm with an
    action; the verdict names the filter and the alarm, or says which link of the chain is missing."""
    resource = inv.arn("cloudwatch", GLOBAL, f"alarm-for/{watch.slug}")
    groups, failures = watched_groups(inv)
    listing = list(inv.calls("cloudtrail", "describe_trails"))
    if not groups:
        if failures:
            return errored(resource, f"no trail seen delivering to CloudWatch Logs, and trails could not be "
                           f"listed: {failures[0].error}", *listing)
        return failed(resource, f"no multi-region trail delivers to CloudWatch Logs, so {watch.what} raises "
                      "no alarm", *listing)
    evidence: list[EvidenceRecord | None] = [*listing]
    gaps = []
    for _trail, group, region in groups:
        filters = inv.call("logs", "describe_metric_filters", region)
        alarms = inv.call("cloudwatch", "describe_alarms", region)
        evidence += [filters, alarms]
        why = unusable(filters, "describe_metric_filters") or unusable(alarms, "describe_alarms")
        if why:
            return errored(resource, f"alarm for {watch.what} unknown: {why}", *evidence)
        matching = [f for f in (filters.response or {}).get("metricFilters") or []  # type: ignore[union-attr]
                    if f.get("logGroupName") == group
                    and all(term.lower() in _squash(f.get("filterPattern", "")) for term in watch.terms)]
        if not matching:
            gaps.append(f"log group {group} has no metric filter for {watch.what}")
            continue
        metrics = {(t.get("metricNamespace"), t.get("metricName"))
                   for f in matching for t in f.get("metricTransformations") or []}
        armed = [a for a in (alarms.response or {}).get("MetricAlarms") or []  # type: ignore[union-attr]
                 if (a.get("Namespace"), a.get("MetricName")) in metrics and a.get("AlarmActions")]
        if armed:
            return passed(resource, f"{watch.what} raises alarm {armed[0].get('AlarmName')} from metric "
                          f"filter {matching[0].get('filterName')} on log group {group}", *evidence)
        gaps.append(f"metric filter {matching[0].get('filterName')} on log group {group} has no alarm "
                    "with an action")
    return failed(resource, f"{watch.what} raises no alarm: {'; '.join(gaps)}", *evidence)


def _register(watch: Watch, title: str, severity: Severity, rationale: str) -> None:
    def run(inv: AwsInventory) -> Iterator[Verdict]:
        yield alarm_verdict(inv, watch)

    run.__name__ = run.__qualname__ = f"alarm_{watch.slug.replace('-', '_')}"
    run.__doc__ = f"An alarm for {watch.what}."
    check(f"aws.cloudwatch.alarm_{watch.slug.replace('-', '_')}", severity=severity,
          resource_type="AwsCloudWatchAlarm", title=title, rationale=rationale,
          remediation=f"""On the CloudTrail log group create a metric filter whose pattern matches
          {watch.what} (`aws logs put-metric-filter`), then an alarm on its metric with an SNS action
          (`aws cloudwatch put-metric-alarm --alarm-actions <topic>`).""")(run)


WATCHES: tuple[tuple[Watch, str, Severity, str], ...] = (
    (Watch("unauthorized-calls", "unauthorised API calls", ("UnauthorizedOperation", "AccessDenied")),
     "An alarm fires on unauthorised API calls", Severity.MEDIUM,
     "A burst of denied calls is often the first sign of stolen credentials probing what they can reach."),
    (Watch("console-no-mfa", "console sign-ins without MFA", ("ConsoleLogin", "MFAUsed")),
     "An alarm fires on console sign-ins without MFA", Severity.MEDIUM,
     "A console sign-in without a second factor means a password alone opened the account."),
    (Watch("root-use", "use of the root user", ("userIdentity.type", "Root")),
     "An alarm fires whenever the root user is used", Severity.HIGH,
     "The root user should almost never act; every use of it deserves someone's immediate attention."),
    (Watch("iam-changes", "IAM policy changes", ("PutUserPolicy", "AttachRolePolicy", "CreatePolicy")),
     "An alarm fires on IAM policy changes", Severity.MEDIUM,
     "Changes to who may do what must be noticed, so an unapproved grant is caught and rolled back."),
    (Watch("cloudtrail-changes", "CloudTrail configuration changes", ("StopLogging", "DeleteTrail")),
     "An alarm fires when CloudTrail is stopped or changed", Severity.HIGH,
     "Turning the audit trail off is what an intruder does first; it must raise an alarm at once."),
    (Watch("console-auth-failures", "failed console sign-ins", ("ConsoleLogin", "Failedauthentication")),
     "An alarm fires on failed console sign-ins", Severity.LOW,
     "Repeated failed sign-ins show password guessing against console users."),
    (Watch("kms-key-disable", "disabling or scheduled deletion of KMS keys",
           ("DisableKey", "ScheduleKeyDeletion")),
     "An alarm fires when a KMS key is disabled or scheduled for deletion", Severity.MEDIUM,
     "Disabling a key makes the data it protects unreadable; it must never happen unnoticed."),
    (Watch("s3-policy-changes", "S3 bucket policy changes", ("PutBucketPolicy", "PutBucketAcl")),
     "An alarm fires on S3 bucket policy and ACL changes", Severity.MEDIUM,
     "A changed bucket policy or ACL can expose stored data; the change must reach a person quickly."),
    (Watch("config-changes", "AWS Config changes", ("StopConfigurationRecorder", "DeleteDeliveryChannel")),
     "An alarm fires when AWS Config recording is stopped or changed", Severity.MEDIUM,
     "Stopping Config recording blinds the configuration history; it must raise an alarm."),
    (Watch("security-group-changes", "security group changes", ("AuthorizeSecurityGroupIngress",
                                                                  "RevokeSecurityGroupIngress")),
     "An alarm fires on security group changes", Severity.MEDIUM,
     "Network rules decide what can reach the CDE; every change to them must be seen and matched to an "
     "approved change."),
    (Watch("nacl-changes", "network ACL changes", ("CreateNetworkAclEntry", "DeleteNetworkAcl")),
     "An alarm fires on network ACL changes", Severity.MEDIUM,
     "Network ACL changes alter what can reach whole subnets and must match an approved change."),
    (Watch("gateway-changes", "network gateway changes", ("CreateInternetGateway", "AttachInternetGateway")),
     "An alarm fires on internet and customer gateway changes", Severity.MEDIUM,
     "A new or re-attached gateway opens a path between the VPC and outside networks."),
    (Watch("route-table-changes", "route table changes", ("CreateRoute", "ReplaceRoute", "DeleteRouteTable")),
     "An alarm fires on route table changes", Severity.MEDIUM,
     "A changed route can send CDE traffic somewhere it should never go."),
    (Watch("vpc-changes", "VPC changes", ("CreateVpc", "DeleteVpc", "CreateVpcPeeringConnection")),
     "An alarm fires on VPC and peering changes", Severity.MEDIUM,
     "New VPCs and peering connections change the network's boundaries and must match an approved change."),
)

for _watch, _title, _severity, _why in WATCHES:
    _register(_watch, _title, _severity, _why)
