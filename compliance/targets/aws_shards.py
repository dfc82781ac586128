"""An AWS Organization scanned as shards: planning the units, running one, assembling the scan.

A shard is an account (its checks run in the shard) or, with `account-region`, one region of an
account or its global services (the checks then run when the scan is finished, over the account's
evidence from all its shards, since a check may need every region at once). Collection is the same
code a one-process `--organization` scan runs, so the findings are the same, id for id.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from itertools import groupby
from typing import Any

from compliance import shards
from compliance.collect.record import EvidenceRecord, Outcome
from compliance.errors import UsageError
from compliance.findings import Finding, Severity
from compliance.scan import Scan
from compliance.shards import Unit
from compliance.store import Store
from compliance.targets.aws import AwsOrganizationTarget

SHARD_BY = ("account", "account-region")
GLOBAL_UNIT = "global"


def units(members: Iterable[Any], regions: list[str], shard_by: str) -> list[Unit]:
    if shard_by not in SHARD_BY:
        raise UsageError(f"--shard-by must be one of {', '.join(SHARD_BY)}, got {shard_by!r}")
    out: list[Unit] = []
    for member in members:
        if shard_by == "account":
            out.append(Unit(member.id, member.name))
        else:
            out.extend(Unit(member.id, member.name, region) for region in [GLOBAL_UNIT, *regions])
    return out


def plan_organization(target: AwsOrganizationTarget, store: Store, scan_id: str, shard_by: str,
                      output: dict[str, Any]) -> int:
    """List the organisation's accounts and record one shard per unit; collects nothing else."""
    target.connect()
    management = target._management
    request = {
        "profile": target.profile, "role_arn": target.role_arn, "external_id": target.external_id,
        "regions": management.regions, "endpoint_url": management.endpoint_url,
        "ecr_min_severity": target.ecr_min_severity.name, "workers": target.workers,
        "ecr_max_finding_age": target.ecr_max_finding_age,
        "max_attempts": target.max_attempts, "member_role": target.member_role, "timeout": target.timeout,
        "shard_by": shard_by,
    }
    scope = {
        "organization": True, "management_account": management.account_id, "member_role": target.member_role,
        "regions": management.regions, "endpoint_url": management.endpoint_url, "profile": target.profile,
        "role_arn": target.role_arn, "identity": management.identity,
    }
    if target.accounts or target.exclude_accounts:
        scope["selection"] = {"accounts": target.accounts, "exclude_accounts": target.exclude_accounts}
    scope["excluded"] = target.excluded()
    chosen = units(target._members, management.regions, shard_by)
    return shards.create(store, scan_id, "aws", chosen, request=request, output=output, scope=scope,
                         listing=target._listing.as_dict())


def _target(request: dict[str, Any]) -> AwsOrganizationTarget:
    return AwsOrganizationTarget(
        profile=request["profile"], role_arn=request["role_arn"], external_id=request["external_id"],
        regions=list(request["regions"]), endpoint_url=request["endpoint_url"],
        ecr_min_severity=Severity[request["ecr_min_severity"]], workers=request["workers"],
        ecr_max_finding_age=request.get("ecr_max_finding_age", 30),
        max_attempts=request["max_attempts"], member_role=request["member_role"], timeout=request["timeout"])


@dataclass(frozen=True)
class ShardOutcome:
    index: int
    attempt: int
    committed: bool
    reached: bool
    findings: int
    evidence: int


def run_shard(store: Store, scan_id: str, index: int) -> ShardOutcome:
    """One attempt at one shard: collect, evaluate a whole account, commit unless overtaken."""
    plan = shards.plan(store, scan_id)
    shard, attempt = shards.start(store, scan_id, index)
    try:
        return _attempt(store, plan, shard, attempt)
    except BaseException as exc:  # recorded for `scan status`, then re-raised for the exit code
        shards.fail(store, scan_id, index, attempt, f"{type(exc).__name__}: {exc}".strip())
        raise


def _attempt(store: Store, plan: shards.Plan, shard: shards.Shard, attempt: int) -> ShardOutcome:
    from compliance.collect.aws.collector import collect
    from compliance.collect.aws.organization import Member, enter, tag, unreachable
    from compliance.collect.aws.session import AwsAccount, connect

    request = plan.request
    management = connect(profile=request["profile"], role_arn=request["role_arn"],
                         external_id=request["external_id"] if request["role_arn"] else None,
                         regions=request["regions"], endpoint_url=request["endpoint_url"],
                         timeout=request["timeout"])
    unit = shard.unit
    member = Member(unit.account, unit.name, "ACTIVE")
    spec = _spec(unit.region)
    regions = [unit.region] if unit.region not in (None, GLOBAL_UNIT) else management.regions
    account: AwsAccount | None = management
    reached, reason = True, None
    if unit.account != management.account_id:
        account, refusal = enter(management, member, request["member_role"], request["external_id"],
                                   request.get("timeout"))
        if account is None:
            reached, reason = False, refusal.error_message
            records = unreachable(replace(management, regions=regions), member, refusal, spec)
    if account is not None:
        records = tag(collect(replace(account, regions=regions), spec, workers=request["workers"],
                              max_attempts=request["max_attempts"], timeout=request["timeout"]), unit.account)
    findings = evaluate(unit.account, plan, records) if unit.region is None else None
    result = {"reached": reached, "reason": reason, "evidence": [r.as_dict() for r in records],
              "findings": None if findings is None else [f.as_dict() for f in findings]}
    committed = shards.commit(store, plan.scan_id, shard.index, attempt, result)
    return ShardOutcome(shard.index, attempt, committed, reached, len(findings or ()), len(records))


def _spec(region: str | None) -> list[Any]:
    from compliance.collect.aws.spec import AWS_SPEC, GLOBAL

    if region is None:
        return list(AWS_SPEC)
    return [c for c in AWS_SPEC if (c.scope == GLOBAL) == (region == GLOBAL_UNIT)]


def _check_options(request: dict[str, Any]) -> dict[str, Any]:
    """The options checks read, from a plan recorded before --ecr-max-finding-age existed too."""
    return {"ecr_min_severity": request["ecr_min_severity"],
            "ecr_max_finding_age_days": request.get("ecr_max_finding_age", 30)}


def evaluate(account_id: str, plan: shards.Plan, records: list[EvidenceRecord]) -> list[Finding]:
    from compliance.engine import selected_checks
    from controls.aws.inventory import AwsInventory
    from controls.registry import run_checks

    inventory = AwsInventory(account_id, list(plan.request["regions"]), records,
                             options=_check_options(plan.request))
    return list(run_checks(selected_checks("aws"), inventory))


def _missing(plan: shards.Plan, shard: shards.Shard) -> tuple[list[EvidenceRecord], str]:
    """ERROR records for every call a shard that never committed would have made, and why."""
    from compliance.collect.aws.organization import Member, unreachable
    from compliance.collect.aws.session import AwsAccount

    unit = shard.unit
    why = f"shard {shard.index} did not complete (attempt {shard.attempt}): {shard.reason or shard.state}"
    regions = [unit.region] if unit.region not in (None, GLOBAL_UNIT) else list(plan.request["regions"])
    placeholder = AwsAccount(None, {"Account": unit.account}, regions,  # type: ignore[arg-type]
                             plan.request["endpoint_url"], None)  # type: ignore[arg-type]
    marker = EvidenceRecord("aws", "comply", "run_shard", unit.region or "account", {"index": shard.index},
                            shard.finished_at or plan.created_at, Outcome.ERROR, error_code="ShardFailed",
                            error_message=why, account=unit.account)
    member = Member(unit.account, unit.name, "ACTIVE")
    return unreachable(placeholder, member, marker, _spec(unit.region)), why


def assemble(store: Store, scan_id: str) -> Scan:
    """The finished scan from every shard's committed result.

    A shard that never committed leaves its account (or region) with ERROR evidence saying so: its
    checks say ERROR and its requirements stay Not Tested, never passed.

    Memory grows with the findings, not with the evidence: shard results are read one at a time, an
    account's records are held only while its checks run (when its regions were separate shards),
    and the scan keeps an index of the records without their responses; the full records are
    streamed again from the store (`Scan.evidence_source`) when the pack and the store are written.
    """
    from compliance.engine import selected_checks

    plan = shards.plan(store, scan_id)
    scope = dict(plan.scope)
    identity = scope.pop("identity", {})
    listing = EvidenceRecord.from_dict(plan.listing)
    every = shards.shards(store, scan_id, results=False)
    first: dict[str, int] = {}
    accounts: dict[str, dict[str, Any]] = {}
    for shard in every:
        first.setdefault(shard.unit.account, shard.index)
        accounts.setdefault(shard.unit.account, {"id": shard.unit.account, "name": shard.unit.name,
                                                 "reached": True})
    # an account's shards side by side (units() makes them so), the accounts in plan order
    ordered = sorted(every, key=lambda s: (first[s.unit.account], s.index))
    index: dict[str, EvidenceRecord] = {listing.id: _without_response(listing)}
    missing: dict[int, list[EvidenceRecord]] = {}
    failed: list[dict[str, Any]] = []
    findings: list[Finding] = []
    for account_id, group in groupby(ordered, key=lambda s: s.unit.account):
        unevaluated: list[EvidenceRecord] = []
        for shard in group:
            status = accounts[account_id]
            result = shards.result(store, scan_id, shard.index) if shard.state == shards.DONE else None
            if result is not None:
                records = [EvidenceRecord.from_dict(r) for r in result["evidence"]]
                if not result["reached"]:
                    status.update(reached=False, reason=result["reason"])
            else:
                records, why = _missing(plan, shard)
                missing[shard.index] = records
                failed.append({"index": shard.index, "account": account_id, "region": shard.unit.region,
                               "reason": why})
                status.update(reached=False, reason=why)
            for rec in records:
                index.setdefault(rec.id, _without_response(rec))
            if result is not None and result["findings"] is not None:
                findings.extend(Finding.from_dict(f) for f in result["findings"])
            else:
                unevaluated.extend(records)
            del records, result
        if unevaluated:
            findings.extend(evaluate(account_id, plan, unevaluated))

    def full_records(reader: Any = None) -> Iterator[EvidenceRecord]:
        """The records of the index, with their responses, a shard's result at a time."""
        seen: set[str] = set()
        for shard in [None, *ordered]:
            if shard is None:
                records: Iterable[EvidenceRecord] = [listing]
            elif shard.index in missing:
                records = missing[shard.index]
            else:
                result = shards.result(store, scan_id, shard.index, reader) or {"evidence": []}
                records = (EvidenceRecord.from_dict(r) for r in result["evidence"])
            for rec in records:
                if rec.id in index and rec.id not in seen:
                    seen.add(rec.id)
                    yield rec

    scope["accounts"] = list(accounts.values())
    scope["shards"] = {"count": len(every), "shard_by": plan.request["shard_by"],
                       "failed": sorted(failed, key=lambda f: f["index"])}
    scan = Scan(target="aws", scope=scope, identity=identity, id=plan.scan_id, started_at=plan.created_at,
                options={**_check_options(plan.request),
                         "checks": [c.id for c in selected_checks("aws")]})
    scan.evidence = sorted(index.values(), key=lambda r: r.id)
    scan.evidence_source = full_records
    scan.findings = findings
    return scan


def _without_response(record: EvidenceRecord) -> EvidenceRecord:
    """The record as the index keeps it: its id, call, outcome and the SHA-256 of its body, no body."""
    return replace(record, response=None)
