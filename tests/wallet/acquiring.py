"""Helpers for tests against the test acquirer served over HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from wallet.acquirer_server import AcquirerServer


def admin(server: AcquirerServer | str, path: str, body: Any = None) -> Any:
    base = server if isinstance(server, str) else server.url
    request = urllib.request.Request(
        f"{base}/_admin/{path}",
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"},
        method="POST" if body is not None else "GET",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def faults(server: AcquirerServer | str, **values: float) -> None:
    settings = {"fail_before": 0.0, "fail_after": 0.0, "slow": 0.0, **values}
    admin(server, "faults", settings)


def charges(server: AcquirerServer | str) -> list[dict[str, Any]]:
    return admin(server, "charges")["data"]  # type: ignore[no-any-return]


def charged_minor(server: AcquirerServer | str) -> int:
    """Money the acquirer took and kept: approved charges, not voided ones."""
    return sum(round(float(c["amount"]) * 100) for c in charges(server) if c["status"] == "approved")
