"""Strict request bodies: a JSON object with exactly the expected fields of the expected types."""

from __future__ import annotations

import re
from typing import Any

from flask import Request

from wallet.cards import has_card_number
from wallet.problems import ApiError

_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,39}")
_SMALL_INT = re.compile(r"[0-9]{1,6}")  # ASCII only: str.isdigit() is true of "²" and "٣" too
CARD_SECRETS = frozenset({"cvv", "cvc", "cvv2", "cvc2", "cid", "security_code", "pin", "track", "track2"})


def invalid(detail: str, **extensions: Any) -> ApiError:
    return ApiError(422, "Validation failed", detail, **extensions)


def json_body(
    request: Request, fields: dict[str, type | tuple[type, ...]], optional: frozenset[str] = frozenset()
) -> dict[str, Any]:
    if not request.is_json:
        raise ApiError(415, "Unsupported media type", "send the body as application/json")
    try:
        data = request.get_json(silent=True)
    except RecursionError:  # nesting deep enough to exhaust the parser's stack: not a body we take
        raise ApiError(400, "Malformed request", "the body is nested too deeply") from None
    if data is None:
        raise ApiError(400, "Malformed request", "the body is not valid JSON")
    if not isinstance(data, dict):
        raise invalid("the body must be a JSON object")
    secrets = sorted(CARD_SECRETS & {k.lower() for k in data})
    if secrets:
        raise invalid("card security codes are never accepted or stored", fields=secrets)
    unknown = sorted(set(data) - set(fields))
    if unknown:
        # Field names are echoed back only when they are plain names: a key may hold anything.
        named = [k for k in unknown if _FIELD_NAME.fullmatch(k) and not has_card_number(k)]
        more = len(unknown) - len(named)
        listed = ", ".join([*named, *([f"{more} more"] if more else [])])
        raise invalid(f"unknown field(s): {listed}", fields=named)
    missing = sorted(set(fields) - set(data) - optional)
    if missing:
        raise invalid(f"missing field(s): {', '.join(missing)}", fields=missing)
    for name, kind in fields.items():
        if name in data and (not isinstance(data[name], kind) or isinstance(data[name], bool)):
            raise invalid(f"field {name} has the wrong type", fields=[name])
        if isinstance(data.get(name), str) and not storable(data[name]):
            raise invalid(f"field {name} holds a NUL or an unpaired surrogate character", fields=[name])
    return data


def storable(value: str) -> bool:
    """Text every database takes: PostgreSQL refuses NUL in text, and no driver encodes a lone
    surrogate (which JSON's \\ud800 escapes can produce)."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def text(value: str, name: str, max_len: int = 100) -> str:
    """A free-text field: printable, bounded, and never a place to park a card number."""
    if not value.strip() or len(value) > max_len or not value.isprintable():
        raise invalid(f"{name} must be 1 to {max_len} printable characters", fields=[name])
    if has_card_number(value):
        raise invalid(f"{name} must not contain a card number", fields=[name])
    return value


def limit_arg(raw: str | None, default: int = 50, maximum: int = 100) -> int:
    if raw is None:
        return default
    if not _SMALL_INT.fullmatch(raw) or not 1 <= int(raw) <= maximum:
        raise invalid(f"limit must be an integer from 1 to {maximum}", fields=["limit"])
    return int(raw)
