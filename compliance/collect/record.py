"""Evidence records: one per API call, kept with the scan as the raw proof behind every finding."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    OK = "ok"
    ABSENT = "absent"
    """The service answered that nothing is configured (e.g. no bucket policy): a definite answer."""
    ERROR = "error"
    """The data could not be read: access denied, throttled, not implemented, unreachable."""


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_json_default, ensure_ascii=False)


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return value.hex()
    if isinstance(value, set | frozenset):
        return sorted(value)
    return str(value)


def jsonable(value: Any) -> Any:
    """The response as plain JSON types, exactly as it will be hashed and stored."""
    return json.loads(canonical_json(value))


def items_at(response: dict[str, Any] | None, key: str) -> list[dict[str, Any]]:
    """The items under `key`, a dotted path such as ``DistributionList.Items``. A name or URL in a list
    of strings becomes ``{"item": value}``: the collector fills ``{item}`` templates from it and checks
    read it back the same way."""
    value: Any = response or {}
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return [v if isinstance(v, dict) else {"item": v} for v in value or []]


def utcnow() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def record_id(source: str, service: str, operation: str, scope: str | None, params: dict,
              account: str | None = None) -> str:
    digest = hashlib.sha256(canonical_json(params).encode()).hexdigest()[:10]
    where = f"{account}:" if account else ""
    return f"{source}:{where}{service}.{operation}@{scope or 'global'}#{digest}"


@dataclass(frozen=True)
class EvidenceRecord:
    source: str
    service: str
    operation: str
    scope: str | None
    params: dict
    collected_at: str
    outcome: Outcome
    response: Any = None
    request_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    id: str = field(default="")
    sha256: str = field(default="")
    account: str | None = None
    """The cloud account answered for, when a scan covers several (an organisation); part of the id."""

    def __post_init__(self) -> None:
        if not self.id:
            object.__setattr__(self, "id", record_id(self.source, self.service, self.operation,
                                                     self.scope, self.params, self.account))
        if not self.sha256:
            body = self.response if self.outcome is not Outcome.ERROR else {
                "error_code": self.error_code, "error_message": self.error_message}
            object.__setattr__(self, "sha256", hashlib.sha256(canonical_json(body).encode()).hexdigest())

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK

    @property
    def error(self) -> str:
        """A one-line description of why the data is missing, for an ERROR finding's reason."""
        return f"{self.service}:{self.operation} failed: {self.error_code}: {self.error_message}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "source": self.source, "service": self.service, "operation": self.operation,
            "scope": self.scope, "params": self.params, "collected_at": self.collected_at,
            "outcome": str(self.outcome), "request_id": self.request_id, "error_code": self.error_code,
            "error_message": self.error_message, "sha256": self.sha256, "response": self.response,
            **({"account": self.account} if self.account else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvidenceRecord:
        return cls(
            source=data["source"], service=data["service"], operation=data["operation"],
            scope=data.get("scope"), params=data.get("params") or {}, collected_at=data["collected_at"],
            outcome=Outcome(data["outcome"]), response=data.get("response"),
            request_id=data.get("request_id"), error_code=data.get("error_code"),
            error_message=data.get("error_message"), id=data.get("id", ""), sha256=data.get("sha256", ""),
            account=data.get("account"),
        )
