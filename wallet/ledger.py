"""Double-entry money movements. Each movement is one database transaction whose postings sum to zero;
the wallets it touches are locked in id order, so concurrent movements serialise without deadlock."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wallet import audit
from wallet.db import run_in_transaction
from wallet.models import Movement, Posting, Wallet, new_id


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
    movement: Movement
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


def _lock(session: Session, wallet_ids: list[str]) -> dict[str, Locked]:
    rows = session.execute(
        select(Wallet.id, Wallet.currency, Wallet.kind, Wallet.balance_minor)
        .where(Wallet.id.in_(wallet_ids))
        .order_by(Wallet.id)
        .with_for_update()
    )
    return {row.id: Locked(*row) for row in rows}


def _post(session: Session, movement: Movement, legs: list[tuple[Locked, int]]) -> None:
    if sum(amount for _, amount in legs) != 0:
        raise AssertionError("unbalanced postings")
    postings = []
    for wallet, amount in legs:
        balance = wallet.balance_minor + amount
        if balance < 0 and wallet.kind != "settlement":
            raise LedgerError("insufficient funds")
        postings.append(
            Posting(
                tenant_id=movement.tenant_id,
                movement_id=movement.id,
                wallet_id=wallet.id,
                amount_minor=amount,
                balance_after=balance,
            )
        )
    session.add_all([movement, *postings])
    session.flush()
    for posting in postings:
        session.execute(
            update(Wallet)
            .where(Wallet.id == posting.wallet_id)
            .values(balance_minor=posting.balance_after)
            .execution_options(synchronize_session=False)
        )


def _replay(session: Session, key: str | None, digest: str) -> Result | None:
    if key is None:
        return None
    existing = session.scalars(select(Movement).where(Movement.idempotency_key == key)).first()
    if existing is None:
        return None
    if existing.request_hash != digest:
        raise IdempotencyConflict("this Idempotency-Key was used with a different request")
    return Result(existing, replayed=True)


def _idempotent(session: Session, key: str | None, digest: str, work: Callable[[Session], Result]) -> Result:
    try:
        return run_in_transaction(session, lambda s: _replay(s, key, digest) or work(s))
    except IntegrityError:
        replay = _replay(session, key, digest)
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

    def work(s: Session) -> Result:
        wallets = _lock(s, [from_wallet, to_wallet])
        source, target = wallets.get(from_wallet), wallets.get(to_wallet)
        if source is None or target is None or "settlement" in (source.kind, target.kind):
            raise NotFound("wallet not found")
        if source.currency != currency or target.currency != currency:
            raise LedgerError("currency must match both wallets")
        movement = Movement(
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
        )
        _post(s, movement, [(source, -amount_minor), (target, amount_minor)])
        audit.record(
            s,
            action="money.transfer",
            actor=actor,
            subject=movement.id,
            tenant_id=tenant_id,
            amount_minor=amount_minor,
            currency=currency,
            from_wallet=from_wallet,
            to_wallet=to_wallet,
        )
        return Result(movement, replayed=False)

    return _idempotent(session, idempotency_key, digest, work)


def topup(
    session: Session,
    *,
    tenant_id: str,
    actor: str,
    wallet_id: str,
    card_id: str,
    amount_minor: int,
    acquirer_ref: str,
    idempotency_key: str | None,
    digest: str,
) -> Result:
    wallet = session.get(Wallet, wallet_id)
    if wallet is None or wallet.kind != "customer":
        raise NotFound("wallet not found")
    currency = wallet.currency
    settlement = ensure_settlement(session, tenant_id, currency)

    def work(s: Session) -> Result:
        wallets = _lock(s, [wallet_id, settlement])
        movement = Movement(
            id=new_id("top"),
            tenant_id=tenant_id,
            kind="topup",
            status="completed",
            from_wallet=None,
            to_wallet=wallet_id,
            amount_minor=amount_minor,
            currency=currency,
            card_id=card_id,
            acquirer_ref=acquirer_ref,
            idempotency_key=idempotency_key,
            request_hash=digest,
        )
        _post(s, movement, [(wallets[settlement], -amount_minor), (wallets[wallet_id], amount_minor)])
        audit.record(
            s,
            action="money.topup",
            actor=actor,
            subject=movement.id,
            tenant_id=tenant_id,
            amount_minor=amount_minor,
            currency=currency,
            wallet_id=wallet_id,
            card_id=card_id,
        )
        return Result(movement, replayed=False)

    return _idempotent(session, idempotency_key, digest, work)


def find_replay(session: Session, key: str | None, digest: str) -> Result | None:
    """Look up an earlier movement for this key before doing anything with side effects (e.g. a charge)."""
    try:
        return _replay(session, key, digest)
    finally:
        session.rollback()
