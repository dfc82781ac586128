"""Findings as CSV (every finding, for spreadsheets), SARIF 2.1.0 and JUnit XML (for CI systems).

Requirement strings keep AWS Security Hub's style, `<standard>/<requirement id>`, e.g.
`PCI DSS v4.0.1/10.3.2` or `ISO/IEC 27001:2022/A.8.15`. The standard's label itself contains a `/`
(ISO/IEC), so split on the LAST `/`: `ref.rsplit("/", 1)` gives (standard, requirement id). In the CSV
several refs are joined with `;`.
"""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any
from urllib.parse import quote
from xml.etree import ElementTree as ET  # nosec B405 # writes XML, never parses any

from compliance.findings import Finding, Severity, Status
from compliance.scan import Scan
from reports.ocsf import epoch_ms
from reports.view import ScanView, check_meta, requirement_sort_key

CSV_COLUMNS = ("scan_id", "finding_uid", "check_id", "check_title", "status", "severity", "resource_id",
               "resource_type", "region", "reason", "requirements", "waived_by", "evidence_ids",
               "remediation")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: str) -> str:
    """Neutralise text a spreadsheet would run as a formula (CSV injection)."""
    return "'" + value if value.startswith(_FORMULA_START) else value


CSV_BOM = "\ufeff"
"""Spreadsheet programs read a CSV as UTF-8 only when it starts with the byte-order mark."""


def split_requirement(ref: str) -> tuple[str, str]:
    """'ISO/IEC 27001:2022/A.8.15' -> ('ISO/IEC 27001:2022', 'A.8.15'): split on the last '/'."""
    standard, _, requirement = ref.rpartition("/")
    return standard, requirement


def to_csv(view: ScanView) -> str:
    """UTF-8 with a BOM and CRLF line ends (RFC 4180), as spreadsheet programs expect."""
    out = io.StringIO()
    out.write(CSV_BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for f in view.scan.findings:
        meta = check_meta(f.check_id)
        row = (view.scan.id, f.uid, f.check_id, meta.title, f.status.value, f.severity.label, f.resource_id,
               f.resource_type, f.region or "", f.reason, ";".join(view.refs(f.check_id)),
               f.suppressed_by or "", ";".join(f.evidence_ids), meta.remediation)
        writer.writerow([_cell(str(v)) for v in row])
    return out.getvalue()


REQUIREMENT_COLUMNS = ("scan_id", "framework", "requirement_id", "result", "basis", "detail", "check_ids",
                       "waived", "compensating", "attestation_ids", "decision_ids")


def requirements_csv(scan: Scan) -> str:
    """Every requirement result with its ROC word and its basis (who drew the conclusion)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(REQUIREMENT_COLUMNS)
    ordered = sorted(scan.requirement_results,
                     key=lambda r: (r.framework, requirement_sort_key(r.requirement_id)))
    for r in ordered:
        row = (scan.id, r.framework, r.requirement_id, r.result.value, r.basis.value, r.detail,
               ";".join(r.check_ids), ";".join(r.waived), ";".join(r.compensating),
               ";".join(r.attestation_ids), ";".join(r.decision_ids))
        writer.writerow([_cell(str(v)) for v in row])
    return out.getvalue()


SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SARIF_LEVEL = {Severity.CRITICAL: "error", Severity.HIGH: "error", Severity.MEDIUM: "warning",
                Severity.LOW: "note", Severity.INFORMATIONAL: "note"}
_SARIF_KIND = {Status.PASS: "pass", Status.FAIL: "fail", Status.ERROR: "open", Status.MANUAL: "review"}
_SECURITY_SEVERITY = {Severity.CRITICAL: "9.5", Severity.HIGH: "8.0", Severity.MEDIUM: "5.5",
                      Severity.LOW: "3.0", Severity.INFORMATIONAL: "0.0"}


def _sarif_rule(view: ScanView, check_id: str, severity: Severity) -> dict[str, Any]:
    meta = check_meta(check_id)
    rule: dict[str, Any] = {
        "id": check_id,
        "name": check_id.replace(".", "_"),
        "shortDescription": {"text": meta.title},
        "defaultConfiguration": {"level": _SARIF_LEVEL[meta.severity or severity]},
        "properties": {"tags": ["compliance", *view.refs(check_id)],
                       "security-severity": _SECURITY_SEVERITY[meta.severity or severity]},
    }
    if meta.rationale:
        rule["fullDescription"] = {"text": meta.rationale}
    if meta.remediation:
        rule["help"] = {"text": meta.remediation}
    return rule


RESOURCE_BASE = "COMPLY_RESOURCES"
"""uriBaseId of every artifact: a resource is not a file in the repository, so its URI is relative to
this base (declared in run.originalUriBaseIds), which code scanning accepts and never resolves."""
_URI_UNSAFE = re.compile(r"[^A-Za-z0-9._~-]+")


def resource_uri(resource_id: str) -> str:
    """A relative URI for a cloud resource: the id's ':'- and '/'-separated parts as path segments.
    'arn:aws:s3:::logs' -> 'arn/aws/s3/_/_/logs'; 'https://h:8443/x' -> 'https/h/8443/x'."""
    parts = [p for p in re.split(r"[:/]", resource_id)]
    while parts and not parts[-1]:
        parts.pop()
    segments = [quote(_URI_UNSAFE.sub("_", p), safe="") or "_" for p in parts]
    return "/".join(segments) or "resource"


def _sarif_result(f: Finding, rule_index: int) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": f.check_id,
        "ruleIndex": rule_index,
        "kind": _SARIF_KIND[f.status],
        "level": _SARIF_LEVEL[f.severity] if f.status is Status.FAIL else "none",
        "message": {"text": f.reason},
        "locations": [{
            "physicalLocation": {"artifactLocation": {"uri": resource_uri(f.resource_id),
                                                      "uriBaseId": RESOURCE_BASE},
                                 "region": {"startLine": 1}},
            "logicalLocations": [{"fullyQualifiedName": f.resource_id, "kind": "resource",
                                  **({"name": f.resource_type} if f.resource_type else {})}]}],
        "partialFingerprints": {"findingUid/v1": f.uid},
        "properties": {"status": f.status.value, "severity": f.severity.label,
                       "region": f.region, "evidenceIds": list(f.evidence_ids)},
    }
    if f.suppressed_by:
        result["suppressions"] = [{"kind": "external", "status": "accepted",
                                   "justification": f.suppressed_by}]
    return result


def to_sarif(view: ScanView) -> str:
    scan = view.scan
    rules: dict[str, int] = {}
    rule_list: list[dict[str, Any]] = []
    results = []
    for f in scan.findings:
        if f.check_id not in rules:
            rules[f.check_id] = len(rule_list)
            rule_list.append(_sarif_rule(view, f.check_id, f.severity))
        results.append(_sarif_result(f, rules[f.check_id]))
    invocation: dict[str, Any] = {"executionSuccessful": not scan.errors(), "startTimeUtc": scan.started_at}
    if scan.finished_at:
        invocation["endTimeUtc"] = scan.finished_at
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "comply", "organization": "wallet-comply",
                                "version": scan.tool_version, "semanticVersion": scan.tool_version,
                                "rules": rule_list}},
            "automationDetails": {"id": f"comply/{scan.target}/{scan.id}"},
            "originalUriBaseIds": {RESOURCE_BASE: {
                "description": {"text": "Cloud and API resources assessed by comply, one path per resource "
                                        "id; they are not files of the repository."}}},
            "invocations": [invocation],
            "results": results,
        }],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def to_junit(view: ScanView) -> bytes:
    """One testsuite per check and one testcase per resource; a waived failure is reported as skipped."""
    scan = view.scan
    root = ET.Element("testsuites", name=f"comply {scan.target} {scan.id}")
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    stamp = (scan.started_at or "")[:19]
    duration = max(0, epoch_ms(scan.finished_at) - epoch_ms(scan.started_at)) / 1000
    for check_id, findings in sorted(view.findings_by_check.items()):
        meta = check_meta(check_id)
        suite = ET.SubElement(root, "testsuite", name=check_id, timestamp=stamp, time="0")
        counts = dict.fromkeys(totals, 0)
        for f in findings:
            case = ET.SubElement(suite, "testcase", classname=check_id, name=f.resource_id, time="0")
            counts["tests"] += 1
            if f.status is Status.FAIL and f.suppressed_by:
                ET.SubElement(case, "skipped", message=f.suppressed_by)
                counts["skipped"] += 1
            elif f.status is Status.FAIL:
                node = ET.SubElement(case, "failure", message=f.reason, type=f.severity.label)
                node.text = meta.remediation or meta.title
                counts["failures"] += 1
            elif f.status is Status.ERROR:
                ET.SubElement(case, "error", message=f.reason, type="CouldNotAssess").text = f.reason
                counts["errors"] += 1
            elif f.status is Status.MANUAL:
                ET.SubElement(case, "skipped", message=f"manual review: {f.reason}")
                counts["skipped"] += 1
            if refs := view.refs(check_id):
                ET.SubElement(case, "system-out").text = "requirements: " + ", ".join(refs)
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", f"{duration:.3f}")
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"
