"""Keep credentials out of the evidence: literal secret-looking env values and Secret data are replaced.

The same rule decides what the `kubernetes.workload.secret_env_literal` check fails on, so a value the
evidence hides is still reported, and the report never repeats the value itself.
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "<redacted by comply>"
SECRET_NAME = re.compile(
    r"(PASS(WORD|WD)?|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL|SIGNING_?KEY)",
    re.IGNORECASE)
CREDENTIAL_URL = re.compile(r"://[^/\s:@]+:[^/\s@]+@")
"""A URL with a password in it, e.g. postgresql://user:pw@host/db."""
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def secret_like(name: str, value: str) -> bool:
    """A literal env value that is (or carries) a credential."""
    if not value:
        return False
    return value == REDACTED or bool(SECRET_NAME.search(name)) or bool(CREDENTIAL_URL.search(value))


def redact(obj: Any) -> Any:
    """A copy of a Kubernetes object with credentials removed; other fields unchanged."""
    if isinstance(obj, list):
        return [redact(item) for item in obj]
    if not isinstance(obj, dict):
        return obj
    out: dict[str, Any] = {}
    for key, value in obj.items():
        if key == "env" and isinstance(value, list):
            out[key] = [_redact_env(entry) for entry in value]
        elif key in ("data", "stringData") and obj.get("kind") == "Secret" and isinstance(value, dict):
            out[key] = dict.fromkeys(value, REDACTED)
        elif key == "annotations" and isinstance(value, dict) and LAST_APPLIED in value:
            out[key] = {**value, LAST_APPLIED: REDACTED}
        else:
            out[key] = redact(value)
    return out


def _redact_env(entry: Any) -> Any:
    if isinstance(entry, dict) and isinstance(entry.get("value"), str) and secret_like(
            str(entry.get("name", "")), entry["value"]):
        return {**entry, "value": REDACTED}
    return redact(entry)
