"""The append-only audit log. An entry is appended unsealed in the same transaction as the change it
records, so appends never wait for each other; a sealer then links entries into a hash chain in order:
each sealed entry's hash covers its content and the previous entry's hash, so an edited, inserted or
deleted sealed entry breaks the chain. `verify` seals whatever is pending before it checks."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, insert, literal_column, select, update
from sqlalchemy.orm import Session, sessionmaker

from wallet.db import driver_execute, on_postgres
from wallet.models import AuditEntry, AuditHead, utcnow

GENESIS = "0" * 64
UNSEALED = ""
LOG = AuditEntry.__table__
_HEAD = AuditHead.__table__
_FIELDS = ("seq", "at", "tenant_id", "actor", "action", "subject", "outcome", "detail", "prev_hash")
# A literal, not a parameter, so the partial index on unsealed entries serves the query.
_PENDING = (
    select(*(LOG.c[f] for f in _FIELDS[:-1])).where(LOG.c.hash == literal_column("''")).order_by(LOG.c.seq)
)
_SEAL = (
    update(LOG)
    .where(LOG.c.seq == bindparam("s"))
    .values(chain_pos=bindparam("p"), prev_hash=bindparam("ph"), hash=bindparam("h"))
)
# One statement for a whole batch on PostgreSQL, rather than one per entry.
_PG_SEAL = """
    UPDATE audit_log SET chain_pos = v.p, prev_hash = v.ph, hash = v.h
    FROM unnest(%(s)s::bigint[], %(p)s::bigint[], %(ph)s::text[], %(h)s::text[]) AS v (s, p, ph, h)
    WHERE audit_log.seq = v.s
"""
APPENDED = "audit_appended"  # set in Session.info when the session wrote an entry


def entry_hash(values: dict[str, Any]) -> str:
    canonical = json.dumps([values[f] for f in _FIELDS], separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def entry(
    *,
    action: str,
    actor: str,
    subject: str = "",
    outcome: str = "success",
    tenant_id: str | None = None,
    **detail: Any,
) -> dict[str, Any]:
    """The row of a new, unsealed entry."""
    return {
        "at": utcnow().isoformat(),
        "tenant_id": tenant_id,
        "actor": actor,
        "action": action,
        "subject": subject,
        "outcome": outcome,
        "detail": json.dumps(detail, sort_keys=True, default=str),
        "prev_hash": UNSEALED,
        "hash": UNSEALED,
    }


def append(session: Session, row: dict[str, Any]) -> None:
    """Append an unsealed entry inside the caller's transaction: it commits or rolls back with the
    caller's work, and takes no lock that other writers wait for."""
    session.flush()
    session.connection().execute(insert(LOG).values(row))
    appended(session)


def appended(session: Session) -> None:
    """Note that the session wrote an entry, so the server nudges its sealer after the request."""
    session.info[APPENDED] = True


def record(session: Session, **what: Any) -> None:
    append(session, entry(**what))


_HEAD_ROW = select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1)
_LOCK_HEAD, _TRY_LOCK_HEAD = _HEAD_ROW.with_for_update(), _HEAD_ROW.with_for_update(skip_locked=True)
_MOVE_HEAD = update(_HEAD).where(_HEAD.c.id == 1).values(seq=bindparam("pos"), hash=bindparam("last"))


def seal(session: Session, limit: int = 10_000, *, wait: bool = True) -> int | None:
    """Link committed unsealed entries into the chain, in `seq` order; the caller commits.
    Locking the head row serialises sealers, so the chain stays linear. With `wait=False` this
    returns None at once when another sealer holds the head."""
    conn = session.connection()
    head = conn.execute(_LOCK_HEAD if wait else _TRY_LOCK_HEAD).one_or_none()
    if head is None:
        return None
    pos, prev = head
    seals = []
    for row in conn.execute(_PENDING.limit(limit)):
        values = {**row._mapping, "prev_hash": prev}
        pos, digest = pos + 1, entry_hash(values)
        seals.append({"s": row.seq, "p": pos, "ph": prev, "h": digest})
        prev = digest
    if not seals:
        return 0
    if (pg := on_postgres(session)) is not None:
        driver_execute(pg, _PG_SEAL, {name: [seal[name] for seal in seals] for name in ("s", "p", "ph", "h")})
    else:
        conn.execute(_SEAL, seals)
    conn.execute(_MOVE_HEAD, {"pos": pos, "last": prev})
    return len(seals)


def seal_all(session: Session, batch: int = 10_000, *, wait: bool = True) -> int | None:
    """Seal everything pending; None if `wait` is False and another sealer is at work."""
    total = 0
    while True:
        sealed = seal(session, batch, wait=wait)
        session.commit()
        if sealed is None:
            return None
        total += sealed
        if sealed < batch:
            return total


class Sealer:
    """A background thread per process that seals soon after entries are appended, in batches,
    so requests neither wait for the chain nor pay for sealing."""

    def __init__(self, sessions: sessionmaker[Session], pause: float = 0.2) -> None:
        self._sessions, self._pause = sessions, pause
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._pid = 0

    def nudge(self) -> None:
        with self._lock:
            if self._pid != os.getpid():  # first use, or a forked server worker
                self._pid = os.getpid()
                threading.Thread(target=self._run, name="audit-sealer", daemon=True).start()
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            try:
                with self._sessions(info={"unscoped": True}) as session:
                    if seal_all(session, wait=False) is None:  # another process is sealing: look again
                        self._wake.set()
            except Exception:  # the next nudge or `verify` seals what this pass could not
                logging.getLogger("wallet").exception("audit sealing failed")
            time.sleep(self._pause)  # under load, nudges keep coming: seal in batches


@dataclass(frozen=True)
class Verdict:
    ok: bool
    entries: int
    problem: str = ""


def verify(session: Session) -> Verdict:
    seal_all(session)
    count, expected_prev, expected_pos = 0, GENESIS, 1
    for entry in _chain(session):
        pos = entry.chain_pos
        values = {f: getattr(entry, f) for f in _FIELDS}
        if pos != expected_pos:
            return Verdict(False, count, f"entry {expected_pos} is missing (next is {pos})")
        if entry.prev_hash != expected_prev:
            return Verdict(False, count, f"entry {pos} does not follow entry {pos - 1}")
        if entry_hash(values) != entry.hash:
            return Verdict(False, count, f"entry {pos} was altered after it was written")
        expected_prev, expected_pos, count = entry.hash, expected_pos + 1, count + 1
    head = session.get(AuditHead, 1)
    if head is None or head.seq != count or head.hash != expected_prev:
        return Verdict(
            False,
            count,
            f"the log ends at entry {count} but the head records entry "
            f"{head.seq if head else '?'}: entries were removed",
        )
    return Verdict(True, count)


def _chain(session: Session) -> Iterator[AuditEntry]:
    yield from session.scalars(
        select(AuditEntry)
        .where(AuditEntry.chain_pos.is_not(None))
        .order_by(AuditEntry.chain_pos)
        .execution_options(yield_per=1000)
    )
