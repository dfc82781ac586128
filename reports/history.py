"""Scan history: a row per stored scan and the difference between two scans, keyed on stable finding ids."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from compliance.findings import Finding
from compliance.scan import Scan


@dataclass(frozen=True)
class ScanDiff:
    old: str
    new: str
    new_failures: list[Finding]
    resolved: list[Finding]
    still_failing: list[Finding]

    def as_dict(self) -> dict[str, Any]:
        def rows(findings: list[Finding]) -> list[dict[str, Any]]:
            return [{"uid": f.uid, "check_id": f.check_id, "resource_id": f.resource_id,
                     "severity": f.severity.label, "reason": f.reason} for f in findings]

        return {"old": self.old, "new": self.new, "new_failures": rows(self.new_failures),
                "resolved": rows(self.resolved), "still_failing": rows(self.still_failing)}


def _failing(scan: Scan) -> dict[str, Finding]:
    return {f.uid: f for f in scan.failing()}


def diff_scans(old: Scan, new: Scan) -> ScanDiff:
    """Unwaived failures that appeared, went away (fixed, waived or no longer found) or stayed."""
    before, after = _failing(old), _failing(new)

    def ordered(findings: list[Finding]) -> list[Finding]:
        return sorted(findings, key=lambda f: (-f.severity, f.check_id, f.resource_id))

    return ScanDiff(
        old.id, new.id,
        new_failures=ordered([f for uid, f in after.items() if uid not in before]),
        resolved=ordered([f for uid, f in before.items() if uid not in after]),
        still_failing=ordered([f for uid, f in after.items() if uid in before]),
    )


def scan_summary(scan: Scan) -> dict[str, Any]:
    results: dict[str, dict[str, int]] = {}
    for r in scan.requirement_results:
        counts = results.setdefault(r.framework, {})
        counts[r.result.value] = counts.get(r.result.value, 0) + 1
    return {"id": scan.id, "target": scan.target, "started_at": scan.started_at,
            "finished_at": scan.finished_at, "tool_version": scan.tool_version, "scope": scan.scope,
            "identity": scan.identity, "catalog_versions": scan.catalog_versions, "findings": scan.counts(),
            "unwaived_failures": len(scan.failing()), "requirement_results": results,
            "waivers": len(scan.waivers), "evidence_records": len(scan.evidence)}
