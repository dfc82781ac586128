"""Card numbers: validation, brand, and storage as envelope-encrypted ciphertext with a keyed fingerprint."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from wallet.keys import KeyEncryptionKey, Sealed, keyed_hash, named_secret, seal, unseal
from wallet.models import Card

FINGERPRINT_KEY = "pan-fingerprint"
# Card numbers are accepted in ASCII digits only ("[0-9]", never "\\d", which matches every script's
# digits): a fullwidth or Arabic-Indic number is refused, not silently normalised. Log masking and the
# free-text check, on the other hand, look for digits of every script, since int() reads them all.
_DIGITS = re.compile(r"[0-9]{12,19}")
_PAN_LIKE = re.compile(r"(?<!\d)(?:\d[ -]?){11,18}\d(?!\d)")
_LONG_RUN = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")

# (brand, prefix ranges, allowed lengths)
_BRANDS: tuple[tuple[str, tuple[tuple[int, int], ...], tuple[int, ...]], ...] = (
    ("amex", ((34, 34), (37, 37)), (15,)),
    ("diners", ((300, 305), (36, 36), (38, 39)), (14, 16, 17, 18, 19)),
    ("jcb", ((3528, 3589),), (16, 17, 18, 19)),
    ("visa", ((4, 4),), (13, 16, 19)),
    ("mastercard", ((51, 55), (2221, 2720)), (16,)),
    ("discover", ((6011, 6011), (644, 649), (65, 65)), (16, 17, 18, 19)),
    ("unionpay", ((62, 62),), (16, 17, 18, 19)),
)


class CardError(ValueError):
    """A card the wallet refuses, with a reason that never repeats the number."""


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def brand_of(pan: str) -> str | None:
    for brand, ranges, lengths in _BRANDS:
        if len(pan) not in lengths:
            continue
        for low, high in ranges:
            width = len(str(low))
            if low <= int(pan[:width]) <= high:
                return brand
    return None


def validate_pan(pan: object) -> str:
    """Return the brand of a valid PAN or raise CardError."""
    if not isinstance(pan, str) or not _DIGITS.fullmatch(pan):
        raise CardError("pan must be a string of 12 to 19 digits")
    if not luhn_ok(pan):
        raise CardError("pan fails the Luhn check")
    brand = brand_of(pan)
    if brand is None:
        raise CardError("pan is not a supported card brand or has the wrong length for its brand")
    return brand


def validate_expiry(month: object, year: object, today: datetime | None = None) -> tuple[int, int]:
    if not isinstance(month, int) or isinstance(month, bool) or not 1 <= month <= 12:
        raise CardError("expiry_month must be an integer from 1 to 12")
    if not isinstance(year, int) or isinstance(year, bool) or not 2000 <= year <= 2100:
        raise CardError("expiry_year must be a four-digit year")
    now = today or datetime.now(UTC)
    if (year, month) < (now.year, now.month):
        raise CardError("card has expired")
    return month, year


def contains_pan(text: str) -> bool:
    """True when `text` holds something that looks like a real card number (for log scanning)."""
    for match in _PAN_LIKE.finditer(text):
        digits = re.sub(r"[ -]", "", match.group())
        if luhn_ok(digits) and brand_of(digits):
            return True
    return False


def has_card_number(text: str) -> bool:
    """True when `text` holds a Luhn-valid run of 13 to 19 digits, also written with spaces or dashes
    between them: what free-text fields refuse, whether or not the number belongs to a known brand."""
    for match in _LONG_RUN.finditer(text):
        digits = re.sub(r"[ -]", "", match.group())
        if 13 <= len(digits) <= 19 and luhn_ok(digits):
            return True
    return False


def redact_pans(text: str) -> str:
    def mask(match: re.Match[str]) -> str:
        digits = re.sub(r"[ -]", "", match.group())
        return "[PAN]" if luhn_ok(digits) and brand_of(digits) else match.group()

    return _PAN_LIKE.sub(mask, text)


@dataclass(frozen=True)
class CardInput:
    pan: str
    brand: str
    expiry_month: int
    expiry_year: int
    holder: str


class DuplicateCard(Exception):
    def __init__(self, card_id: str) -> None:
        super().__init__("card already stored")
        self.card_id = card_id


def _context(tenant_id: str, fingerprint: str) -> bytes:
    return f"{tenant_id}:{fingerprint}".encode()


def store_card(session: Session, kek: KeyEncryptionKey, tenant_id: str, card: CardInput) -> Card:
    fingerprint = keyed_hash(named_secret(session, kek, FINGERPRINT_KEY), card.pan)
    existing = session.scalars(select(Card.id).where(Card.fingerprint == fingerprint)).first()
    if existing is not None:
        raise DuplicateCard(existing)
    sealed = seal(kek, card.pan.encode(), _context(tenant_id, fingerprint))
    row = Card(
        tenant_id=tenant_id,
        brand=card.brand,
        last4=card.pan[-4:],
        expiry_month=card.expiry_month,
        expiry_year=card.expiry_year,
        holder=card.holder,
        fingerprint=fingerprint,
        pan_ciphertext=sealed.ciphertext,
        wrapped_key=sealed.wrapped_key,
        key_source=sealed.key_source,
    )
    session.add(row)
    session.flush()
    return row


def reveal_pan(kek: KeyEncryptionKey, card: Card) -> str:
    """Decrypt the PAN for the acquirer only; the result must never be logged or returned."""
    sealed = Sealed(card.pan_ciphertext, card.wrapped_key, card.key_source)
    return unseal(kek, sealed, _context(card.tenant_id, card.fingerprint)).decode()
