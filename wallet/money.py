"""Amounts as integers of minor units; decimal strings at the edges. No floats."""

from __future__ import annotations

import re
from decimal import Decimal

# ISO 4217 minor units for the currencies the wallet holds.
MINOR_UNITS: dict[str, int] = {
    "AUD": 2,
    "BHD": 3,
    "BRL": 2,
    "CAD": 2,
    "CHF": 2,
    "CNY": 2,
    "CZK": 2,
    "DKK": 2,
    "EUR": 2,
    "GBP": 2,
    "HKD": 2,
    "HUF": 2,
    "INR": 2,
    "ISK": 0,
    "JOD": 3,
    "JPY": 0,
    "KRW": 0,
    "KWD": 3,
    "MXN": 2,
    "NOK": 2,
    "NZD": 2,
    "OMR": 3,
    "PLN": 2,
    "SEK": 2,
    "SGD": 2,
    "TND": 3,
    "USD": 2,
    "ZAR": 2,
}
MAX_MINOR = 10**15
# ASCII digits only: "\\d" would let fullwidth and other scripts' digits through to int().
_AMOUNT = re.compile(r"(0|[1-9][0-9]{0,17})(?:\.([0-9]{1,3}))?")


class AmountError(ValueError):
    """An amount or currency the wallet does not accept."""


def check_currency(code: object) -> str:
    if not isinstance(code, str) or code not in MINOR_UNITS:
        raise AmountError("currency must be a supported ISO 4217 code, e.g. USD")
    return code


def parse_amount(text: object, currency: str) -> int:
    """Parse a positive decimal string into minor units, refusing more decimals than the currency has."""
    if not isinstance(text, str):
        raise AmountError('amount must be a decimal string such as "12.50"')
    match = _AMOUNT.fullmatch(text)
    if match is None:
        raise AmountError('amount must be a decimal string such as "12.50"')
    digits = MINOR_UNITS[currency]
    whole, fraction = match.group(1), match.group(2) or ""
    if len(fraction) > digits:
        raise AmountError(f"{currency} amounts have at most {digits} decimal places")
    minor = int(whole) * 10**digits + int(fraction.ljust(digits, "0") or "0")
    if not 0 < minor < MAX_MINOR:
        raise AmountError("amount must be greater than zero and below the transaction limit")
    return minor


def format_amount(minor: int, currency: str) -> str:
    digits = MINOR_UNITS[currency]
    return str(Decimal(minor).scaleb(-digits).quantize(Decimal(1).scaleb(-digits)))
