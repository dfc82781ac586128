"""The web evidence indexed for checks: the API's operations and every probe sent to each. Pure."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from compliance.collect.record import EvidenceRecord
from compliance.collect.web.openapi import InvalidDocument, Operation, parse

MALFORMED = ("malformed-path", "malformed-query", "malformed-body")
NOT_OPERATION_PROBES = ("token", "rate-limit", "discovery", "reachability", "plain-http")
"""Requests that name an operation without probing it: a client's token, the rate-limit burst."""


@dataclass
class WebInventory:
    url: str
    records: list[EvidenceRecord] = field(default_factory=list)
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.https = parts.scheme == "https"
        self.document: EvidenceRecord | None = None
        self._by_op: dict[str, list[EvidenceRecord]] = {}
        self.tls: EvidenceRecord | None = None
        for rec in self.records:
            if rec.source != "web":
                continue
            if rec.service == "openapi":
                self.document = rec
            elif rec.service == "tls":
                self.tls = rec
            elif rec.service == "http":
                self._by_op.setdefault(rec.operation, []).append(rec)
        try:
            self.operations: list[Operation] = parse(self.document.response) if self.document else []
        except InvalidDocument:
            self.operations = []

    def resource(self, op: Operation | str) -> str:
        """An operation as a finding names it: `GET https://host/v1/wallets/{wallet_id}`."""
        method, _, path = (op.key if isinstance(op, Operation) else op).partition(" ")
        return f"{method} {self.url}{path}"

    def probes(self, operation: str, *kinds: str) -> list[EvidenceRecord]:
        return [r for r in self._by_op.get(operation, []) if not kinds or r.params.get("probe") in kinds]

    def of_kind(self, *kinds: str) -> list[EvidenceRecord]:
        return [r for recs in self._by_op.values() for r in recs if r.params.get("probe") in kinds]

    def probed(self) -> Iterator[Operation]:
        """Operations the scan sent at least one request for (writes only with --allow-write)."""
        for op in self.operations:
            if any(r.params.get("probe") not in NOT_OPERATION_PROBES for r in self._by_op.get(op.key, ())):
                yield op

    def responses(self, operation: str | None = None) -> list[EvidenceRecord]:
        """Answered exchanges with the origin (plain-HTTP probes excluded), for one operation or all."""
        pool = self._by_op.get(operation, []) if operation else [r for rs in self._by_op.values() for r in rs]
        return [r for r in pool if r.ok and r.scope == self.origin and r.params.get("probe") != "plain-http"]


def status(rec: EvidenceRecord) -> int:
    return int(rec.response["status"])


def header(rec: EvidenceRecord, name: str) -> str | None:
    value = (rec.response or {}).get("headers", {}).get(name.lower())
    return None if value is None else str(value)


def described(rec: EvidenceRecord) -> str:
    """A probe in a few words: `malformed-path (wallet_id = quote)`."""
    note = rec.params.get("note")
    who = rec.params.get("client")
    extra = ", ".join(x for x in (note, f"as {who}" if who else None) if x)
    return f"{rec.params.get('probe')}" + (f" ({extra})" if extra else "")
