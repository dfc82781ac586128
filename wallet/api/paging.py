"""Opaque cursors for keyset pagination."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from flask import request

from wallet.validation import invalid, limit_arg

_KEY = re.compile(r"[A-Za-z0-9_]{1,64}", re.ASCII)


def encode(key: str | int) -> str:
    return base64.urlsafe_b64encode(str(key).encode()).decode().rstrip("=")


def decode(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        key = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True).decode()
    except (ValueError, binascii.Error):
        key = ""
    if not _KEY.fullmatch(key):  # every cursor this API hands out holds an id such as wal_… or pst_…
        raise invalid("cursor is not one this API returned", fields=["cursor"])
    return key


def args() -> tuple[int, str | None]:
    return limit_arg(request.args.get("limit")), decode(request.args.get("cursor"))


def page(items: list[Any], limit: int, key: Any) -> dict[str, Any]:
    """`items` holds up to limit + 1 rows; the extra one only says that another page exists."""
    more = len(items) > limit
    items = items[:limit]
    return {"data": items, "next_cursor": encode(key(items[-1])) if more else None}
