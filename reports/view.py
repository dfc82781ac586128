"""What every renderer needs to know about a scan beyond the scan itself: check metadata, catalog titles
and the requirements each check tests. Tolerant of old scans: an unknown check or a missing catalog
falls back to the ids stored with the scan, so a stored scan always renders.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from functools import cache, cached_property

from compliance import frameworks
from compliance.errors import UsageError
from compliance.findings import Finding, Severity, Status
from compliance.scan import RequirementResult, RocResult, Scan

FRAMEWORK_LABELS = {"pci-dss-4.0.1": "PCI DSS v4.0.1", "iso27001-2022": "ISO/IEC 27001:2022"}


@dataclass(frozen=True)
class CheckMeta:
    id: str
    title: str
    severity: Severity | None
    rationale: str
    remediation: str


@cache
def check_meta(check_id: str) -> CheckMeta:
    from controls.registry import get_check

    try:
        c = get_check(check_id)
    except KeyError:
        return CheckMeta(check_id, check_id, None, "", "")
    return CheckMeta(c.id, c.title, c.severity, c.rationale, c.remediation)


def framework(framework_id: str) -> frameworks.Framework | None:
    """The catalog, or None when it cannot be read (the scan's own ids are then all there is)."""
    try:
        return frameworks.load(framework_id)
    except Exception:  # a broken or missing catalog must not stop a stored scan from rendering
        return None


def framework_label(framework_id: str) -> str:
    fw = framework(framework_id)
    return fw.label if fw else FRAMEWORK_LABELS.get(framework_id, framework_id)


def _requirement(framework_id: str, requirement_id: str) -> frameworks.Requirement | None:
    fw = framework(framework_id)
    if fw is None:
        return None
    try:
        return fw.requirement(requirement_id)
    except UsageError:
        return None


def requirement_title(framework_id: str, requirement_id: str) -> str:
    req = _requirement(framework_id, requirement_id)
    return req.title if req else ""


_PRINCIPAL = re.compile(r"^(A\.\d+|A\d+|\d+)")


def principal_of(framework_id: str, requirement_id: str) -> str:
    """The principal requirement (PCI '10', ISO 'A.8'): from the catalog, else derived from the id."""
    if req := _requirement(framework_id, requirement_id):
        return req.principal
    match = _PRINCIPAL.match(requirement_id)
    return match.group(1) if match else requirement_id


def principal_title(framework_id: str, principal_id: str) -> str:
    fw = framework(framework_id)
    for p in fw.principals if fw else ():
        if p.id == principal_id:
            return p.title
    return ""


def _catalog_refs(check_id: str) -> tuple[str, ...]:
    try:
        return frameworks.requirement_refs(check_id)
    except Exception:
        return ()


_ID_PARTS = re.compile(r"(\d+)")


def requirement_sort_key(requirement_id: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in _ID_PARTS.split(requirement_id))


@dataclass
class ScanView:
    """A scan indexed for rendering: findings per check and per requirement, refs per check."""

    scan: Scan

    @cached_property
    def results(self) -> list[RequirementResult]:
        order = {fid: i for i, fid in enumerate(FRAMEWORK_LABELS)}
        return sorted(self.scan.requirement_results,
                      key=lambda r: (order.get(r.framework, 99), r.framework,
                                     requirement_sort_key(r.requirement_id)))

    @cached_property
    def findings_by_check(self) -> dict[str, list[Finding]]:
        out: dict[str, list[Finding]] = defaultdict(list)
        for f in self.scan.findings:
            out[f.check_id].append(f)
        return dict(out)

    @cached_property
    def refs_by_check(self) -> dict[str, tuple[str, ...]]:
        """Requirement refs of each check: the catalog's, plus any the scan's own results recorded."""
        from_scan: dict[str, list[str]] = defaultdict(list)
        for r in self.results:
            for check_id in r.check_ids:
                from_scan[check_id].append(f"{framework_label(r.framework)}/{r.requirement_id}")
        checks = set(self.findings_by_check) | set(from_scan)
        return {c: tuple(dict.fromkeys([*_catalog_refs(c), *from_scan.get(c, ())])) for c in checks}

    def refs(self, check_id: str) -> tuple[str, ...]:
        return self.refs_by_check.get(check_id, ())

    def standards(self, check_id: str) -> list[str]:
        return list(dict.fromkeys(ref.rsplit("/", 1)[0] for ref in self.refs(check_id)))

    def checks_of(self, result: RequirementResult) -> list[str]:
        """Checks that test a requirement: those the result names, else those whose refs point at it."""
        if result.check_ids:
            return list(result.check_ids)
        ref = f"{framework_label(result.framework)}/{result.requirement_id}"
        return sorted(c for c, refs in self.refs_by_check.items() if ref in refs)

    def result_counts(self, framework_id: str | None = None) -> dict[str, int]:
        out = {r.value: 0 for r in RocResult}
        for r in self.results:
            if framework_id is None or r.framework == framework_id:
                out[r.result.value] += 1
        return out

    @cached_property
    def frameworks(self) -> list[str]:
        return list(dict.fromkeys(r.framework for r in self.results))

    def by_status(self, status: Status) -> list[Finding]:
        return [f for f in self.scan.findings if f.status is status]

