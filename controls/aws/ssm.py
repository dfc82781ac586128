"""Systems Manager checks: every EC2 instance is managed by SSM and compliant with its patch baseline."""

from __future__ import annotations

from collections.abc import Iterator

from compliance.findings import Severity
from controls.aws.ec2 import instance_arn, instances
from controls.aws.inventory import AwsInventory
from controls.aws.verdicts import unusable
from controls.registry import Verdict, check, errored, failed, passed


@check("aws.ssm.instance_managed", severity=Severity.MEDIUM, resource_type="AwsEc2Instance",
       title="EC2 instances are managed by Systems Manager",
       rationale="""Patching, inventory and remote sessions without open ports all need the SSM agent
       reporting in. An instance outside Systems Manager is patched by hand, if at all.""",
       remediation="""Attach an instance profile with the AmazonSSMManagedInstanceCore policy, make sure the
       SSM agent runs and the instance can reach the SSM endpoints, then confirm it under Fleet Manager.""")
def instance_managed(inv: AwsInventory) -> Iterator[Verdict]:
    items, errors = instances(inv)
    yield from errors
    for item in items:
        arn, label = instance_arn(inv, item), f"instance {item['InstanceId']}"
        rec = inv.call("ssm", "describe_instance_information", item.region)
        why = unusable(rec, "describe_instance_information")
        if rec is None or why:
            yield errored(arn, f"{label}: managed instances unknown: {why}", item.record, rec,
                          region=item.region)
            continue
        info = {i.get("InstanceId"): i for i in (rec.response or {}).get("InstanceInformationList") or []}
        mine = info.get(item["InstanceId"])
        if mine:
            yield passed(arn, f"{label} is managed by Systems Manager (agent {mine.get('PingStatus', '?')})",
                         item.record, rec, region=item.region)
        else:
            yield failed(arn, f"{label} is not managed by Systems Manager", item.record, rec,
                         region=item.region)


@check("aws.ssm.patch_compliant", severity=Severity.HIGH, resource_type="AwsEc2Instance",
       title="EC2 instances are compliant with their patch baseline",
       rationale="""Security patches must be installed promptly. Patch Manager's compliance data shows, per
       instance, whether patches the baseline requires are still missing.""",
       remediation="""Run the AWS-RunPatchBaseline document with Operation Install on the instance (Patch
       Manager > Patch now, or a maintenance window) and review the baseline's approval rules.""")
def patch_compliant(inv: AwsInventory) -> Iterator[Verdict]:
    items, errors = instances(inv)
    yield from errors
    for item in items:
        arn, label = instance_arn(inv, item), f"instance {item['InstanceId']}"
        rec = inv.call("ssm", "list_resource_compliance_summaries", item.region)
        why = unusable(rec, "list_resource_compliance_summaries")
        if rec is None or why:
            yield errored(arn, f"{label}: patch compliance unknown: {why}", item.record, rec,
                          region=item.region)
            continue
        summaries = [s for s in (rec.response or {}).get("ResourceComplianceSummaryItems") or []
                     if s.get("ResourceId") == item["InstanceId"] and s.get("ComplianceType") == "Patch"]
        if not summaries:
            yield failed(arn, f"{label} has no patch compliance data (never scanned by Patch Manager)",
                         item.record, rec, region=item.region)
        elif summaries[0].get("Status") == "COMPLIANT":
            yield passed(arn, f"{label} is compliant with its patch baseline", item.record, rec,
                         region=item.region)
        else:
            missing = (summaries[0].get("NonCompliantSummary") or {}).get("NonCompliantCount", "?")
            yield failed(arn, f"{label} is missing {missing} patch(es) its baseline requires", item.record,
                         rec, region=item.region)
