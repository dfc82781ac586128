"""The scan pipeline for an AWS account: connect, collect, evaluate. I/O stays in collect."""

from __future__ import annotations

from dataclasses import dataclass, field

from compliance.collect.aws.collector import Progress, collect
from compliance.collect.aws.session import connect
from compliance.collect.aws.spec import AWS_SPEC
from compliance.collect.record import utcnow
from compliance.findings import Severity
from compliance.scan import Scan
from controls.aws.inventory import AwsInventory
from controls.registry import all_checks, run_checks


@dataclass(frozen=True)
class AwsScanRequest:
    profile: str | None = None
    role_arn: str | None = None
    external_id: str | None = None
    regions: list[str] = field(default_factory=list)
    endpoint_url: str | None = None
    ecr_min_severity: Severity = Severity.HIGH
    workers: int = 16
    max_attempts: int = 8


def scan_aws(request: AwsScanRequest, progress: Progress | None = None) -> Scan:
    target = connect(profile=request.profile, role_arn=request.role_arn, external_id=request.external_id,
                     regions=request.regions or None, endpoint_url=request.endpoint_url)
    scope = {"account_id": target.account_id, "regions": target.regions, "endpoint_url": target.endpoint_url,
             "profile": request.profile, "role_arn": request.role_arn}
    scan = Scan(target="aws", scope=scope, identity=target.identity,
                options={"ecr_min_severity": request.ecr_min_severity.name})
    scan.evidence = collect(target, AWS_SPEC, workers=request.workers, max_attempts=request.max_attempts,
                            progress=progress)
    inventory = AwsInventory(target.account_id, target.regions, scan.evidence,
                             options={"ecr_min_severity": request.ecr_min_severity.name})
    checks = all_checks("aws")
    scan.options["checks"] = [c.id for c in checks]
    scan.findings = list(run_checks(checks, inventory))
    scan.finished_at = utcnow()
    return scan
