"""Amazon Inspector checks: EC2 instances, ECR images and Lambda functions are scanned for
vulnerabilities continuously in every region."""

from __future__ import annotations

from collections.abc import Iterator

from compliance.findings import Severity
from controls.aws.inventory import AwsInventory
from controls.aws.verdicts import unusable
from controls.registry import Verdict, check, errored, failed, passed


def _scanning(inv: AwsInventory, resource: str, what: str) -> Iterator[Verdict]:
    for region in inv.regions:
        arn = inv.arn("inspector2", region, f"scanning/{resource}")
        rec = inv.call("inspector2", "batch_get_account_status", region, accountIds=[inv.account_id])
        why = unusable(rec, "batch_get_account_status")
        if rec is None or why:
            yield errored(arn, f"Inspector {what} scanning in {region} unknown: {why}", rec, region=region)
            continue
        mine = [a for a in (rec.response or {}).get("accounts") or [] if a.get("accountId") == inv.account_id]
        state = (((mine[0].get("resourceState") or {}).get(resource) or {}).get("status") if mine else None)
        if state is None:
            yield errored(arn, f"Inspector did not report {what} scanning for this account in {region}", rec,
                          region=region)
        elif state == "ENABLED":
            yield passed(arn, f"Inspector scans {what} in {region}", rec, region=region)
        else:
            yield failed(arn, f"Inspector {what} scanning is {state} in {region}", rec, region=region)


@check("aws.inspector2.ec2_scanning", severity=Severity.HIGH, resource_type="AwsInspector2Account",
       title="Amazon Inspector scans EC2 instances for vulnerabilities",
       rationale="""Internal vulnerability scanning must find missing patches on every server. Inspector
       rescans each instance whenever its software or the vulnerability feed changes.""",
       remediation="""In the Inspector console choose Account management > Activate > Amazon EC2 scanning, or
       run `aws inspector2 enable --resource-types EC2` in each region.""")
def ec2_scanning(inv: AwsInventory) -> Iterator[Verdict]:
    yield from _scanning(inv, "ec2", "EC2 instance")


@check("aws.inspector2.ecr_scanning", severity=Severity.HIGH, resource_type="AwsInspector2Account",
       title="Amazon Inspector scans ECR container images for vulnerabilities",
       rationale="""Enhanced ECR scanning with Inspector checks images on push and again whenever a new
       vulnerability is published, including language packages basic scanning misses.""",
       remediation="""In the Inspector console activate Amazon ECR scanning, or run
       `aws inspector2 enable --resource-types ECR` in each region.""")
def ecr_scanning(inv: AwsInventory) -> Iterator[Verdict]:
    yield from _scanning(inv, "ecr", "ECR image")


@check("aws.inspector2.lambda_scanning", severity=Severity.MEDIUM, resource_type="AwsInspector2Account",
       title="Amazon Inspector scans Lambda functions for vulnerabilities",
       rationale="""Functions bundle their own libraries. Inspector Lambda scanning finds known-vulnerable
       packages in them the same way it does for servers and images.""",
       remediation="""In the Inspector console activate AWS Lambda standard scanning, or run
       `aws inspector2 enable --resource-types LAMBDA` in each region.""")
def lambda_scanning(inv: AwsInventory) -> Iterator[Verdict]:
    yield from _scanning(inv, "lambda", "Lambda function")
