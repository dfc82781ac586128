"""Top-ups against an acquirer that may fail before or after doing the work.

A top-up is a state machine kept in the `movements` row:

    pending ──approved charge, credited──> completed
       │  └──declined──> declined
       └──no charge at the acquirer after the grace period (reconcile)──> failed

1. Claim: the row is written `pending` (with the client's Idempotency-Key, unique per tenant) before
   anything is charged, so concurrent requests with one key find one record.
2. Charge: the acquirer's Idempotency-Key is derived from the top-up's id, so however many requests or
   reconcilers drive one top-up, the acquirer makes at most one charge for it.
3. Settle: an approval credits the wallet (the `pending -> completed` change is conditional, so only
   one driver credits); a decline ends it; an unknown outcome (5xx, timeout, dropped connection) leaves
   it pending. Whoever drives a pending top-up again first asks the acquirer for the charges with its
   reference, and charges anew only if there are none.
4. Void: an approved charge that cannot be credited (the top-up already ended, a second charge, a
   different amount) is marked `to_void` in `charges`, then voided; a void that fails is retried by
   `reconcile`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wallet import audit
from wallet.acquirer import (
    APPROVED,
    DECLINED,
    VOIDED,
    Acquirer,
    AcquirerRefused,
    CardData,
    Charge,
    OutcomeUnknown,
)
from wallet.db import run_in_transaction
from wallet.ledger import IdempotencyConflict, LedgerError, ensure_settlement, settlement_id
from wallet.models import ChargeRecord, Movement, Posting, Wallet, new_id, utcnow

PENDING, COMPLETED, FAILED = "pending", "completed", "failed"
TO_VOID = "to_void"
_MOVEMENTS, _POSTINGS, _WALLETS = Movement.__table__, Posting.__table__, Wallet.__table__
_CHARGES = ChargeRecord.__table__
log = logging.getLogger("wallet")


def acquirer_key(topup_id: str) -> str:
    """The acquirer's Idempotency-Key for a top-up: one top-up, at most one charge."""
    return f"wallet:{topup_id}"


@dataclass(frozen=True)
class Outcome:
    movement: Movement
    replayed: bool
    reason: str = ""


def _load(
    session: Session, tenant_id: str, *, topup_id: str | None = None, key: str | None = None
) -> Movement | None:
    query = select(_MOVEMENTS).where(_MOVEMENTS.c.tenant_id == tenant_id, _MOVEMENTS.c.kind == "topup")
    query = (
        query.where(_MOVEMENTS.c.id == topup_id)
        if topup_id
        else query.where(_MOVEMENTS.c.idempotency_key == key)
    )
    row = session.connection().execute(query).first()
    session.rollback()
    return Movement(**row._mapping) if row is not None else None


def find(session: Session, tenant_id: str, topup_id: str) -> Movement | None:
    return _load(session, tenant_id, topup_id=topup_id)


def decline_reason(session: Session, topup: Movement) -> str:
    reason = (
        session.connection()
        .execute(
            select(_CHARGES.c.reason).where(
                _CHARGES.c.tenant_id == topup.tenant_id,
                _CHARGES.c.topup_id == topup.id,
                _CHARGES.c.status == DECLINED,
            )
        )
        .scalar()
    )
    session.rollback()
    return str(reason or "")


def claim(
    session: Session,
    *,
    tenant_id: str,
    actor: str,
    wallet: Wallet,
    card_id: str,
    amount_minor: int,
    key: str | None,
    digest: str,
) -> tuple[Movement, bool]:
    """Record the top-up as pending; (record, True) when this call made it, else the earlier record for
    the key (a different body with the key is a conflict)."""
    ensure_settlement(session, tenant_id, wallet.currency)
    movement = Movement(
        id=new_id("top"),
        tenant_id=tenant_id,
        kind="topup",
        status=PENDING,
        from_wallet=None,
        to_wallet=wallet.id,
        amount_minor=amount_minor,
        currency=wallet.currency,
        card_id=card_id,
        acquirer_ref=None,
        idempotency_key=key,
        request_hash=digest,
        created_at=utcnow(),
    )
    row = {c.key: getattr(movement, c.key) for c in _MOVEMENTS.columns}

    def work(s: Session) -> None:
        s.connection().execute(insert(_MOVEMENTS).values(row))
        audit.record(
            s,
            action="money.topup.request",
            actor=actor,
            subject=movement.id,
            tenant_id=tenant_id,
            amount_minor=amount_minor,
            currency=wallet.currency,
            wallet_id=wallet.id,
            card_id=card_id,
        )

    try:
        run_in_transaction(session, work)
        return movement, True
    except IntegrityError:
        session.rollback()
        earlier = _load(session, tenant_id, key=key) if key is not None else None
        if earlier is None:
            raise
        if earlier.request_hash != digest:
            raise IdempotencyConflict("this Idempotency-Key was used with a different request") from None
        return earlier, False


def _upsert_charge(session: Session, charge: Charge, topup: Movement, status: str) -> None:
    """Record what we know of a charge; a voided charge stays voided, a void under way stays so unless
    the charge is now voided."""
    dialect = postgresql if session.connection().dialect.name == "postgresql" else sqlite
    now = utcnow()
    statement = dialect.insert(_CHARGES).values(
        id=charge.id,
        tenant_id=topup.tenant_id,
        topup_id=topup.id,
        status=status,
        reason=charge.reason[:200],
        amount_minor=charge.amount_minor,
        currency=charge.currency,
        created_at=now,
        updated_at=now,
    )
    keep = _CHARGES.c.status.not_in([VOIDED, TO_VOID]) if status != VOIDED else _CHARGES.c.status != VOIDED
    session.connection().execute(
        statement.on_conflict_do_update(
            index_elements=[_CHARGES.c.id], set_={"status": status, "updated_at": now}, where=keep
        )
    )


def _end(session: Session, topup: Movement, status: str, actor: str, charge: Charge | None) -> bool:
    """pending -> declined or failed; False if the top-up had already left `pending`."""

    def work(s: Session) -> bool:
        done = s.connection().execute(
            update(_MOVEMENTS)
            .where(
                _MOVEMENTS.c.id == topup.id,
                _MOVEMENTS.c.tenant_id == topup.tenant_id,
                _MOVEMENTS.c.status == PENDING,
            )
            .values(status=status)
        )
        if done.rowcount != 1:
            return False
        if charge is not None:
            _upsert_charge(s, charge, topup, charge.status)
        audit.record(
            s,
            action=f"money.topup.{status}",
            actor=actor,
            subject=topup.id,
            tenant_id=topup.tenant_id,
            outcome="failure",
            charge=charge.id if charge else None,
        )
        return True

    return run_in_transaction(session, work)


def _add(conn: Any, tenant_id: str, wallet_id: str, amount: int) -> int:
    """Add to a wallet's balance in one statement (it locks the row until commit); the new balance."""
    balance = conn.execute(
        update(_WALLETS)
        .where(_WALLETS.c.id == wallet_id, _WALLETS.c.tenant_id == tenant_id)
        .values(balance_minor=_WALLETS.c.balance_minor + amount)
        .returning(_WALLETS.c.balance_minor)
    ).scalar()
    if balance is None:
        raise LedgerError(f"wallet {wallet_id} not found")
    return int(balance)


def _credit(session: Session, topup: Movement, charge: Charge, actor: str) -> bool:
    """pending -> completed with the charge: postings, balances, the charge and the audit entry in one
    transaction. False if the top-up had already left `pending` (another driver settled it).

    Row locks are taken in one order (the top-up, its wallet, the settlement account), and the
    settlement account, which every top-up of the tenant and currency shares, last: it is held only
    for the postings' insert and the commit."""
    settlement = settlement_id(topup.tenant_id, topup.currency)

    def work(s: Session) -> bool:
        conn = s.connection()
        done = conn.execute(
            update(_MOVEMENTS)
            .where(
                _MOVEMENTS.c.id == topup.id,
                _MOVEMENTS.c.tenant_id == topup.tenant_id,
                _MOVEMENTS.c.status == PENDING,
            )
            .values(status=COMPLETED, acquirer_ref=charge.id)
        )
        if done.rowcount != 1:
            return False
        credited = _add(conn, topup.tenant_id, topup.to_wallet, topup.amount_minor)
        _upsert_charge(s, charge, topup, APPROVED)
        audit.record(
            s,
            action="money.topup",
            actor=actor,
            subject=topup.id,
            tenant_id=topup.tenant_id,
            amount_minor=topup.amount_minor,
            currency=topup.currency,
            wallet_id=topup.to_wallet,
            card_id=topup.card_id,
            charge=charge.id,
        )
        settled = _add(conn, topup.tenant_id, settlement, -topup.amount_minor)
        now = utcnow()
        legs = [(settlement, -topup.amount_minor, settled), (topup.to_wallet, topup.amount_minor, credited)]
        conn.execute(
            insert(_POSTINGS),
            [
                {
                    "tenant_id": topup.tenant_id,
                    "movement_id": topup.id,
                    "wallet_id": wallet_id,
                    "amount_minor": amount,
                    "balance_after": balance,
                    "created_at": now,
                }
                for wallet_id, amount, balance in legs
            ],
        )
        return True

    return run_in_transaction(session, work)


def _void(acquirer: Acquirer, session: Session, topup: Movement, charge: Charge, actor: str) -> bool:
    """Void a charge that cannot be credited: marked `to_void` first, so a failed void is retried."""
    run_in_transaction(session, lambda s: _upsert_charge(s, charge, topup, TO_VOID))
    try:
        acquirer.void(charge.id)
    except OutcomeUnknown:
        log.warning("void of %s left for reconciliation", charge.id)
        return False
    except AcquirerRefused:  # the acquirer does not know it: nothing to void
        pass

    def work(s: Session) -> None:
        _upsert_charge(s, charge, topup, VOIDED)
        audit.record(
            s,
            action="money.charge.void",
            actor=actor,
            subject=charge.id,
            tenant_id=topup.tenant_id,
            topup=topup.id,
        )

    run_in_transaction(session, work)
    return True


def _apply(
    acquirer: Acquirer, session: Session, topup: Movement, charges: Iterable[Charge], actor: str
) -> bool:
    """Settle a top-up with the charges the acquirer made for it; True if one of them decided it."""
    usable, stray, declined = [], [], []
    for c in charges:
        if c.status == APPROVED and c.amount_minor == topup.amount_minor and c.currency == topup.currency:
            usable.append(c)
        elif c.status == APPROVED:
            stray.append(c)
        elif c.status == DECLINED:
            declined.append(c)
    decided = False
    for c in usable:
        if _credit(session, topup, c, actor):
            decided = True
            continue
        current = _load(session, topup.tenant_id, topup_id=topup.id)
        if current is not None and current.acquirer_ref == c.id:
            decided = True  # another driver credited this very charge
        else:
            stray.append(c)
    for c in stray:
        _void(acquirer, session, topup, c, actor)
    if not decided and declined and not usable:
        _end(session, topup, DECLINED, actor, declined[0])
        decided = True
    return decided


def _current(session: Session, topup: Movement) -> Movement:
    return _load(session, topup.tenant_id, topup_id=topup.id) or topup


def charge_and_settle(
    acquirer: Acquirer, session: Session, topup: Movement, card: CardData, actor: str
) -> Movement:
    """Charge a pending top-up under its derived key and settle it by the answer; an unknown outcome
    leaves it pending."""
    try:
        charge = acquirer.charge(acquirer_key(topup.id), topup.amount_minor, topup.currency, card, topup.id)
    except OutcomeUnknown as exc:
        log.warning("top-up %s left pending: %s", topup.id, exc)
        return _current(session, topup)
    except AcquirerRefused as exc:
        log.warning("top-up %s refused by the acquirer: %s", topup.id, exc)
        _end(session, topup, FAILED, actor, None)
        return _current(session, topup)
    _apply(acquirer, session, topup, [charge], actor)
    return _current(session, topup)


def settle(
    acquirer: Acquirer,
    session: Session,
    topup: Movement,
    actor: str,
    *,
    card: CardData | None = None,
    grace: float = 60.0,
) -> Movement:
    """Settle a pending top-up: ask the acquirer which charges it made for it before any new charge.
    With the card (a client's retry) and no charge found, charge now; without it (reconciliation), a
    top-up older than `grace` seconds with no charge failed before the acquirer did anything."""
    try:
        charges = acquirer.find(topup.id)
    except (OutcomeUnknown, AcquirerRefused) as exc:
        log.warning("top-up %s not settled: %s", topup.id, exc)
        return _current(session, topup)
    if _apply(acquirer, session, topup, charges, actor):
        return _current(session, topup)
    if card is not None and not charges:
        return charge_and_settle(acquirer, session, topup, card, actor)
    # No charge, or only voided ones (its key is spent): nothing will credit it.
    if utcnow() - topup.created_at >= timedelta(seconds=grace):
        _end(session, topup, FAILED, actor, None)
    return _current(session, topup)


def request(
    acquirer: Acquirer,
    session: Session,
    *,
    tenant_id: str,
    actor: str,
    wallet: Wallet,
    card_id: str,
    card: CardData,
    amount_minor: int,
    key: str | None,
    digest: str,
) -> Outcome:
    """A client's top-up request: claim, charge, settle; a retry is answered from the record."""
    topup, fresh = claim(
        session,
        tenant_id=tenant_id,
        actor=actor,
        wallet=wallet,
        card_id=card_id,
        amount_minor=amount_minor,
        key=key,
        digest=digest,
    )
    if fresh:
        topup = charge_and_settle(acquirer, session, topup, card, actor)
    elif topup.status == PENDING:
        topup = settle(acquirer, session, topup, actor, card=card)
    return Outcome(topup, replayed=not fresh)


@dataclass
class Reconciled:
    pending: int = 0
    completed: int = 0
    declined: int = 0
    failed: int = 0
    still_pending: int = 0
    voided: int = 0

    def line(self) -> str:
        return (
            f"{self.pending} pending top-up(s): {self.completed} credited, {self.declined} declined, "
            f"{self.failed} failed, {self.still_pending} still pending; {self.voided} unfinished void(s) done"
        )


def reconcile(
    acquirer: Acquirer, session: Session, *, grace: float = 60.0, actor: str = "reconciler"
) -> Reconciled:
    """Settle every pending top-up against the acquirer and retry unfinished voids. Safe at any time and
    concurrently with traffic: every change is a conditional transition, every charge call idempotent."""
    result = Reconciled()
    conn = session.connection()
    pending = [
        Movement(**r._mapping)
        for r in conn.execute(
            select(_MOVEMENTS).where(_MOVEMENTS.c.status == PENDING).order_by(_MOVEMENTS.c.created_at)
        )
    ]
    voids = [r._mapping for r in conn.execute(select(_CHARGES).where(_CHARGES.c.status == TO_VOID))]
    session.rollback()
    for topup in pending:
        result.pending += 1
        status = settle(acquirer, session, topup, actor, grace=grace).status
        name = "still_pending" if status == PENDING else status
        setattr(result, name, getattr(result, name) + 1)
    for row in voids:
        charge = Charge(row["id"], APPROVED, row["amount_minor"], row["currency"], row["topup_id"])
        topup = _load(session, row["tenant_id"], topup_id=row["topup_id"])
        if topup is not None and _void(acquirer, session, topup, charge, actor):
            result.voided += 1
    return result
