"""Findings as OCSF 1.3 Compliance Finding objects (class 2003): the findings file others build on.

Status mapping. OCSF's compliance.status_id knows Pass (1), Warning (2), Fail (3) and Other (99).
PASS and FAIL map one to one. ERROR maps to Other (99), not Warning: a check that could not assess
says nothing about the control, and a consumer that counts Warnings as "mostly fine" must not be misled;
`compliance.status_detail` carries why it could not assess. MANUAL (a person must judge) maps to Warning,
with a status_detail saying so.

The events validate against the official OCSF 1.3.0 schema (the schema.ocsf.io export, as packaged by
ocsf-json-schema) with the cloud profile, which they declare in metadata.profiles when they carry `cloud`.
OCSF 1.3 has no `evidences` on this class (1.4 added it) and no account on a resource: the evidence
records go under `unmapped.evidences` (OCSF's place for attributes outside the schema), the account is
`cloud.account`.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Any

from compliance.collect.record import EvidenceRecord
from compliance.findings import Finding, Status
from compliance.scan import Scan, finding_account
from reports.view import ScanView, check_meta

OCSF_VERSION = "1.3.0"
CLASS_UID = 2003
CATEGORY_UID = 2
ACTIVITY_CREATE = 1

_COMPLIANCE_STATUS = {
    Status.PASS: (1, "Pass"),
    Status.MANUAL: (2, "Warning"),
    Status.FAIL: (3, "Fail"),
    Status.ERROR: (99, "Other"),
}
_DETAIL = {
    Status.ERROR: "could not assess: ",
    Status.MANUAL: "needs manual review: ",
}


def epoch_ms(timestamp: str | None) -> int:
    if not timestamp:
        return 0
    value = dt.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return int(value.timestamp() * 1000)


def _account_object(account: str) -> dict[str, Any]:
    return {"uid": account, "name": account, "type": "AWS Account", "type_id": 10}


def _is_aws(finding: Finding) -> bool:
    return finding.check_id.startswith("aws.")


def _aws_part(scan: Scan, part: dict[str, Any]) -> dict[str, Any]:
    """A scan of several targets keys its scope and identity by target name."""
    return part.get("aws", {}) if "+" in scan.target else part


def _account(scan: Scan, finding: Finding, evidence: dict[str, EvidenceRecord]) -> str | None:
    default = _aws_part(scan, scan.scope).get("account_id") or _aws_part(scan, scan.identity).get("Account")
    return finding_account(finding, evidence, default)


def _cloud(scan: Scan, finding: Finding, evidence: dict[str, EvidenceRecord]) -> dict[str, Any] | None:
    if not _is_aws(finding):
        return None
    account = _account(scan, finding, evidence)
    regions = _aws_part(scan, scan.scope).get("regions") or []
    cloud: dict[str, Any] = {"provider": "AWS"}
    if account:
        cloud["account"] = _account_object(str(account))
    if region := finding.region or (regions[0] if regions else None):
        cloud["region"] = region
    return cloud


def _resource(finding: Finding) -> dict[str, Any]:
    resource: dict[str, Any] = {"uid": finding.resource_id}
    if finding.resource_type:
        resource["type"] = finding.resource_type
    if finding.region:
        resource["region"] = finding.region
    if _is_aws(finding):
        resource["cloud_partition"] = _partition(finding.resource_id)
    return resource


def _partition(resource_id: str) -> str:
    parts = resource_id.split(":")
    return parts[1] if len(parts) > 2 and parts[0] == "arn" and parts[1] else "aws"


@cache
def api_version(source: str, service: str) -> str:
    """The API version the collector spoke (botocore's service model for AWS), else 'unversioned'."""
    if source == "aws":
        try:
            from botocore.loaders import Loader

            return str(Loader().determine_latest_version(service, "service-2"))
        except Exception:  # an unknown service name: the record still renders
            return "unversioned"
    return "unversioned"


def _evidence(record: EvidenceRecord) -> dict[str, Any]:
    service = {"name": record.service, "uid": f"{record.source}:{record.service}",
               "version": api_version(record.source, record.service)}
    api: dict[str, Any] = {"operation": record.operation, "service": service}
    if record.request_id:
        api["request"] = {"uid": record.request_id}
    return {"api": api, "data": {"evidence_id": record.id, "sha256": record.sha256,
                                 "collected_at": record.collected_at, "outcome": str(record.outcome)}}


def finding_to_ocsf(view: ScanView, finding: Finding, evidence: dict[str, EvidenceRecord]) -> dict[str, Any]:
    scan = view.scan
    meta = check_meta(finding.check_id)
    status_id, status_name = _COMPLIANCE_STATUS[finding.status]
    compliance: dict[str, Any] = {
        "control": finding.check_id,
        "requirements": list(view.refs(finding.check_id)),
        "standards": view.standards(finding.check_id),
        "status": status_name,
        "status_id": status_id,
    }
    if prefix := _DETAIL.get(finding.status):
        compliance["status_detail"] = prefix + finding.reason
    created = epoch_ms(scan.finished_at or scan.started_at)
    suppressed = finding.suppressed_by is not None
    event: dict[str, Any] = {
        "class_uid": CLASS_UID, "class_name": "Compliance Finding",
        "category_uid": CATEGORY_UID, "category_name": "Findings",
        "activity_id": ACTIVITY_CREATE, "activity_name": "Create",
        "type_uid": CLASS_UID * 100 + ACTIVITY_CREATE, "type_name": "Compliance Finding: Create",
        "time": created,
        "severity_id": int(finding.severity), "severity": finding.severity.label,
        "status_id": 3 if suppressed else 1, "status": "Suppressed" if suppressed else "New",
        "status_code": finding.status.value,
        "message": finding.reason,
        "metadata": {
            "version": OCSF_VERSION,
            "event_code": finding.check_id,
            "uid": f"{scan.id}:{finding.uid}",
            "product": {"name": "comply", "vendor_name": "wallet-comply", "version": scan.tool_version},
        },
        "finding_info": {
            "uid": finding.uid, "title": meta.title, "desc": finding.reason,
            "created_time": created, "types": ["Compliance"],
        },
        "compliance": compliance,
        "resources": [_resource(finding)],
        "remediation": {"desc": meta.remediation or "No remediation recorded for this check."},
        "unmapped": {"scan_id": scan.id, "evidence_ids": list(finding.evidence_ids)},
    }
    if suppressed:
        event["status_detail"] = finding.suppressed_by
    if records := [evidence[e] for e in finding.evidence_ids if e in evidence]:
        event["unmapped"]["evidences"] = [_evidence(r) for r in records]
    if cloud := _cloud(scan, finding, evidence):
        event["cloud"] = cloud
        event["metadata"]["profiles"] = ["cloud"]
    return event


def to_ocsf(view: ScanView) -> list[dict[str, Any]]:
    evidence = view.scan.evidence_by_id()
    return [finding_to_ocsf(view, f, evidence) for f in view.scan.findings]
