"""The check registry: a decorator that names a check and turns what it yields into findings."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from compliance.collect.record import EvidenceRecord
from compliance.findings import Finding, Severity, Status


@dataclass(frozen=True)
class Verdict:
    """What a check function yields: the registry adds the check id and severity."""

    resource_id: str
    status: Status
    reason: str
    evidence: tuple[str, ...] = ()
    region: str | None = None
    resource_type: str | None = None


Evidence = EvidenceRecord | str | None


def _ids(evidence: Iterable[Evidence]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for item in evidence:
        if item is None:
            continue
        seen[item if isinstance(item, str) else item.id] = None
    return tuple(seen)


def passed(resource_id: str, reason: str, *evidence: Evidence, region: str | None = None,
           resource_type: str | None = None) -> Verdict:
    return Verdict(resource_id, Status.PASS, reason, _ids(evidence), region, resource_type)


def failed(resource_id: str, reason: str, *evidence: Evidence, region: str | None = None,
           resource_type: str | None = None) -> Verdict:
    return Verdict(resource_id, Status.FAIL, reason, _ids(evidence), region, resource_type)


def errored(resource_id: str, reason: str, *evidence: Evidence, region: str | None = None,
            resource_type: str | None = None) -> Verdict:
    return Verdict(resource_id, Status.ERROR, reason, _ids(evidence), region, resource_type)


CheckFunction = Callable[[Any], Iterable[Verdict]]


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    severity: Severity
    target: str
    resource_type: str
    rationale: str
    remediation: str
    function: CheckFunction

    def run(self, inventory: Any) -> list[Finding]:
        """Evaluate the check; a crash becomes one ERROR finding instead of a silent gap."""
        try:
            verdicts = list(self.function(inventory))
        except Exception as exc:  # a broken check must fail closed, not abort the scan
            return [self._finding(errored(f"check:{self.id}", f"check failed: {type(exc).__name__}: {exc}"))]
        return [self._finding(v) for v in verdicts]

    def _finding(self, verdict: Verdict) -> Finding:
        return Finding(
            check_id=self.id, resource_id=verdict.resource_id, status=verdict.status,
            reason=verdict.reason, severity=self.severity,
            resource_type=verdict.resource_type or self.resource_type, region=verdict.region,
            evidence_ids=verdict.evidence,
        )


CHECKS: dict[str, Check] = {}


def check(check_id: str, *, title: str, severity: Severity, resource_type: str, rationale: str,
          remediation: str) -> Callable[[CheckFunction], CheckFunction]:
    target = check_id.split(".", 1)[0]

    def register(function: CheckFunction) -> CheckFunction:
        if check_id in CHECKS:
            raise ValueError(f"check {check_id} registered twice")
        CHECKS[check_id] = Check(check_id, title, severity, target, resource_type,
                                 " ".join(rationale.split()), " ".join(remediation.split()), function)
        return function

    return register


def load_checks() -> None:
    """Import every module under controls/<target>/ so their checks register themselves."""
    import controls

    for info in pkgutil.walk_packages(controls.__path__, "controls."):
        importlib.import_module(info.name)


def all_checks(target: str | None = None) -> list[Check]:
    load_checks()
    return sorted((c for c in CHECKS.values() if target is None or c.target == target), key=lambda c: c.id)


def get_check(check_id: str) -> Check:
    load_checks()
    return CHECKS[check_id]


def run_checks(checks: Iterable[Check], inventory: Any) -> Iterator[Finding]:
    for item in checks:
        yield from item.run(inventory)
