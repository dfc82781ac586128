"""Verdicts every AWS check needs when the evidence itself is missing or unreadable."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from compliance.collect.record import EvidenceRecord, Outcome
from controls.aws.inventory import GLOBAL, AwsInventory, Item
from controls.registry import Verdict, errored, failed, passed


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


Judgement = tuple[bool | None, str, tuple[EvidenceRecord | None, ...]]
"""What a per-resource judge says: True (PASS), False (FAIL) or None (ERROR), why, and the extra
evidence it read beyond the listing record."""


def good(reason: str, *evidence: EvidenceRecord | None) -> Judgement:
    return True, reason, evidence


def bad(reason: str, *evidence: EvidenceRecord | None) -> Judgement:
    return False, reason, evidence


def unknown(reason: str, *evidence: EvidenceRecord | None) -> Judgement:
    return None, reason, evidence


@dataclass(frozen=True)
class Listing:
    """A list call the checks read resources from, and how to name a resource and a failed listing."""

    service: str
    operation: str
    key: str
    resource: str
    """The wildcard resource named when the listing failed, e.g. ``db:*``."""
    arn: Callable[[AwsInventory, Item], str]
    label: Callable[[Item], str]
    scope: str = "regional"
    params: Mapping[str, Any] = field(default_factory=dict)
    wildcard: Callable[[str], str] | None = None
    """Builds the failed listing's resource id from the region, for ARNs without an account id."""
    arn_service: str | None = None
    """The service name ARNs use when it differs from the API's (elbv2 -> elasticloadbalancing)."""

    def items(self, inv: AwsInventory) -> tuple[list[Item], list[Verdict]]:
        params = {k: inv.account_id if v == "{account}" else v for k, v in self.params.items()}
        regions = [GLOBAL] if self.scope == GLOBAL else None
        found, failures = inv.listing(self.service, self.operation, self.key, regions, **params)
        return found, list(listing_errors(inv, failures, self.arn_service or self.service, self.resource,
                                          self.wildcard))


def each(inv: AwsInventory, listing: Listing, judge: Callable[[Item], Judgement | None],
         keep: Callable[[Item], bool] | None = None) -> Iterator[Verdict]:
    """One verdict per listed resource (that `keep` accepts; a judge returning None skips it too), and
    one ERROR per region whose listing failed."""
    items, errors = listing.items(inv)
    yield from errors
    for item in items:
        if keep is not None and not keep(item):
            continue
        judged = judge(item)
        if judged is None:
            continue
        state, reason, evidence = judged
        arn, text, region = listing.arn(inv, item), f"{listing.label(item)} {reason}", region_of(item.region)
        make = passed if state is True else failed if state is False else errored
        yield make(arn, text, item.record, *evidence, region=region)


def answer(inv: AwsInventory, item: Item, service: str, operation: str,
           **params: Any) -> tuple[EvidenceRecord | None, str | None]:
    """A follow-up call made for `item` (in its region), and why it holds no answer, if it does not."""
    rec = inv.call(service, operation, None if item.region == GLOBAL else item.region, **params)
    return rec, unusable(rec, operation)


def policy_statements(document: Any) -> list[dict[str, Any]]:
    """A policy document's statements, whether it arrives as JSON text, URL-quoted text or a dict."""
    if isinstance(document, str):
        try:
            document = json.loads(unquote(document) if document.startswith("%7B") else document)
        except ValueError:
            return []
    statements = (document or {}).get("Statement") if isinstance(document, dict) else None
    if isinstance(statements, dict):
        return [statements]
    return [s for s in statements or [] if isinstance(s, dict)]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _condition_keys(condition: Any) -> set[str]:
    return {str(key).lower() for test in (condition or {}).values() if isinstance(test, dict) for key in test}


def public_statements(document: Any, *, not_narrowing: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """Allow statements granting anyone (``*`` principal) without a condition to narrow them; condition
    keys in `not_narrowing` (lower case) do not count as narrowing."""
    found = []
    for st in policy_statements(document):
        condition = st.get("Condition")
        narrowed = bool(condition) and (not not_narrowing or not isinstance(condition, dict)
                                        or bool(_condition_keys(condition) - not_narrowing))
        if st.get("Effect") != "Allow" or narrowed:
            continue
        principal = st.get("Principal")
        if principal == "*" or (isinstance(principal, dict) and any(
                "*" in _as_list(v) for v in principal.values())):
            found.append(st)
    return found


def each_detail(inv: AwsInventory, listing: Listing, operation: str, key: str,
                params: Callable[[Item], dict[str, Any]],
                judge: Callable[[dict[str, Any]], Judgement]) -> Iterator[Verdict]:
    """`judge` over the `key` part of one follow-up call per item, its record added as evidence; an
    unanswered call or one without `key` is an ERROR for that item."""
    def with_detail(item: Item) -> Judgement:
        rec, why = answer(inv, item, listing.service, operation, **params(item))
        if why:
            return unknown(f"configuration unknown: {why}", rec)
        detail = (rec.response or {}).get(key)  # type: ignore[union-attr]
        if not isinstance(detail, dict):
            return unknown(f"{operation} returned no {key}", rec)
        state, reason, evidence = judge(detail)
        return state, reason, (rec, *evidence)

    yield from each(inv, listing, with_detail)


def when(value: Any) -> dt.datetime | None:
    """A timestamp as the collector stored it (ISO text), or None when absent or unreadable."""
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def days_between(start: Any, end: Any) -> int | None:
    """Whole days from `start` to `end` (negative when `end` comes first); None when either is unreadable."""
    first, last = when(start), when(end)
    return None if first is None or last is None else (last - first).days


def age_days(then: Any, rec: EvidenceRecord) -> int | None:
    """Days between `then` and the moment the record was collected: the scan's 'now', so a check stays a
    pure function of its evidence."""
    return days_between(then, rec.collected_at)
