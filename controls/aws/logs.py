"""CloudWatch Logs checks: log groups keep their events for at least a year."""

from __future__ import annotations

from collections.abc import Iterator

from compliance.findings import Severity
from controls.aws.inventory import AwsInventory, Item
from controls.aws.verdicts import Judgement, Listing, bad, each, good
from controls.registry import Verdict, check

RETENTION_DAYS = 365

def group_arn(inv: AwsInventory, group: Item) -> str:
    arn = group.get("arn") or inv.arn("logs", group.region, f"log-group:{group['logGroupName']}")
    return str(arn).removesuffix(":*")


LOG_GROUPS = Listing("logs", "describe_log_groups", "logGroups", "log-group:*", arn=group_arn,
                     label=lambda g: f"log group {g['logGroupName']}")


@check("aws.logs.retention_one_year", severity=Severity.MEDIUM, resource_type="AwsLogsLogGroup",
       title="CloudWatch log groups keep events for at least a year",
       rationale="""Audit logs must be kept for at least twelve months so an investigation can look back
       far enough. A shorter retention setting deletes the evidence early.""",
       remediation="""Run `aws logs put-retention-policy --log-group-name <group> --retention-in-days 365`
       (or longer), or export older events to an S3 bucket locked for the retention period.""")
def retention_one_year(inv: AwsInventory) -> Iterator[Verdict]:
    def judge(group: Item) -> Judgement:
        days = group.get("retentionInDays")
        if days is None:
            return good("keeps events indefinitely")
        if int(days) >= RETENTION_DAYS:
            return good(f"keeps events for {days} days")
        return bad(f"keeps events for only {days} days (at least {RETENTION_DAYS} needed)")
    yield from each(inv, LOG_GROUPS, judge)
