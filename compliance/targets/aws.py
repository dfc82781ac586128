"""The AWS targets: one account (or an emulator of one) or a whole organisation, by declared collection."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, ClassVar

from compliance.findings import Severity
from compliance.targets import Collected, Progress


@dataclass
class AwsOptions:
    """How to reach AWS and how hard to call it: shared by the account and organisation targets."""

    name: ClassVar[str] = "aws"

    profile: str | None = None
    role_arn: str | None = None
    external_id: str | None = None
    regions: list[str] = field(default_factory=list)
    endpoint_url: str | None = None
    ecr_min_severity: Severity = Severity.HIGH
    ecr_max_finding_age: int = 30
    """Days a serious image finding may stay open (aws.ecr.findings_overdue)."""
    workers: int = 16
    """Concurrent calls (per account, in an organisation)."""
    max_attempts: int = 8
    timeout: float | None = None
    """--timeout: seconds each API request may take in all, its retries included (`session.bounded`)."""

    def check_options(self) -> dict[str, Any]:
        """The options checks read from the inventory (stored with the scan)."""
        return {"ecr_min_severity": self.ecr_min_severity.name,
                "ecr_max_finding_age_days": self.ecr_max_finding_age}


@dataclass
class AwsTarget(AwsOptions):
    _account: Any = field(default=None, init=False, repr=False)

    def connect(self) -> None:
        from compliance.collect.aws.session import connect

        self._account = connect(profile=self.profile, role_arn=self.role_arn, external_id=self.external_id,
                                regions=self.regions or None, endpoint_url=self.endpoint_url,
                                timeout=self.timeout)

    def collect(self, progress: Progress | None = None) -> Collected:
        from compliance.collect.aws.collector import collect
        from compliance.collect.aws.spec import AWS_SPEC

        if self._account is None:
            self.connect()
        account = self._account
        scope = {"account_id": account.account_id, "regions": account.regions,
                 "endpoint_url": account.endpoint_url, "profile": self.profile, "role_arn": self.role_arn,
                 "excluded": regions_excluded(account.regions_not_scanned)}
        evidence = collect(account, AWS_SPEC, workers=self.workers, max_attempts=self.max_attempts,
                           progress=progress, timeout=self.timeout)
        return Collected(scope, account.identity, evidence, self.check_options())

    def inventory(self, collected: Collected) -> Any:
        from controls.aws.inventory import AwsInventory

        return AwsInventory(collected.scope["account_id"], collected.scope["regions"], collected.evidence,
                            options=collected.options)


def regions_excluded(not_scanned: dict[str, str]) -> list[str]:
    """Regions left out, grouped by why: one line a reason, for the scope statement."""
    by_reason: dict[str, list[str]] = {}
    for region, why in sorted(not_scanned.items()):
        by_reason.setdefault(why, []).append(region)
    return [f"regions {', '.join(regions)}: {why}" for why, regions in by_reason.items()]


def _why_left_out(member: Any, only: list[str], exclude: list[str]) -> str:
    if member.id in exclude:
        return "excluded with --exclude-accounts"
    if only and member.id not in only:
        return "not selected (--accounts)"
    return f"not scanned: its status is {member.status}, not ACTIVE"


class _Tally:
    """Calls done and known across accounts collected at once, reported as one figure."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.counts: dict[str, tuple[int, int]] = {}
        self.lock = threading.Lock()

    def for_account(self, account_id: str) -> Progress:
        def report(done: int, total: int) -> None:
            with self.lock:
                self.counts[account_id] = (done, total)
                if self.progress is not None:
                    self.progress(sum(d for d, _ in self.counts.values()),
                                  sum(t for _, t in self.counts.values()))

        return report


@dataclass
class AwsOrganizationTarget(AwsOptions):
    """Every active account of an AWS Organization, entered through a role each member trusts.

    Accounts are collected concurrently (`account_workers` at a time), each with its own bounded pool
    of `workers` calls, since AWS throttles per account and region: one slow or throttled account
    holds up only its own calls. The management account is scanned with the scan's own credentials.
    """

    member_role: str = "OrganizationAccountAccessRole"
    accounts: list[str] = field(default_factory=list)
    exclude_accounts: list[str] = field(default_factory=list)
    account_workers: int = 8
    _management: Any = field(default=None, init=False, repr=False)
    _members: list[Any] = field(default_factory=list, init=False, repr=False)
    _listing: Any = field(default=None, init=False, repr=False)
    _left_out: list[str] = field(default_factory=list, init=False, repr=False)

    def connect(self) -> None:
        from compliance.collect.aws.organization import choose, list_members
        from compliance.collect.aws.session import connect

        self._management = connect(profile=self.profile, role_arn=self.role_arn,
                                   external_id=self.external_id if self.role_arn else None,
                                   regions=self.regions or None, endpoint_url=self.endpoint_url,
                                   timeout=self.timeout)
        members, self._listing = list_members(self._management, self.timeout)
        self._members = choose(members, self.accounts, self.exclude_accounts)
        chosen = {m.id for m in self._members}
        self._left_out = [f"account {m.id}" + (f" ({m.name})" if m.name else "") + ": "
                          + _why_left_out(m, self.accounts, self.exclude_accounts)
                          for m in members if m.id not in chosen]

    def collect(self, progress: Progress | None = None) -> Collected:
        if self._management is None:
            self.connect()
        tally = _Tally(progress)
        with ThreadPoolExecutor(max_workers=self.account_workers, thread_name_prefix="account") as pool:
            results = list(pool.map(lambda m: self._collect_account(m, tally.for_account(m.id)),
                                    self._members))
        management = self._management
        evidence = [self._listing, *(r for records, _ in results for r in records)]
        scope = {
            "organization": True,
            "management_account": management.account_id,
            "member_role": self.member_role,
            "accounts": [status for _, status in results],
            "regions": management.regions,
            "endpoint_url": management.endpoint_url,
            "profile": self.profile,
            "role_arn": self.role_arn,
        }
        if self.accounts or self.exclude_accounts:
            scope["selection"] = {"accounts": self.accounts, "exclude_accounts": self.exclude_accounts}
        scope["excluded"] = self.excluded()
        return Collected(scope, management.identity, sorted(evidence, key=lambda r: r.id),
                         self.check_options())

    def excluded(self) -> list[str]:
        """Accounts and regions the scan leaves out, each with why (after connect)."""
        return [*self._left_out, *regions_excluded(self._management.regions_not_scanned)]

    def _collect_account(self, member: Any, progress: Progress) -> tuple[list[Any], dict[str, Any]]:
        from compliance.collect.aws.collector import collect
        from compliance.collect.aws.organization import enter, tag, unreachable
        from compliance.collect.aws.spec import AWS_SPEC

        management = self._management
        status = {"id": member.id, "name": member.name, "reached": True}
        account = management
        if member.id != management.account_id:
            account, refusal = enter(management, member, self.member_role, self.external_id, self.timeout)
            if account is None:
                status.update(reached=False, reason=refusal.error_message)
                return unreachable(management, member, refusal, AWS_SPEC), status
        records = collect(account, AWS_SPEC, workers=self.workers, max_attempts=self.max_attempts,
                          progress=progress, timeout=self.timeout)
        return tag(records, member.id), status

    def inventory(self, collected: Collected) -> Any:
        return self.inventories(collected)[0]

    def inventories(self, collected: Collected) -> list[Any]:
        """One inventory per account: every check runs over each account's evidence alone."""
        from controls.aws.inventory import AwsInventory

        by_account: dict[str, list[Any]] = {a["id"]: [] for a in collected.scope["accounts"]}
        for record in collected.evidence:
            if record.account in by_account:
                by_account[record.account].append(record)
        return [AwsInventory(account_id, collected.scope["regions"], records, options=collected.options)
                for account_id, records in by_account.items()]
