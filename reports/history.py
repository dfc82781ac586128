"""Scan history: a row per stored scan and an honest difference between two scans, keyed on stable
finding ids: a waived or vanished failure is never reported as resolved, and a change of scope is
flagged before anything else."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from compliance.findings import Finding, Status
from compliance.scan import Scan

CATEGORIES = ("new", "fixed", "waived", "gone", "still_failing", "not_assessed")


@dataclass(frozen=True)
class ScanDiff:
    """Every failing finding of either scan, classified by what happened to it.

    - new: failing (unwaived) in the new scan, not failing in the old one;
    - fixed: failing in the old scan, and the same check assessed the same resource again and it passed;
    - waived: failing in the new scan but covered by a waiver there: still failing, not resolved;
    - gone: failing in the old scan, and the resource is in no finding of the new scan (deleted, or
      outside the new scope): nobody looked at it again, so it is not fixed;
    - still_failing: failing and unwaived in both;
    - not_assessed: failing in the old scan, and the check errored on it in the new one.
    """

    old: str
    new: str
    scopes: dict[str, dict[str, Any]]
    scope_changes: list[str]
    items: dict[str, list[Finding]]

    @property
    def scope_changed(self) -> bool:
        return bool(self.scope_changes)

    def as_dict(self) -> dict[str, Any]:
        def rows(findings: list[Finding]) -> list[dict[str, Any]]:
            return [
                {
                    "check_id": f.check_id,
                    "resource_id": f.resource_id,
                    "severity": f.severity.label,
                    "uid": f.uid,
                    "status": f.status.value,
                    "reason": f.reason,
                    **({"waived_by": f.suppressed_by} if f.suppressed_by else {}),
                }
                for f in findings
            ]

        return {
            "old": self.old,
            "new": self.new,
            "scope_changed": self.scope_changed,
            "scope_changes": self.scope_changes,
            "scopes": self.scopes,
            **{name: rows(self.items[name]) for name in CATEGORIES},
        }


def diff_scope(scan: Scan) -> dict[str, Any]:
    """What a scan covered, as far as a diff must compare: accounts, regions, frameworks and checks."""
    parts = _scope_parts(scan.scope or {})
    accounts = {str(p["account_id"]) for p in parts if p.get("account_id")}
    regions = {str(r) for p in parts for r in (p.get("regions") or [])}
    other = {
        f"{k}={v}"
        for p in parts
        for k, v in p.items()
        if k not in _NOT_SCOPE and isinstance(v, str | int) and v not in ("", None)
    }
    checks = scan.options.get("checks")
    return {
        "scan_id": scan.id,
        "started_at": scan.started_at,
        "target": scan.target,
        "accounts": sorted(accounts),
        "regions": sorted(regions),
        "targets": sorted(other),
        "frameworks": sorted({r.framework for r in scan.requirement_results} | set(scan.catalog_versions)),
        "checks": sorted(checks) if checks is not None else None,
    }


_NOT_SCOPE = {"account_id", "regions", "endpoint_url", "profile", "role_arn", "label", "external_id"}


def _scope_parts(scope: dict[str, Any]) -> list[dict[str, Any]]:
    """A flat scope, or one part per target when the scan covered several (keyed by target name)."""
    nested = [v for v in scope.values() if isinstance(v, dict)]
    return nested if nested else [scope]


def _scope_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    out = []
    for key in ("target", "accounts", "regions", "targets", "frameworks", "checks"):
        if old[key] is None or new[key] is None:  # a scan that did not record which checks ran
            continue
        if old[key] != new[key]:
            if isinstance(old[key], list):
                gone = sorted(set(old[key]) - set(new[key]))
                added = sorted(set(new[key]) - set(old[key]))
                parts = ([f"removed {', '.join(gone)}"] if gone else []) + (
                    [f"added {', '.join(added)}"] if added else []
                )
                out.append(f"{key}: {'; '.join(parts)}")
            else:
                out.append(f"{key}: {old[key]} -> {new[key]}")
    return out


def _ordered(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (-f.severity, f.check_id, f.resource_id))


def diff_scans(old: Scan, new: Scan) -> ScanDiff:
    """Classify every failing finding of either scan (see ScanDiff). Pure."""
    before = {f.uid: f for f in old.findings}
    after = {f.uid: f for f in new.findings}
    resources_after = {f.resource_id for f in new.findings}
    items: dict[str, list[Finding]] = {name: [] for name in CATEGORIES}
    for uid, f in after.items():
        if f.status is not Status.FAIL:
            continue
        earlier = before.get(uid)
        if f.suppressed_by is not None:
            items["waived"].append(f)
        elif earlier is not None and earlier.status is Status.FAIL:
            items["still_failing"].append(f)
        else:
            items["new"].append(f)
    for uid, f in before.items():
        if f.status is not Status.FAIL or (uid in after and after[uid].status is Status.FAIL):
            continue
        later = after.get(uid)
        if later is not None and later.status is Status.PASS:
            items["fixed"].append(f)
        elif later is not None and later.status is Status.ERROR:
            items["not_assessed"].append(f)
        elif f.resource_id not in resources_after:
            items["gone"].append(f)
        else:
            items["not_assessed"].append(f)
    scopes = {"old": diff_scope(old), "new": diff_scope(new)}
    return ScanDiff(
        old.id,
        new.id,
        scopes,
        _scope_changes(scopes["old"], scopes["new"]),
        {k: _ordered(v) for k, v in items.items()},
    )


def scan_summary(scan: Scan) -> dict[str, Any]:
    results: dict[str, dict[str, int]] = {}
    for r in scan.requirement_results:
        counts = results.setdefault(r.framework, {})
        counts[r.result.value] = counts.get(r.result.value, 0) + 1
    return {
        "id": scan.id,
        "target": scan.target,
        "started_at": scan.started_at,
        "finished_at": scan.finished_at,
        "tool_version": scan.tool_version,
        "scope": scan.scope,
        "identity": scan.identity,
        "catalog_versions": scan.catalog_versions,
        "findings": scan.counts(),
        "unwaived_failures": len(scan.failing()),
        "requirement_results": results,
        "waivers": len(scan.waivers),
        "evidence_records": len(scan.evidence),
    }
