"""Waivers: approved, time-limited exceptions that cover failing findings.

A waivers file is YAML, either a list of entries or a mapping with a `waivers:` list::

    waivers:
      - check_id: aws.ec2.sg_admin_ports_open     # exact id or a glob such as aws.ec2.*
        resource: "arn:aws:ec2:*:*:security-group/sg-0bastion*"
        justification: bastion reachable from the office range only
        approver: Jane Roe (CISO)
        expires: 2026-06-30                        # the last day the waiver counts
        compensating_control: session recording on the bastion   # optional

Malformed YAML, an unknown key or a missing required field is bad input (UsageError, exit 2). An
entry without `expires` is loaded with `expires=None` and never applied: the scan reports it as a
warning, because an exception nobody has to revisit is not an exception.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError, field_validator

from compliance.errors import UsageError
from compliance.findings import Finding
from compliance.yamlfile import line_of
from compliance.yamlfile import load as load_yaml

DEFAULT_FILE = "waivers.yaml"
REQUIRED = ("check_id", "resource", "justification", "approver")
OPTIONAL = ("expires", "compensating_control")


@dataclass(frozen=True)
class Waiver:
    check_id: str
    resource: str
    justification: str
    approver: str
    expires: dt.date | None
    compensating_control: str | None = None
    source: str = ""
    """Where the entry came from, e.g. 'waivers.yaml entry 2', for messages."""

    def expired(self, today: dt.date) -> bool:
        return self.expires is not None and self.expires < today

    def applies(self, today: dt.date) -> bool:
        return self.expires is not None and not self.expired(today)

    def matches(self, finding: Finding) -> bool:
        return (fnmatchcase(finding.check_id, self.check_id)
                and fnmatchcase(finding.resource_id, self.resource))

    def describe(self) -> str:
        """The text a suppressed finding carries, so a reader sees who accepted the risk and until when."""
        return f"waiver: {self.justification} (approved by {self.approver}, expires {self.expires})"

    @property
    def compensation(self) -> str:
        return self.compensating_control or f"waived: {self.justification}"


def default_waivers_path(directory: Path | None = None) -> Path | None:
    """`waivers.yaml` in the config directory (the current one unless given), if it exists."""
    path = (directory or Path.cwd()) / DEFAULT_FILE
    return path if path.is_file() else None


class WaiverEntry(BaseModel):
    """One entry of a waivers file as written: unknown keys, empty values and impossible dates refused."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    check_id: Annotated[str, StringConstraints(min_length=1)]
    resource: Annotated[str, StringConstraints(min_length=1)]
    justification: Annotated[str, StringConstraints(min_length=1)]
    approver: Annotated[str, StringConstraints(min_length=1)]
    expires: dt.date | None = None
    compensating_control: str | None = None

    @field_validator("expires", mode="before")
    @classmethod
    def _date_only(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value.strip())
            except ValueError:
                pass
            try:
                return dt.datetime.fromisoformat(value.strip()).date()
            except ValueError:
                raise ValueError(f"must be a date like 2026-06-30, got {value!r}") from None
        if isinstance(value, dt.datetime):
            return value.date()
        return value


def load_waivers(path: Path) -> list[Waiver]:
    """Read and check a waivers file: duplicate keys, binary or non-UTF-8 content are refused too."""
    return parse_waivers(load_yaml(path, "waivers file"), str(path))


def parse_waivers(data: Any, source: str) -> list[Waiver]:
    if data is None:
        return []
    if isinstance(data, dict):
        if set(data) != {"waivers"}:
            extra = sorted(set(data) - {"waivers"}) or ["waivers (missing)"]
            raise UsageError(f"{source}: unexpected top-level key {extra[0]!r}: expected only 'waivers'")
        data = data["waivers"] or []
    if not isinstance(data, list):
        raise UsageError(f"{source}: expected a list of waivers")
    return [_entry(item, f"{source} entry {n}") for n, item in enumerate(data, 1)]


def _entry(item: Any, where: str) -> Waiver:
    if not isinstance(item, dict):
        raise UsageError(f"{where}: expected a mapping of {', '.join(REQUIRED + OPTIONAL)}")
    try:
        entry = WaiverEntry.model_validate(item)
    except ValidationError as exc:
        raise UsageError(f"{where}: {_first_problem(exc, item)}") from None
    return Waiver(check_id=entry.check_id, resource=entry.resource, justification=entry.justification,
                  approver=entry.approver, expires=entry.expires,
                  compensating_control=entry.compensating_control, source=where)


def _first_problem(exc: ValidationError, item: dict[Any, Any]) -> str:
    """pydantic's first complaint in the words of this file's format, with the key's line if known."""
    error = exc.errors()[0]
    key = str(error["loc"][0]) if error["loc"] else ""
    line = line_of(item, key)
    at = f" (line {line})" if line else ""
    if error["type"] == "extra_forbidden":
        return f"unknown key {key!r}{at} (allowed: {', '.join(REQUIRED + OPTIONAL)})"
    empty = error["type"] in ("string_too_short", "string_type")
    if error["type"] == "missing" or (key in REQUIRED and empty):
        return f"{key!r} is required and must be a non-empty string{at}"
    if key == "expires":
        message = str(error.get("msg", "")).removeprefix("Value error, ")
        return f"'expires' {message}{at}" if "a date like" in message else \
            f"'expires' must be a date like 2026-06-30, got {item.get(key)!r}{at}"
    if empty:
        return f"{key!r} must be a string{at}"
    return f"{key!r}: {error.get('msg')}{at}"
