"""GuardDuty checks: threat detection is on in every region, watching EKS, S3 and EBS volumes too."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from compliance.collect.record import EvidenceRecord
from compliance.findings import Severity
from controls.aws.inventory import AwsInventory
from controls.aws.verdicts import unusable
from controls.registry import Verdict, check, errored, failed, passed


def _detectors(inv: AwsInventory, region: str) -> tuple[list[tuple[str, EvidenceRecord | None]],
                                                        EvidenceRecord | None, str | None]:
    listing = inv.call("guardduty", "list_detectors", region)
    why = unusable(listing, "list_detectors")
    if listing is None or why:
        return [], listing, why
    ids = [str(d) for d in (listing.response or {}).get("DetectorIds") or []]
    return [(d, inv.call("guardduty", "get_detector", region, DetectorId=d)) for d in ids], listing, None


def feature_on(detector: dict[str, Any], feature: str, path: tuple[str, ...]) -> bool:
    """Whether a protection plan is on: the Features list (current API) or the older DataSources tree."""
    for item in detector.get("Features") or []:
        if item.get("Name") == feature:
            return item.get("Status") == "ENABLED"
    node: Any = detector.get("DataSources") or {}
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node == "ENABLED"


def _per_region(inv: AwsInventory, what: str, feature: str | None = None,
                path: tuple[str, ...] = ()) -> Iterator[Verdict]:
    for region in inv.regions:
        arn = inv.arn("guardduty", region, "detector")
        detectors, listing, why = _detectors(inv, region)
        if why:
            yield errored(arn, f"GuardDuty in {region} unknown: {why}", listing, region=region)
            continue
        if not detectors:
            yield failed(arn, f"GuardDuty has no detector in {region}, so {what} is off", listing,
                         region=region)
            continue
        detector_id, rec = detectors[0]
        why = unusable(rec, "get_detector")
        if rec is None or why:
            yield errored(arn, f"GuardDuty detector {detector_id} in {region} unknown: {why}", listing, rec,
                          region=region)
            continue
        detail = rec.response or {}
        arn = inv.arn("guardduty", region, f"detector/{detector_id}")
        if detail.get("Status") != "ENABLED":
            yield failed(arn, f"GuardDuty detector {detector_id} in {region} is {detail.get('Status')}, so "
                         f"{what} is off", listing, rec, region=region)
        elif feature is None or feature_on(detail, feature, path):
            yield passed(arn, f"{what} is on in {region} (detector {detector_id})", listing, rec,
                         region=region)
        else:
            yield failed(arn, f"{what} is off in {region} (detector {detector_id})", listing, rec,
                         region=region)


@check("aws.guardduty.enabled", severity=Severity.HIGH, resource_type="AwsGuardDutyDetector",
       title="GuardDuty threat detection is on in every region",
       rationale="""GuardDuty watches CloudTrail, VPC flow and DNS logs for signs of intrusion, such as
       stolen credentials or crypto-mining. A region without it is a region nobody watches.""",
       remediation="""Enable GuardDuty in each region (GuardDuty console > Get started > Enable, or
       `aws guardduty create-detector --enable`), preferably for the whole organisation from a delegated
       administrator.""")
def enabled(inv: AwsInventory) -> Iterator[Verdict]:
    yield from _per_region(inv, "GuardDuty threat detection")


@check("aws.guardduty.eks_protection", severity=Severity.MEDIUM, resource_type="AwsGuardDutyDetector",
       title="GuardDuty watches EKS audit logs",
       rationale="""EKS protection analyses the Kubernetes audit log for attacks on the clusters running the
       payment services, such as anonymous access or privileged pod creation.""",
       remediation="""In the GuardDuty console open Protection plans > EKS Protection and enable it, or run
       `aws guardduty update-detector --features Name=EKS_AUDIT_LOGS,Status=ENABLED`.""")
def eks_protection(inv: AwsInventory) -> Iterator[Verdict]:
    yield from _per_region(inv, "GuardDuty EKS protection", "EKS_AUDIT_LOGS",
                           ("Kubernetes", "AuditLogs", "Status"))


@check("aws.guardduty.s3_protection", severity=Severity.MEDIUM, resource_type="AwsGuardDutyDetector",
       title="GuardDuty watches S3 data events",
       rationale="""S3 protection looks for unusual access to buckets, such as data being read from an
       unfamiliar location, the usual shape of an exfiltration.""",
       remediation="""In the GuardDuty console open Protection plans > S3 Protection and enable it, or run
       `aws guardduty update-detector --features Name=S3_DATA_EVENTS,Status=ENABLED`.""")
def s3_protection(inv: AwsInventory) -> Iterator[Verdict]:
    yield from _per_region(inv, "GuardDuty S3 protection", "S3_DATA_EVENTS", ("S3Logs", "Status"))


@check("aws.guardduty.malware_protection", severity=Severity.MEDIUM, resource_type="AwsGuardDutyDetector",
       title="GuardDuty scans EBS volumes for malware",
       rationale="""Malware protection scans the disks of instances GuardDuty suspects, finding malicious
       files without an agent on each server.""",
       remediation="""In the GuardDuty console open Protection plans > Malware Protection for EC2 and enable
       it, or run `aws guardduty update-detector --features Name=EBS_MALWARE_PROTECTION,Status=ENABLED`.""")
def malware_protection(inv: AwsInventory) -> Iterator[Verdict]:
    yield from _per_region(inv, "GuardDuty malware protection", "EBS_MALWARE_PROTECTION",
                           ("MalwareProtection", "ScanEc2InstanceWithFindings", "EbsVolumes", "Status"))
