"""Double-entry money movements. Each movement is one database transaction whose postings sum to zero;
the wallets it touches are locked in id order, so concurrent movements serialise without deadlock."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wallet import audit
from wallet.db import TenantScopeError, call_autocommit, driver_execute, run_in_transaction
from wallet.models import Movement, MovementRecord, Posting, Wallet, new_id, utcnow


class LedgerError(Exception):
    status = 422
    title = "Unprocessable request"


class NotFound(LedgerError):
    status = 404
    title = "Not found"


class IdempotencyConflict(LedgerError):
    status = 409
    title = "Idempotency key reused"


class Declined(LedgerError):
    status = 402
    title = "Payment declined"


@dataclass(frozen=True)
class Result:
    movement: MovementRecord
    replayed: bool


def request_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def settlement_id(tenant_id: str, currency: str) -> str:
    return f"set_{tenant_id.removeprefix('ten_')}_{currency}"


def ensure_settlement(session: Session, tenant_id: str, currency: str) -> str:
    """The tenant's settlement account for a currency: the other side of every top-up; it may go negative."""
    wallet_id = settlement_id(tenant_id, currency)
    if session.get(Wallet, wallet_id) is None:
        try:
            session.add(
                Wallet(
                    id=wallet_id,
                    tenant_id=tenant_id,
                    owner_ref=f"settlement:{currency}",
                    currency=currency,
                    kind="settlement",
                    balance_minor=0,
                )
            )
            session.commit()
        except IntegrityError:  # created concurrently by another request
            session.rollback()
    else:
        session.rollback()
    return wallet_id


class Locked(NamedTuple):
    id: str
    currency: str
    kind: str
    balance_minor: int


# The hot path uses Core statements on the session's connection: the ORM's unit of work costs more CPU
# than the few rows a movement writes. Core bypasses the session's tenant hooks, so every statement
# here names the tenant itself.
_WALLETS, _MOVEMENTS, _POSTINGS = Wallet.__table__, Movement.__table__, Posting.__table__
_LOCK = (
    select(_WALLETS.c.id, _WALLETS.c.currency, _WALLETS.c.kind, _WALLETS.c.balance_minor)
    .where(_WALLETS.c.tenant_id == bindparam("tenant"), _WALLETS.c.id.in_([bindparam("a"), bindparam("b")]))
    .order_by(_WALLETS.c.id)
    .with_for_update()
)
_SET_BALANCE = (
    update(_WALLETS).where(_WALLETS.c.id == bindparam("wid")).values(balance_minor=bindparam("balance"))
)
_REPLAY = select(_MOVEMENTS).where(
    _MOVEMENTS.c.tenant_id == bindparam("tenant"), _MOVEMENTS.c.idempotency_key == bindparam("key")
)


def _tenant(session: Session) -> str:
    tenant = session.info.get("tenant_id")
    if tenant is None:
        raise TenantScopeError("no tenant bound to this session")
    return str(tenant)


def _lock(session: Session, a: str, b: str) -> dict[str, Locked]:
    """Lock the movement's two wallets, in id order so that concurrent movements cannot deadlock."""
    params = {"tenant": _tenant(session), "a": a, "b": b}
    rows = list(session.connection().execute(_LOCK, params))
    return {row[0]: Locked(*row) for row in rows}


def _post(
    session: Session, movement: MovementRecord, legs: list[tuple[Locked, int]], entry: dict[str, Any]
) -> None:
    """Write the movement, its postings, the new balances and its audit entry."""
    if sum(amount for _, amount in legs) != 0:
        raise AssertionError("unbalanced postings")
    postings = []
    for wallet, amount in legs:
        balance = wallet.balance_minor + amount
        if balance < 0 and wallet.kind != "settlement":
            raise LedgerError("insufficient funds")
        postings.append({"wallet_id": wallet.id, "amount_minor": amount, "balance_after": balance})
    conn = session.connection()
    row = {c.key: getattr(movement, c.key) for c in _MOVEMENTS.columns}
    conn.execute(insert(_MOVEMENTS).values(row))
    common = {"tenant_id": movement.tenant_id, "movement_id": movement.id, "created_at": movement.created_at}
    conn.execute(insert(_POSTINGS), [{**common, **p} for p in postings])
    conn.execute(_SET_BALANCE, [{"wid": p["wallet_id"], "balance": p["balance_after"]} for p in postings])
    audit.append(session, entry)


_REFUSALS: dict[str, Callable[[], LedgerError]] = {
    "not_found": lambda: NotFound("wallet not found"),
    "currency": lambda: LedgerError("currency must match both wallets"),
    "funds": lambda: LedgerError("insufficient funds"),
}
# The whole transfer in one round trip, without BEGIN and COMMIT: see migration 0003.
_PG_TRANSFER = """
    SELECT wallet_transfer(%(id)s, %(tenant)s, %(from)s, %(to)s, %(amount)s, %(currency)s, %(key)s,
                           %(hash)s, %(created_at)s, %(at)s, %(actor)s, %(detail)s)
"""


def _transfer_in_database(session: Session, movement: MovementRecord, entry: dict[str, Any]) -> Result:
    params = {
        "id": movement.id,
        "tenant": movement.tenant_id,
        "from": movement.from_wallet,
        "to": movement.to_wallet,
        "amount": movement.amount_minor,
        "currency": movement.currency,
        "key": movement.idempotency_key,
        "hash": movement.request_hash,
        "created_at": movement.created_at,
        "at": entry["at"],
        "actor": entry["actor"],
        "detail": entry["detail"],
    }
    if session.in_transaction():  # commit what the caller's transaction holds, as on SQLite
        outcome = run_in_transaction(
            session, lambda s: driver_execute(s.connection(), _PG_TRANSFER, params, autocommit=True)[0][0]
        )
    else:  # the usual case (an API request): the call is the whole transaction
        outcome = call_autocommit(session.get_bind(), _PG_TRANSFER, params)[0][0]
    if outcome == "ok":
        audit.appended(session)
        return Result(movement, replayed=False)
    if outcome == "replay":
        replay = find_replay(session, movement.idempotency_key, movement.request_hash or "")
        if replay is None:  # pragma: no cover - movements are never deleted
            raise LedgerError("the earlier movement for this Idempotency-Key is gone")
        return replay
    raise _REFUSALS[outcome]()


def _replay(session: Session, key: str | None, digest: str) -> Result | None:
    if key is None:
        return None
    row = session.connection().execute(_REPLAY, {"tenant": _tenant(session), "key": key}).first()
    if row is None:
        return None
    if row.request_hash != digest:
        raise IdempotencyConflict("this Idempotency-Key was used with a different request")
    return Result(MovementRecord(**row._mapping), replayed=True)


def _idempotent(session: Session, key: str | None, digest: str, work: Callable[[Session], Result]) -> Result:
    """Run the movement; a request whose key was already used is answered with the earlier movement.
    The unique key catches the reuse when the movement is inserted, so the usual path costs no lookup;
    a refusal (e.g. funds now short) is checked for an earlier movement too, because a replay must get
    the original answer."""
    try:
        return run_in_transaction(session, work)
    except (IntegrityError, LedgerError):
        try:
            replay = _replay(session, key, digest)
        finally:
            session.rollback()
        if replay is None:
            raise
        return replay


def transfer(
    session: Session,
    *,
    tenant_id: str,
    actor: str,
    from_wallet: str,
    to_wallet: str,
    amount_minor: int,
    currency: str,
    idempotency_key: str | None,
    digest: str,
) -> Result:
    if from_wallet == to_wallet:
        raise LedgerError("from_wallet and to_wallet must differ")
    if tenant_id != _tenant(session):
        raise TenantScopeError("the transfer's tenant is not the session's")
    movement = MovementRecord(
        id=new_id("tr"),
        tenant_id=tenant_id,
        kind="transfer",
        status="completed",
        from_wallet=from_wallet,
        to_wallet=to_wallet,
        amount_minor=amount_minor,
        currency=currency,
        idempotency_key=idempotency_key,
        request_hash=digest,
        created_at=utcnow(),
    )
    entry = audit.entry(
        action="money.transfer",
        actor=actor,
        subject=movement.id,
        tenant_id=tenant_id,
        amount_minor=amount_minor,
        currency=currency,
        from_wallet=from_wallet,
        to_wallet=to_wallet,
    )
    if session.get_bind().dialect.name == "postgresql":
        return _transfer_in_database(session, movement, entry)

    def work(s: Session) -> Result:
        wallets = _lock(s, from_wallet, to_wallet)
        source, target = wallets.get(from_wallet), wallets.get(to_wallet)
        if source is None or target is None or "settlement" in (source.kind, target.kind):
            raise _REFUSALS["not_found"]()
        if source.currency != currency or target.currency != currency:
            raise _REFUSALS["currency"]()
        _post(s, movement, [(source, -amount_minor), (target, amount_minor)], entry)
        return Result(movement, replayed=False)

    return _idempotent(session, idempotency_key, digest, work)


def find_replay(session: Session, key: str | None, digest: str) -> Result | None:
    """Look up the earlier movement for this key."""
    try:
        return _replay(session, key, digest)
    finally:
        session.rollback()
