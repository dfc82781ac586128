"""The card-charging interface, and a test acquirer that approves or declines by rule."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Charge:
    approved: bool
    reference: str
    reason: str = ""


class Acquirer(Protocol):
    def charge(
        self, pan: str, expiry_month: int, expiry_year: int, amount_minor: int, currency: str
    ) -> Charge: ...


class TestAcquirer:
    """Approves every charge except for the card numbers listed in `declined` or amounts above `limit`."""

    __test__ = False  # not a pytest class

    DECLINED_PANS = frozenset({"4000000000000002"})

    def __init__(self, limit_minor: int = 10_000_000) -> None:
        self.limit_minor = limit_minor

    def charge(
        self, pan: str, expiry_month: int, expiry_year: int, amount_minor: int, currency: str
    ) -> Charge:
        if pan in self.DECLINED_PANS:
            return Charge(False, "", "card declined by issuer")
        if amount_minor > self.limit_minor:
            return Charge(False, "", "amount exceeds the card's limit")
        return Charge(True, f"acq_{secrets.token_hex(8)}")


def make_acquirer(name: str) -> Acquirer:
    if name == "test":
        return TestAcquirer()
    raise ValueError(f"unknown acquirer {name!r}")
