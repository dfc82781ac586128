"""Assessment: a scan's findings, waivers and attestations turned into a ROC result per requirement.

The rules, for each requirement of a catalog:

- a failure nobody waived makes it Not in Place, whatever else is true;
- a check that errored (and nothing failed) or that did not run makes it Not Tested: an assessor
  must never read "could not look" as "In Place";
- checks that ran and found nothing in scope make it Not Applicable (In Place when a person also
  attested the manual part of a partial requirement);
- passing checks make an automated requirement In Place; a partial one needs an attestation too;
- a manual requirement is In Place only with an active attestation, Not Tested otherwise.

Failures covered by active waivers count as passing, and the result names the compensating control.
MANUAL findings count as nothing.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from rich.table import Table

from compliance.attestations import Attestation, active_attestations
from compliance.findings import Finding, Status
from compliance.frameworks import Framework, Requirement, load
from compliance.scan import RequirementResult, RocResult, Scan, WaiverUse
from compliance.store import Store
from compliance.waivers import Waiver

_LISTED = 3


@dataclass(frozen=True)
class WaiverOutcome:
    findings: list[Finding]
    uses: list[WaiverUse]
    warnings: list[str]
    compensations: dict[str, str]
    """Finding uid -> the compensating control (or justification) of the waiver that covers it."""


def apply_waivers(findings: Sequence[Finding], waivers: Sequence[Waiver], today: dt.date) -> WaiverOutcome:
    """Mark failing findings covered by an active waiver as suppressed; the first matching waiver wins."""
    out = list(findings)
    uses: list[WaiverUse] = []
    warnings: list[str] = []
    compensations: dict[str, str] = {}
    for waiver in waivers:
        label = f"waiver {waiver.check_id} on {waiver.resource} ({waiver.source or 'waivers file'})"
        if waiver.expires is None:
            uses.append(_use(waiver, "no-expiry"))
            warnings.append(f"{label} has no expiry date: ignored")
            continue
        if waiver.expired(today):
            uses.append(_use(waiver, "expired"))
            warnings.append(f"{label} expired on {waiver.expires}: ignored")
            continue
        matched = []
        for i, finding in enumerate(out):
            if finding.status is Status.FAIL and waiver.matches(finding):
                matched.append(finding.resource_id)
                if finding.suppressed_by is None:
                    out[i] = replace(finding, suppressed_by=waiver.describe())
                    compensations[finding.uid] = waiver.compensation
        uses.append(_use(waiver, "active" if matched else "unmatched", tuple(matched)))
        if not matched:
            warnings.append(f"{label} matches no failing finding")
    return WaiverOutcome(out, uses, warnings, compensations)


def _use(waiver: Waiver, state: str, matched: tuple[str, ...] = ()) -> WaiverUse:
    return WaiverUse(check_id=waiver.check_id, resource_pattern=waiver.resource,
                     justification=waiver.justification, approver=waiver.approver,
                     expires=waiver.expires.isoformat() if waiver.expires else "", state=state,
                     compensating_control=waiver.compensating_control, matched=matched)


def evaluate_requirements(findings: Iterable[Finding], framework: Framework,
                          attestations: Iterable[Attestation], ran_checks: Iterable[str],
                          compensations: Mapping[str, str] | None = None) -> list[RequirementResult]:
    """One result for every requirement of the framework, in catalog order. Pure."""
    by_check: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        if f.status is not Status.MANUAL:
            by_check[f.check_id].append(f)
    attested: dict[str, list[Attestation]] = defaultdict(list)
    for att in attestations:
        if att.framework == framework.id:
            attested[att.requirement_id].append(att)
    ran = set(ran_checks)
    return [_judge(framework.id, req, [f for c in req.checks for f in by_check.get(c, ())],
                   attested.get(req.id, []), [c for c in req.checks if c not in ran], compensations or {})
            for req in framework.requirements]


def _judge(fw_id: str, req: Requirement, findings: list[Finding], atts: list[Attestation],
           not_run: list[str], compensations: Mapping[str, str]) -> RequirementResult:
    def result(roc: RocResult, detail: str, compensating: Iterable[str] = (),
               used: Sequence[Attestation] = ()) -> RequirementResult:
        return RequirementResult(fw_id, req.id, roc, detail, req.checks, tuple(compensating),
                                 tuple(a.id for a in used))

    attestation = _attested(atts)
    if not req.checks:
        if atts:
            return result(RocResult.IN_PLACE, attestation, used=atts)
        return result(RocResult.NOT_TESTED, "no automated check: needs a manual attestation")

    failing = [f for f in findings if f.status is Status.FAIL and f.suppressed_by is None]
    if failing:
        return result(RocResult.NOT_IN_PLACE, f"{len(failing)} failing: {_listed(failing)}")
    errors = [f for f in findings if f.status is Status.ERROR]
    if errors:
        names = sorted({f.check_id for f in errors})
        return result(RocResult.NOT_TESTED, f"could not assess: {', '.join(names)} errored "
                                            f"({len(errors)} errors): {_listed(errors)}")
    if not_run:
        return result(RocResult.NOT_TESTED, f"not run in this scan: {', '.join(not_run)}")

    waived = [f for f in findings if f.status is Status.FAIL]
    compensating = sorted({compensations.get(f.uid) or f.suppressed_by or "" for f in waived} - {""})
    if not findings:
        if req.testing == "partial" and atts:
            return result(RocResult.IN_PLACE, f"checks found no in-scope resource; {attestation}", used=atts)
        rest = "" if req.testing == "automated" else "; the manual part is not attested"
        return result(RocResult.NOT_APPLICABLE, f"checks found no in-scope resource{rest}")
    passed = f"{len(findings) - len(waived)} passed" + (f", {len(waived)} waived" if waived else "")
    if req.testing == "automated":
        return result(RocResult.IN_PLACE, passed, compensating)
    if atts:
        return result(RocResult.IN_PLACE, f"{passed}; {attestation}", compensating, atts)
    return result(RocResult.NOT_TESTED, f"{passed}; the manual part needs an attestation", compensating)


def _attested(atts: Sequence[Attestation]) -> str:
    return "attested by " + "; ".join(f"{a.attested_by} (until {a.expires_at[:10]})" for a in atts)


def _listed(findings: Sequence[Finding]) -> str:
    shown = "; ".join(f"{f.check_id} on {f.resource_id}: {f.reason}" for f in findings[:_LISTED])
    more = len(findings) - _LISTED
    return shown + (f"; and {more} more" if more > 0 else "")


def ran_checks(scan: Scan) -> set[str]:
    """The checks this scan ran: the ones the scan recorded in options['checks'], else every check
    of its target, plus any check that yielded a finding."""
    from controls.registry import all_checks

    listed = scan.options.get("checks")
    ids = set(listed) if listed is not None else {c.id for c in all_checks(scan.target)}
    return ids | {f.check_id for f in scan.findings}


def _scan_time(scan: Scan) -> dt.datetime:
    started = dt.datetime.fromisoformat(scan.started_at)
    return started if started.tzinfo else started.replace(tzinfo=dt.UTC)


def assess_scan(scan: Scan, store: Store, framework_ids: list[str], waivers: list[Waiver],
                today: dt.date) -> list[str]:
    """Apply waivers, then judge every requirement of each framework; returns warning lines."""
    frameworks = [load(fid) for fid in framework_ids]
    outcome = apply_waivers(scan.findings, waivers, today)
    scan.findings = outcome.findings
    scan.waivers = outcome.uses
    attestations = active_attestations(store, _scan_time(scan))
    ran = ran_checks(scan)
    scan.requirement_results = [
        res for fw in frameworks
        for res in evaluate_requirements(scan.findings, fw, attestations, ran, outcome.compensations)]
    scan.catalog_versions.update({fw.id: fw.catalog_version or fw.version for fw in frameworks})
    return outcome.warnings


def principal_counts(results: Iterable[RequirementResult], framework: Framework) -> dict[str, dict[str, int]]:
    """Per principal requirement: how many requirements have each ROC result."""
    counts = {p.id: {r.value: 0 for r in RocResult} for p in framework.principals}
    principal_of = {req.id: req.principal for req in framework.requirements}
    for res in results:
        if res.framework == framework.id and res.requirement_id in principal_of:
            counts[principal_of[res.requirement_id]][res.result.value] += 1
    return counts


_STYLES = {RocResult.IN_PLACE: "green", RocResult.NOT_IN_PLACE: "red", RocResult.NOT_APPLICABLE: "dim",
           RocResult.NOT_TESTED: "yellow"}


def principal_summary_table(results: list[RequirementResult], framework: Framework) -> Table:
    table = Table(title=f"{framework.label}: requirement results")
    table.add_column("Req", no_wrap=True)
    table.add_column("Principal requirement")
    for roc in RocResult:
        table.add_column(roc.value, justify="right", style=_STYLES[roc])
    totals = dict.fromkeys(RocResult, 0)
    titles = {p.id: p.title for p in framework.principals}
    for pid, row in principal_counts(results, framework).items():
        for roc in RocResult:
            totals[roc] += row[roc.value]
        table.add_row(pid, titles[pid], *(str(row[roc.value]) for roc in RocResult))
    table.add_section()
    table.add_row("", "Total", *(str(totals[roc]) for roc in RocResult))
    return table
