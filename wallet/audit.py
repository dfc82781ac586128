"""The append-only audit log: every entry's hash covers its content and the previous entry's hash,
so an edited, inserted or deleted entry breaks the chain."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wallet.models import AuditEntry, AuditHead, utcnow

GENESIS = "0" * 64
_FIELDS = ("seq", "at", "tenant_id", "actor", "action", "subject", "outcome", "detail", "prev_hash")


def entry_hash(values: dict[str, Any]) -> str:
    canonical = json.dumps([values[f] for f in _FIELDS], separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def record(session: Session, *, action: str, actor: str, subject: str = "", outcome: str = "success",
           tenant_id: str | None = None, **detail: Any) -> AuditEntry:
    """Append an entry inside the caller's transaction. Locking the head row serialises appends,
    so the chain stays linear under concurrent writers; it commits or rolls back with the work."""
    head = session.scalars(select(AuditHead).where(AuditHead.id == 1).with_for_update()
                           .execution_options(populate_existing=True)).one()
    values = {
        "seq": head.seq + 1, "at": utcnow().isoformat(), "tenant_id": tenant_id, "actor": actor,
        "action": action, "subject": subject, "outcome": outcome,
        "detail": json.dumps(detail, sort_keys=True, default=str), "prev_hash": head.hash,
    }
    entry = AuditEntry(**values, hash=entry_hash(values))
    session.add(entry)
    head.seq, head.hash = entry.seq, entry.hash
    session.flush()
    return entry


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
        return Verdict(False, count, f"the log ends at entry {count} but the head records entry "
                                     f"{head.seq if head else '?'}: entries were removed")
    return Verdict(True, count)


def _entries(session: Session) -> Iterator[AuditEntry]:
    yield from session.scalars(select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=1000))
