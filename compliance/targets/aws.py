"""The AWS target: one account (or an emulator of one), assessed through the declared collection."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from compliance.findings import Severity
from compliance.targets import Collected, Progress


@dataclass
class AwsTarget:
    name: ClassVar[str] = "aws"

    profile: str | None = None
    role_arn: str | None = None
    external_id: str | None = None
    regions: list[str] = field(default_factory=list)
    endpoint_url: str | None = None
    ecr_min_severity: Severity = Severity.HIGH
    workers: int = 16
    max_attempts: int = 8
    timeout: float | None = None
    """Seconds each API call's connect and read may take (--timeout)."""
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
                 "endpoint_url": account.endpoint_url, "profile": self.profile, "role_arn": self.role_arn}
        evidence = collect(account, AWS_SPEC, workers=self.workers, max_attempts=self.max_attempts,
                           progress=progress, timeout=self.timeout)
        return Collected(scope, account.identity, evidence, {"ecr_min_severity": self.ecr_min_severity.name})

    def inventory(self, collected: Collected) -> Any:
        from controls.aws.inventory import AwsInventory

        return AwsInventory(collected.scope["account_id"], collected.scope["regions"], collected.evidence,
                            options=collected.options)
