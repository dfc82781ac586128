"""Verdicts every AWS check needs when the evidence itself is missing or unreadable."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from compliance.collect.record import EvidenceRecord, Outcome
from controls.aws.inventory import GLOBAL, AwsInventory
from controls.registry import Verdict, errored


def region_of(region: str) -> str | None:
    """The finding's region: None for account-wide (global) resources."""
    return None if region == GLOBAL else region


def listing_errors(inv: AwsInventory, failures: Iterable[EvidenceRecord], service: str, resource: str,
                   arn: Callable[[str], str] | None = None) -> Iterator[Verdict]:
    """One ERROR per region whose listing failed, on a wildcard resource such as ``security-group/*``.

    `arn` builds the wildcard ARN from the region for services whose ARNs carry no account id.
    """
    for rec in failures:
        region = rec.scope or GLOBAL
        where = "the account" if region == GLOBAL else region
        resource_id = arn(region) if arn else inv.arn(service, region, resource)
        yield errored(resource_id, f"cannot list {resource} in {where}: {rec.error}", rec,
                      region=region_of(region))


def unusable(rec: EvidenceRecord | None, operation: str) -> str | None:
    """Why a follow-up record holds no answer, or None when it does (OK or a definite ABSENT)."""
    if rec is None:
        return f"{operation} was not collected"
    if rec.outcome is Outcome.ERROR:
        return rec.error
    return None
