"""Assessment: a scan's findings, waivers, attestations and scoping decisions turned into a ROC result
per requirement, each with its basis (who drew the conclusion).

The rules, for each requirement of a catalog, strongest first:

- a failure nobody waived makes it Not in Place (basis automated), whatever else is true;
- a recorded scoping decision makes it Not Applicable (basis scoped). Nothing else does: the absence
  of resources in the scanned accounts and regions proves nothing about the entity's other systems;
- a check that errored or did not run makes it Not Tested: "could not look" is never "In Place";
- checks that ran and found nothing in scope make it Not Tested, "no in-scope resource found in ...";
- passing checks make a requirement the catalog marks fully automated In Place; anything else needs a
  person: an attestation makes it Not Tested (basis attested) "awaiting assessor review", and only an
  assessor's review (`comply review`, applied by compliance.reviews) concludes In Place.

Failures covered by active waivers count as passing; the result lists them and the compensating control.
MANUAL findings count as nothing.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from rich.table import Table

from compliance.attestations import Attestation, active_attestations
from compliance.decisions import ScopingDecision, active_decisions
from compliance.findings import Finding, Status
from compliance.frameworks import Framework, Requirement, load
from compliance.scan import Basis, RequirementResult, RocResult, Scan, WaiverUse
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
                     compensating_control=waiver.compensating_control, matched=matched,
                     approved=waiver.approved.isoformat() if waiver.approved else "")


def describe_scope(scope: Mapping[str, object]) -> str:
    """The scope a scan looked at, as the 'no in-scope resource found in ...' detail names it."""
    nested = {k: v for k, v in scope.items() if isinstance(v, dict)}
    if nested:
        return "; ".join(f"{name}: {describe_scope(part)}" for name, part in nested.items())
    parts = []
    if account := scope.get("account_id"):
        parts.append(f"account {account}")
    regions = scope.get("regions")
    if isinstance(regions, list | tuple) and regions:
        parts.append(("region " if len(regions) == 1 else "regions ") + ", ".join(map(str, regions)))
    for key, value in scope.items():
        if key in ("account_id", "regions", "endpoint_url", "profile", "role_arn", "label") or not value:
            continue
        if isinstance(value, str | int):
            parts.append(f"{key.replace('_', ' ')} {value}")
    return "; ".join(parts) or "the scanned scope"


def evaluate_requirements(findings: Iterable[Finding], framework: Framework,
                          attestations: Iterable[Attestation], ran_checks: Iterable[str],
                          compensations: Mapping[str, str] | None = None, *,
                          scope: str = "the scanned scope",
                          decisions: Iterable[ScopingDecision] = ()) -> list[RequirementResult]:
    """One result for every requirement of the framework, in catalog order. Pure."""
    by_check: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        if f.status is not Status.MANUAL:
            by_check[f.check_id].append(f)
    attested: dict[str, list[Attestation]] = defaultdict(list)
    for att in attestations:
        if att.framework == framework.id:
            attested[att.requirement_id].append(att)
    scoped: dict[str, list[ScopingDecision]] = defaultdict(list)
    for decision in decisions:
        if decision.framework == framework.id:
            scoped[decision.requirement_id].append(decision)
    ran = set(ran_checks)
    context = _Context(framework.id, compensations or {}, scope)
    return [_judge(context, req, [f for c in req.checks for f in by_check.get(c, ())],
                   attested.get(req.id, []), [c for c in req.checks if c not in ran], scoped.get(req.id, []))
            for req in framework.requirements]


@dataclass(frozen=True)
class _Context:
    framework: str
    compensations: Mapping[str, str]
    scope: str


def _judge(ctx: _Context, req: Requirement, findings: list[Finding], atts: list[Attestation],
           not_run: list[str], decisions: list[ScopingDecision]) -> RequirementResult:
    """The rules, strongest first: an unwaived failure; a scoping decision; errors or checks not run;
    then what the checks and attestations support, never more than their basis allows."""
    waived_findings = [f for f in findings if f.status is Status.FAIL and f.suppressed_by is not None]
    waived = tuple(f"{f.check_id} on {f.resource_id}: {f.suppressed_by}" for f in waived_findings)
    compensating = tuple(sorted({ctx.compensations.get(f.uid) or f.suppressed_by or ""
                                 for f in waived_findings} - {""}))

    def result(roc: RocResult, detail: str, basis: Basis = Basis.AUTOMATED,
               used: Sequence[Attestation] = (),
               decided: Sequence[ScopingDecision] = ()) -> RequirementResult:
        return RequirementResult(ctx.framework, req.id, roc, detail, req.checks, compensating,
                                 tuple(a.id for a in used), basis, waived, tuple(d.id for d in decided))

    attestation = _attested(atts)
    failing = [f for f in findings if f.status is Status.FAIL and f.suppressed_by is None]
    if failing:
        against = f"; contradicts {_scoped(decisions)}" if decisions else ""
        scope_note = f"; {req.note}" if req.note else ""
        return result(RocResult.NOT_IN_PLACE,
                      f"{len(failing)} failing: {_listed(failing)}{against}{scope_note}")
    if decisions:
        return result(RocResult.NOT_APPLICABLE, _scoped(decisions), Basis.SCOPED, decided=decisions)
    if not req.checks:
        if atts:
            return result(RocResult.NOT_TESTED, f"{attestation}, awaiting assessor review",
                          Basis.ATTESTED, atts)
        return result(RocResult.NOT_TESTED, "no automated check: needs an attestation and assessor review")

    errors = [f for f in findings if f.status is Status.ERROR]
    if errors:
        names = sorted({f.check_id for f in errors})
        return result(RocResult.NOT_TESTED, f"could not assess: {', '.join(names)} errored "
                                            f"({len(errors)} errors): {_listed(errors)}")
    if not_run:
        return result(RocResult.NOT_TESTED, f"not run in this scan: {', '.join(not_run)}")

    note = f"; {req.note}" if req.note else ""
    if not findings:
        found = f"no in-scope resource found in {ctx.scope}"
        if atts:
            return result(RocResult.NOT_TESTED, f"{found}; {attestation}, awaiting assessor review",
                          Basis.ATTESTED, atts)
        return result(RocResult.NOT_TESTED, found + note)
    passed = f"{len(findings) - len(waived_findings)} passed" + (
        f", {len(waived_findings)} waived" if waived_findings else "")
    if req.testing == "automated":
        return result(RocResult.IN_PLACE, passed)
    if atts:
        return result(RocResult.NOT_TESTED, f"{passed}{note}; {attestation}, awaiting assessor review",
                      Basis.ATTESTED, atts)
    return result(RocResult.NOT_TESTED,
                  f"{passed}{note}; the part no check covers needs an attestation and assessor review")


def _attested(atts: Sequence[Attestation]) -> str:
    return "attested by " + "; ".join(f"{a.attested_by} on {a.created_at[:10]} (until {a.expires_at[:10]})"
                                      for a in atts)


def _scoped(decisions: Sequence[ScopingDecision]) -> str:
    return "; ".join(f"scoped out by {d.decided_by} on {d.created_at[:10]}: {d.justification}"
                     + (f" (until {d.expires_at[:10]})" if d.expires_at else "") for d in decisions)


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
    decisions = active_decisions(store, _scan_time(scan))
    ran = ran_checks(scan)
    scope = describe_scope(scan.scope)
    scan.requirement_results = [
        res for fw in frameworks
        for res in evaluate_requirements(scan.findings, fw, attestations, ran, outcome.compensations,
                                         scope=scope, decisions=decisions)]
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
