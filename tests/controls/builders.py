"""Evidence records and inventories built by hand, as the collector would have recorded them."""

from __future__ import annotations

from typing import Any

from compliance.collect.record import EvidenceRecord, Outcome
from compliance.findings import Finding
from controls.aws.inventory import AwsInventory
from controls.registry import get_check

ACCOUNT = "123456789012"
REGION = "us-east-1"
OTHER = "eu-west-1"
WHEN = "2025-01-01T00:00:00.000+00:00"


def ok(service: str, operation: str, response: Any, *, region: str | None = REGION,
       **params: Any) -> EvidenceRecord:
    """An answered call; `region=None` for global services and S3/IAM follow-ups."""
    return EvidenceRecord("aws", service, operation, region, params, WHEN, Outcome.OK, response, "req-1")


def absent(service: str, operation: str, *, region: str | None = REGION, code: str = "NotFound",
           **params: Any) -> EvidenceRecord:
    """A definite 'nothing configured', recorded the way the collector records it."""
    return EvidenceRecord("aws", service, operation, region, params, WHEN, Outcome.ABSENT, {"absent": code},
                          "req-2", error_code=code, error_message="nothing configured")


def broken(service: str, operation: str, *, region: str | None = REGION, code: str = "AccessDenied",
           **params: Any) -> EvidenceRecord:
    return EvidenceRecord("aws", service, operation, region, params, WHEN, Outcome.ERROR, None, "req-3",
                          error_code=code, error_message="User is not authorized")


def inventory(*records: EvidenceRecord, regions: tuple[str, ...] = (REGION,),
              options: dict[str, Any] | None = None) -> AwsInventory:
    return AwsInventory(ACCOUNT, list(regions), list(records), options or {})


def run(check_id: str, inv: AwsInventory) -> list[Finding]:
    return get_check(check_id).run(inv)


def only(check_id: str, inv: AwsInventory) -> Finding:
    findings = run(check_id, inv)
    assert len(findings) == 1, findings
    return findings[0]


def by_resource(findings: list[Finding]) -> dict[str, Finding]:
    result = {f.resource_id: f for f in findings}
    assert len(result) == len(findings), "one finding per resource"
    return result
