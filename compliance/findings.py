"""The finding: the one record every check yields and every report reads."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum


class Status(StrEnum):
    PASS = "PASS"  # noqa: S105 - a status, not a password # nosec B105
    FAIL = "FAIL"
    ERROR = "ERROR"
    MANUAL = "MANUAL"


class Severity(IntEnum):
    """OCSF severity_id values, so a severity converts to the findings file unchanged."""

    INFORMATIONAL = 1
    LOW = 2
    MEDIUM = 3
    HIGH = 4
    CRITICAL = 5

    @property
    def label(self) -> str:
        return self.name.capitalize()

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = ", ".join(s.name.lower() for s in cls)
            raise ValueError(f"unknown severity {text!r}: expected one of {names}") from None


def finding_uid(check_id: str, resource_id: str) -> str:
    """Stable across scans for the same check and resource, so diffs and waivers can key on it."""
    return hashlib.sha256(f"{check_id}\x00{resource_id}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Finding:
    check_id: str
    resource_id: str
    status: Status
    reason: str
    severity: Severity
    resource_type: str = ""
    region: str | None = None
    evidence_ids: tuple[str, ...] = ()
    suppressed_by: str | None = None
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def uid(self) -> str:
        return finding_uid(self.check_id, self.resource_id)

    @property
    def failed(self) -> bool:
        return self.status is Status.FAIL

    def as_dict(self) -> dict:
        return {"check_id": self.check_id, "resource_id": self.resource_id, "status": self.status.value,
                "reason": self.reason, "severity": int(self.severity), "resource_type": self.resource_type,
                "region": self.region, "evidence_ids": list(self.evidence_ids),
                "suppressed_by": self.suppressed_by}

    @classmethod
    def from_dict(cls, data: dict) -> Finding:
        return cls(check_id=data["check_id"], resource_id=data["resource_id"], status=Status(data["status"]),
                   reason=data["reason"], severity=Severity(data["severity"]),
                   resource_type=data.get("resource_type", ""), region=data.get("region"),
                   evidence_ids=tuple(data.get("evidence_ids", ())), suppressed_by=data.get("suppressed_by"))
