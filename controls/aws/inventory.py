"""The collected AWS evidence, indexed for checks. Pure data: no boto3, no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from compliance.collect.record import EvidenceRecord, Outcome, canonical_json, items_at

GLOBAL = "global"


@dataclass(frozen=True)
class Item:
    """One resource from a listing call, with the record it came from."""

    data: dict[str, Any]
    region: str
    record: EvidenceRecord

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)


@dataclass
class AwsInventory:
    account_id: str
    regions: list[str]
    records: list[EvidenceRecord] = field(default_factory=list)
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._by_call: dict[tuple[str, str, str, str], EvidenceRecord] = {}
        self._by_op: dict[tuple[str, str], list[EvidenceRecord]] = {}
        for rec in self.records:
            self._index(rec)

    def _index(self, rec: EvidenceRecord) -> None:
        scope = rec.scope or GLOBAL
        self._by_call[(rec.service, rec.operation, scope, canonical_json(rec.params))] = rec
        self._by_op.setdefault((rec.service, rec.operation), []).append(rec)

    def call(self, service: str, operation: str, region: str | None = None,
             **params: Any) -> EvidenceRecord | None:
        """The record of one call, or None when it was never made (the check must then say ERROR)."""
        return self._by_call.get((service, operation, region or GLOBAL, canonical_json(params)))

    def calls(self, service: str, operation: str) -> list[EvidenceRecord]:
        return list(self._by_op.get((service, operation), ()))

    def listing(self, service: str, operation: str, key: str, regions: Iterable[str] | None = None,
                **params: Any) -> tuple[list[Item], list[EvidenceRecord]]:
        """Items of a list call across regions, and the records of regions whose listing failed.

        A region whose listing was never recorded is reported as failed too: missing data never
        reads as 'no resources'.
        """
        items: list[Item] = []
        failures: list[EvidenceRecord] = []
        wanted = list(regions) if regions is not None else self.regions
        found = {rec.scope or GLOBAL: rec for rec in self.calls(service, operation) if rec.params == params}
        for region in wanted:
            rec = found.get(region)
            if rec is None:
                rec = EvidenceRecord("aws", service, operation, region, params, "", Outcome.ERROR,
                                     error_code="NotCollected", error_message="no record of this call")
                failures.append(rec)
            elif rec.outcome is Outcome.ERROR:
                failures.append(rec)
            else:
                items.extend(Item(entry, region, rec) for entry in items_at(rec.response, key))
        return items, failures

    def global_listing(self, service: str, operation: str, key: str,
                       **params: Any) -> tuple[list[Item], list[EvidenceRecord]]:
        return self.listing(service, operation, key, regions=[GLOBAL], **params)

    def arn(self, service: str, region: str, resource: str) -> str:
        return f"arn:aws:{service}:{'' if region == GLOBAL else region}:{self.account_id}:{resource}"

