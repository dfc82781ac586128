"""The append-only audit log: every entry's hash covers its content and the previous entry's hash,
so an edited, inserted or deleted entry breaks the chain."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from wallet.models import AuditEntry, AuditHead, utcnow

GENESIS = "0" * 64
_LOG = AuditEntry.__table__
_HEAD = AuditHead.__table__
_FIELDS = ("seq", "at", "tenant_id", "actor", "action", "subject", "outcome", "detail", "prev_hash")


def entry_hash(values: dict[str, Any]) -> str:
    canonical = json.dumps([values[f] for f in _FIELDS], separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def record(
    session: Session,
    *,
    action: str,
    actor: str,
    subject: str = "",
    outcome: str = "success",
    tenant_id: str | None = None,
    **detail: Any,
) -> str:
    """Append an entry inside the caller's transaction and return its hash. Locking the head row
    serialises appends, so the chain stays linear under concurrent writers; the entry commits or rolls
    back with the caller's work. Core statements keep the time the lock is held short."""
    session.flush()
    conn = session.connection()
    seq, prev = conn.execute(select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1).with_for_update()).one()
    values = {
        "seq": seq + 1,
        "at": utcnow().isoformat(),
        "tenant_id": tenant_id,
        "actor": actor,
        "action": action,
        "subject": subject,
        "outcome": outcome,
        "detail": json.dumps(detail, sort_keys=True, default=str),
        "prev_hash": prev,
    }
    digest = entry_hash(values)
    conn.execute(insert(_LOG).values(**values, hash=digest))
    conn.execute(update(_HEAD).where(_HEAD.c.id == 1).values(seq=seq + 1, hash=digest))
    return digest


@dataclass(frozen=True)
class Verdict:
    ok: bool
    entries: int
    problem: str = ""


def verify(session: Session) -> Verdict:
    count, expected_prev, expected_seq = 0, GENESIS, 1
    for entry in _entries(session):
        values = {f: getattr(entry, f) for f in _FIELDS}
        if entry.seq != expected_seq:
            return Verdict(False, count, f"entry {expected_seq} is missing (next is {entry.seq})")
        if entry.prev_hash != expected_prev:
            return Verdict(False, count, f"entry {entry.seq} does not follow entry {entry.seq - 1}")
        if entry_hash(values) != entry.hash:
            return Verdict(False, count, f"entry {entry.seq} was altered after it was written")
        expected_prev, expected_seq, count = entry.hash, entry.seq + 1, count + 1
    head = session.get(AuditHead, 1)
    if head is None or head.seq != count or head.hash != expected_prev:
        return Verdict(
            False,
            count,
            f"the log ends at entry {count} but the head records entry "
            f"{head.seq if head else '?'}: entries were removed",
        )
    return Verdict(True, count)


def _entries(session: Session) -> Iterator[AuditEntry]:
    yield from session.scalars(select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=1000))
