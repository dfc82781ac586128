"""Database tables. Every row of the API's data carries the tenant it belongs to."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


_DIGIT_RUN = re.compile(r"\d{13}")


def _random_hex(nbytes: int) -> str:
    """Random hex holding no run of 13 digits: an id must never read as a card number, or the filters
    that keep card data out of logs, audit entries and throttle keys would mask or refuse it (a client
    whose id held a Luhn-valid run could not obtain a token)."""
    while _DIGIT_RUN.search(value := secrets.token_hex(nbytes)):
        pass
    return value


def new_id(prefix: str) -> str:
    return f"{prefix}_{_random_hex(12)}"


def new_posting_id() -> str:
    return f"pst_{_random_hex(16)}"


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on every backend (SQLite hands back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


class Base(DeclarativeBase):
    pass


class TenantScoped:
    """Marks a table whose reads and writes `wallet.db` confines to the session's tenant."""

    tenant_id: Mapped[str] = mapped_column(String(40), ForeignKey("tenants.id"), index=True)


class Tenant(Base):
    __tablename__ = "tenants"
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("ten"))
    name: Mapped[str] = mapped_column(String(100), unique=True)
    domain: Mapped[str] = mapped_column(String(253), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Client(Base):
    """An OAuth2 client of one tenant. Looked up before authentication, so not tenant-scoped."""

    __tablename__ = "clients"
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("cli"))
    tenant_id: Mapped[str] = mapped_column(String(40), ForeignKey("tenants.id"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(200))
    scopes: Mapped[str] = mapped_column(String(500))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Wallet(TenantScoped, Base):
    __tablename__ = "wallets"
    __table_args__ = (
        CheckConstraint("balance_minor >= 0 OR kind = 'settlement'", name="ck_wallets_not_negative"),
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("wal"))
    owner_ref: Mapped[str] = mapped_column(String(100), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    kind: Mapped[str] = mapped_column(String(20), default="customer")
    balance_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Card(TenantScoped, Base):
    """A stored card: the PAN only as AES-GCM ciphertext under a wrapped per-record data key."""

    __tablename__ = "cards"
    __table_args__ = (UniqueConstraint("tenant_id", "fingerprint", name="uq_cards_fingerprint"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("card"))
    token: Mapped[str] = mapped_column(String(40), unique=True, default=lambda: new_id("tok"))
    brand: Mapped[str] = mapped_column(String(20))
    last4: Mapped[str] = mapped_column(String(4))
    expiry_month: Mapped[int] = mapped_column(Integer)
    expiry_year: Mapped[int] = mapped_column(Integer)
    holder: Mapped[str] = mapped_column(String(100))
    fingerprint: Mapped[str] = mapped_column(String(64))
    pan_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    key_source: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Movement(TenantScoped, Base):
    """One money movement (a transfer or a top-up); its postings balance to zero. A top-up is recorded
    `pending` before its card is charged, then ends `completed` (credited), `declined` or `failed`."""

    __tablename__ = "movements"
    __table_args__ = (
        UniqueConstraint("tenant_id", "idempotency_key", name="uq_movements_idempotency"),
        Index(
            "ix_movements_pending",
            "created_at",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    from_wallet: Mapped[str | None] = mapped_column(String(40))
    to_wallet: Mapped[str] = mapped_column(String(40))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    card_id: Mapped[str | None] = mapped_column(String(40))
    acquirer_ref: Mapped[str | None] = mapped_column(String(100))
    idempotency_key: Mapped[str | None] = mapped_column(String(100))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


@dataclass(frozen=True, slots=True)
class MovementRecord:
    """A movement row as a plain record, for the transfer path: building an ORM object (attribute
    instrumentation, events, identity state) costs more CPU than the statement that writes the row."""

    id: str
    tenant_id: str
    kind: str
    status: str
    from_wallet: str | None
    to_wallet: str
    amount_minor: int
    currency: str
    idempotency_key: str | None
    request_hash: str | None
    created_at: datetime
    card_id: str | None = None
    acquirer_ref: str | None = None


class ChargeRecord(TenantScoped, Base):
    """A charge the acquirer made for a top-up, as the wallet last saw it: `approved` (and then credited
    to exactly one top-up), `declined` or `voided`."""

    __tablename__ = "charges"
    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    topup_id: Mapped[str] = mapped_column(String(40), ForeignKey("movements.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    reason: Mapped[str] = mapped_column(String(200), default="")
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Posting(TenantScoped, Base):
    """`id` is the internal key and order; only `public_id` (random) leaves the database, so nothing
    public counts the postings of all tenants."""

    __tablename__ = "postings"
    __table_args__ = (Index("ix_postings_public_id", "public_id", unique=True),)
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    public_id: Mapped[str] = mapped_column(String(40), default=new_posting_id)
    movement_id: Mapped[str] = mapped_column(String(40), ForeignKey("movements.id"), index=True)
    wallet_id: Mapped[str] = mapped_column(String(40), ForeignKey("wallets.id"), index=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    balance_after: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class AuthThrottle(Base):
    """Failed client authentications for one key (`client:ID` or `addr:IP`) in the current window, and
    the end of its lockout. In the database so that every server process sees the same counts."""

    __tablename__ = "auth_throttle"
    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    window_start: Mapped[datetime] = mapped_column(UtcDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)


class SigningKey(Base):
    """Ed25519 token-signing keys; the private half wrapped by the key-encryption key."""

    __tablename__ = "signing_keys"
    kid: Mapped[str] = mapped_column(String(40), primary_key=True)
    private_wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    key_source: Mapped[str] = mapped_column(String(200))
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class SecretKey(Base):
    """Named symmetric keys (e.g. the PAN fingerprint key), stored only wrapped."""

    __tablename__ = "secret_keys"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    key_source: Mapped[str] = mapped_column(String(200))


_UNSEALED = text("hash = ''")


class AuditEntry(Base):
    """Append-only. Written unsealed (`hash` empty) in the transaction of the change it records, then
    sealed into the hash chain at `chain_pos`: its hash covers its content and the previous entry's hash."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_chain_pos", "chain_pos", unique=True),
        Index(
            "ix_audit_log_unsealed", "seq", postgresql_where=text("hash = ''"), sqlite_where=text("hash = ''")
        ),
    )
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[str] = mapped_column(String(40))
    tenant_id: Mapped[str | None] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(60))
    subject: Mapped[str] = mapped_column(String(100))
    outcome: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    chain_pos: Mapped[int | None] = mapped_column(BigInteger)


class AuditHead(Base):
    """A single row holding the chain's last sealed position and hash; locking it serialises sealing."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    # Entries from this chain position on carry an HMAC under the audit key (kept outside the
    # database) instead of a bare SHA-256; earlier ones were sealed before the key existed.
    mac_from: Mapped[int] = mapped_column(BigInteger, server_default=text("1"))
