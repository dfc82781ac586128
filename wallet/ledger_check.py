"""`wallet ledger verify`: the ledger proves itself from its own rows.

- every wallet's stored balance equals the sum of its postings;
- every movement's postings sum to zero, and only credited movements have postings;
- every credited top-up names an approved, unvoided charge of its amount and currency;
- every approved charge is credited to its top-up (a charge is never kept without a credit).
Each disagreement is one line naming the rows; nothing is repaired.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wallet.models import ChargeRecord, Movement, Posting, Wallet

_W, _M, _P, _C = Wallet.__table__, Movement.__table__, Posting.__table__, ChargeRecord.__table__


def problems(session: Session) -> Iterator[str]:
    conn = session.connection()
    posted = dict(
        conn.execute(select(_P.c.wallet_id, func.sum(_P.c.amount_minor)).group_by(_P.c.wallet_id)).all()
    )
    for wallet_id, balance in conn.execute(select(_W.c.id, _W.c.balance_minor).order_by(_W.c.id)):
        total = int(posted.get(wallet_id) or 0)
        if total != balance:
            yield f"wallet {wallet_id}: balance {balance} but its postings sum to {total} (minor units)"
    legs = (
        select(_P.c.movement_id, func.sum(_P.c.amount_minor).label("total"), func.count().label("n"))
        .group_by(_P.c.movement_id)
        .subquery()
    )
    rows = conn.execute(
        select(_M.c.id, _M.c.kind, _M.c.status, legs.c.total, legs.c.n)
        .select_from(_M.outerjoin(legs, legs.c.movement_id == _M.c.id))
        .order_by(_M.c.id)
    )
    for movement_id, kind, status, total, count in rows:
        if status == "completed" and not count:
            yield f"{kind} {movement_id}: completed but has no postings"
        elif status != "completed" and count:
            yield f"{kind} {movement_id}: {status} but has postings"
        elif count and total != 0:
            yield f"{kind} {movement_id}: postings sum to {total}, not zero"
    charges = {r.id: r for r in conn.execute(select(_C))}
    credited: set[str] = set()
    topups = select(_M.c.id, _M.c.acquirer_ref, _M.c.amount_minor, _M.c.currency).where(
        _M.c.kind == "topup", _M.c.status == "completed"
    )
    for topup_id, ref, amount, currency in conn.execute(topups.order_by(_M.c.id)):
        charge = charges.get(ref or "")
        if charge is None:
            yield f"top-up {topup_id}: credited without a recorded charge ({ref or 'no acquirer reference'})"
        elif charge.status != "approved":
            yield f"top-up {topup_id}: credited but its charge {ref} is {charge.status}"
        elif (charge.amount_minor, charge.currency) != (amount, currency) or charge.topup_id != topup_id:
            yield f"top-up {topup_id}: its charge {ref} is for another amount or top-up"
        else:
            credited.add(charge.id)
    for charge in charges.values():
        if charge.status == "approved" and charge.id not in credited:
            yield f"charge {charge.id}: approved for top-up {charge.topup_id} but never credited"
    session.rollback()


def counts(session: Session) -> dict[str, int]:
    conn = session.connection()
    out = {
        "wallets": conn.execute(select(func.count()).select_from(_W)).scalar_one(),
        "movements": conn.execute(select(func.count()).select_from(_M)).scalar_one(),
        "postings": conn.execute(select(func.count()).select_from(_P)).scalar_one(),
        "pending top-ups": conn.execute(
            select(func.count()).select_from(_M).where(_M.c.status == "pending")
        ).scalar_one(),
        "voids under way": conn.execute(
            select(func.count()).select_from(_C).where(_C.c.status == "to_void")
        ).scalar_one(),
    }
    session.rollback()
    return out
