"""Card numbers in HTTP traffic: found, classified and masked before anything is stored.

Pure functions. The collector runs them over every response it receives, stores only the masked
text, and records what it found, so a card-data check can judge a response whose evidence never
holds the number itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A run of 13-19 digits, optionally grouped by single spaces or dashes, not touching other digits or
# letters: digits inside a hex token (a random id such as wal_9f4319...) are part of that token.
_CANDIDATE = re.compile(r"(?<![0-9A-Za-z])[0-9](?:[ -]?[0-9]){12,18}(?![0-9A-Za-z])")
# A number shown with some digits masked: digits and mask characters, 13-19 positions in all.
_MASKED = re.compile(r"(?<![0-9A-Za-z*])[0-9*xX#\u2022](?:[ -]?[0-9*xX#\u2022]){12,18}(?![0-9A-Za-z*])")
_SHAPE = re.compile("([0-9]*)([*xX#\u2022]{2,})([0-9]*)")
# First digits of the card brands PCI DSS covers (Visa, Mastercard, Amex, Discover, Diners, JCB,
# UnionPay, Maestro, Mir): a Luhn-valid run that starts elsewhere is far more likely an id or a clock.
_ISSUER_FIRST_DIGITS = frozenset("23456")


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def is_pan(digits: str) -> bool:
    """A Luhn-valid 13-19 digit number whose first digit is one a card issuer uses."""
    return 13 <= len(digits) <= 19 and digits[0] in _ISSUER_FIRST_DIGITS and luhn_ok(digits)


def mask(digits: str) -> str:
    """The number as PCI DSS allows it to be shown: the first six and the last four digits at most."""
    return digits[:6] + "*" * (len(digits) - 10) + digits[-4:]


@dataclass(frozen=True)
class CardNumbers:
    """What one text held: full card numbers (stored masked) and over-revealing masked numbers."""

    full: tuple[str, ...] = ()
    overexposed: tuple[str, ...] = ()
    """Masked numbers showing more than the BIN (up to eight digits) and the last four."""


def find_card_numbers(text: str) -> CardNumbers:
    full: list[str] = []
    for match in _CANDIDATE.finditer(text):
        digits = re.sub(r"[ -]", "", match.group())
        if is_pan(digits):
            full.append(mask(digits))
    over: list[str] = []
    for match in _MASKED.finditer(text):
        chars = re.sub(r"[ -]", "", match.group())
        shape = _SHAPE.fullmatch(chars)
        if shape and (len(shape.group(1)) > 8 or len(shape.group(3)) > 4):
            over.append(chars)
    return CardNumbers(tuple(dict.fromkeys(full)), tuple(dict.fromkeys(over)))


def mask_text(text: str) -> str:
    """`text` with every full card number replaced by its masked form."""

    def replace(match: re.Match[str]) -> str:
        digits = re.sub(r"[ -]", "", match.group())
        return mask(digits) if is_pan(digits) else match.group()

    return _CANDIDATE.sub(replace, text)
