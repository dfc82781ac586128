"""Waivers: approved, time-limited exceptions that cover failing findings.

A waivers file is YAML, either a list of entries or a mapping with a `waivers:` list::

    waivers:
      - check_id: aws.ec2.sg_admin_ports_open     # exact id or a glob such as aws.ec2.*
        resource: "arn:aws:ec2:*:*:security-group/sg-0bastion*"
        justification: bastion reachable from the office range only
        approver: Jane Roe (CISO)
        approved: 2026-01-15                       # when the approver signed it off
        expires: 2026-06-30                        # the last day the waiver counts
        compensating_control: session recording on the bastion   # required on High/Critical checks

Malformed YAML, an unknown key or a missing required field is bad input (UsageError, exit 2). An
entry without `expires` is loaded with `expires=None` and never applied: the scan reports it as a
warning, because an exception nobody has to revisit is not an exception.

Rules an assessor holds a waiver to (`validate_waivers`, applied to every waivers file comply loads,
before any collection): the check id (or glob) must name at least one known check, since a typo would
silently waive nothing; a waiver on a High or Critical check needs a compensating control and must
name its resource exactly (no wildcard); the approval date may not be in the future or after expiry.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError, field_validator

from compliance.errors import UsageError
from compliance.findings import Finding, Severity
from compliance.yamlfile import line_of
from compliance.yamlfile import load as load_yaml

DEFAULT_FILE = "waivers.yaml"
REQUIRED = ("check_id", "resource", "justification", "approver", "approved")
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
    approved: dt.date | None = None
    """The day the approver signed the exception off."""

    def expired(self, today: dt.date) -> bool:
        return self.expires is not None and self.expires < today

    def applies(self, today: dt.date) -> bool:
        return self.expires is not None and not self.expired(today)

    def matches(self, finding: Finding) -> bool:
        return (fnmatchcase(finding.check_id, self.check_id)
                and fnmatchcase(finding.resource_id, self.resource))

    def describe(self) -> str:
        """The text a suppressed finding carries, so a reader sees who accepted the risk and until when."""
        on = f" on {self.approved}" if self.approved else ""
        return f"waiver: {self.justification} (approved by {self.approver}{on}, expires {self.expires})"

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
    approved: dt.date
    expires: dt.date | None = None
    compensating_control: str | None = None

    @field_validator("expires", "approved", mode="before")
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


def load_waivers(path: Path, today: dt.date | None = None) -> list[Waiver]:
    """Read and check a waivers file: duplicate keys, binary or non-UTF-8 content are refused too, and
    every entry is held to the rules in `validate_waivers`."""
    waivers = parse_waivers(load_yaml(path, "waivers file"), str(path))
    validate_waivers(waivers, today or dt.date.today())
    return waivers


_GLOB = ("*", "?", "[")


def validate_waivers(waivers: list[Waiver], today: dt.date, known: dict[str, Severity] | None = None) -> None:
    """Refuse (UsageError, exit 2) a waiver an assessor would reject; `known` maps check ids to severity
    (default: every registered check)."""
    if known is None:
        from controls.registry import all_checks

        known = {c.id: c.severity for c in all_checks()}
    for w in waivers:
        where = w.source or f"waiver {w.check_id} on {w.resource}"
        matched = [cid for cid in known if fnmatchcase(cid, w.check_id)]
        if not matched:
            raise UsageError(f"{where}: unknown check id {w.check_id!r}: no check has that id, so the waiver "
                             "would cover nothing (see `comply frameworks show` for the checks)")
        if w.approved is not None and w.approved > today:
            raise UsageError(f"{where}: 'approved' {w.approved} is in the future")
        if w.approved is not None and w.expires is not None and w.approved > w.expires:
            raise UsageError(f"{where}: 'approved' {w.approved} is after 'expires' {w.expires}")
        worst = max(known[c] for c in matched)
        if worst < Severity.HIGH:
            continue
        if not (w.compensating_control or "").strip():
            raise UsageError(f"{where}: {w.check_id} is {worst.label}: a waiver on a High or Critical check "
                             "needs a compensating_control")
        if any(ch in w.resource for ch in _GLOB):
            raise UsageError(f"{where}: {w.check_id} is {worst.label}: name the resource exactly; a wildcard "
                             f"resource ({w.resource!r}) is refused on High or Critical checks")


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
                  compensating_control=entry.compensating_control, source=where, approved=entry.approved)


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
    if key in ("expires", "approved"):
        message = str(error.get("msg", "")).removeprefix("Value error, ")
        return f"'{key}' {message}{at}" if "a date like" in message else \
            f"'{key}' must be a date like 2026-06-30, got {item.get(key)!r}{at}"
    if empty:
        return f"{key!r} must be a string{at}"
    return f"{key!r}: {error.get('msg')}{at}"
