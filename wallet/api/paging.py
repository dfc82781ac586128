"""Opaque cursors for keyset pagination."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from flask import request

from wallet.validation import invalid, limit_arg


def encode(key: str | int) -> str:
    return base64.urlsafe_b64encode(str(key).encode()).decode().rstrip("=")


def decode(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        return base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True).decode()
    except (ValueError, binascii.Error):
        raise invalid("cursor is not one this API returned", fields=["cursor"]) from None


def args() -> tuple[int, str | None]:
    return limit_arg(request.args.get("limit")), decode(request.args.get("cursor"))


def page(items: list[Any], limit: int, key: Any) -> dict[str, Any]:
    """`items` holds up to limit + 1 rows; the extra one only says that another page exists."""
    more = len(items) > limit
    items = items[:limit]
    return {"data": items, "next_cursor": encode(key(items[-1])) if more else None}
