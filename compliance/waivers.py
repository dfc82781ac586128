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
from typing import Any

import yaml

from compliance.errors import UsageError
from compliance.findings import Finding

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


def load_waivers(path: Path) -> list[Waiver]:
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read waivers file {path}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise UsageError(f"waivers file {path} is not valid YAML{where}") from None
    return parse_waivers(data, str(path))


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
    unknown = sorted(set(item) - set(REQUIRED) - set(OPTIONAL), key=str)
    if unknown:
        raise UsageError(f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(REQUIRED + OPTIONAL)})")
    for key in REQUIRED:
        if not isinstance(item.get(key), str) or not item[key].strip():
            raise UsageError(f"{where}: {key!r} is required and must be a non-empty string")
    compensating = item.get("compensating_control")
    if compensating is not None and not isinstance(compensating, str):
        raise UsageError(f"{where}: 'compensating_control' must be a string")
    return Waiver(check_id=item["check_id"].strip(), resource=item["resource"].strip(),
                  justification=item["justification"].strip(), approver=item["approver"].strip(),
                  expires=_expiry(item.get("expires"), where), compensating_control=compensating,
                  source=where)


def _expiry(value: Any, where: str) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise UsageError(f"{where}: 'expires' must be a date like 2026-06-30, got {value!r}") from None
