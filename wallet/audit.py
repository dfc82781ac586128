"""The append-only audit log. An entry is appended unsealed in the same transaction as the change it
records, so appends never wait for each other; a sealer then links entries into a hash chain in order:
each sealed entry's hash is an HMAC, under a key kept outside the database, of its content and the
previous entry's hash, so an edited, inserted, forged or deleted sealed entry breaks the chain even for
whoever owns the database. The server anchors the chain head outside the database (`wallet.anchors`),
so emptying the log or rolling the whole database back is caught too. `verify` only reads: it never
seals or repairs anything."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, insert, literal_column, select, update
from sqlalchemy.orm import Session, sessionmaker

from wallet.anchors import Anchor, AnchorError, AnchorLog, AuditKey
from wallet.db import driver_execute, on_postgres
from wallet.models import AuditEntry, AuditHead, Posting, utcnow

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
# One statement for a whole batch on PostgreSQL, rather than one per entry. The arrays go as array
# literals built here: the driver's list adapter costs more CPU per element than the MAC does.
_PG_SEAL = """
    UPDATE audit_log SET chain_pos = v.p, prev_hash = v.ph, hash = v.h
    FROM unnest(%(s)s::text::bigint[], %(p)s::text::bigint[], %(ph)s::text::text[], %(h)s::text::text[])
         AS v (s, p, ph, h)
    WHERE audit_log.seq = v.s
"""
APPENDED = "audit_appended"  # set in Session.info when the session wrote an entry


def _canonical(values: dict[str, Any]) -> bytes:
    return json.dumps([values[f] for f in _FIELDS], separators=(",", ":"), ensure_ascii=True).encode()


def entry_hash(values: dict[str, Any]) -> str:
    """The bare SHA-256 link of entries sealed before the audit key existed (before `mac_from`)."""
    return hashlib.sha256(_canonical(values)).hexdigest()


def entry_mac(values: dict[str, Any], key: AuditKey) -> str:
    return key.mac(_canonical(values))


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


_HEAD_ROW = select(_HEAD.c.seq, _HEAD.c.hash, _HEAD.c.mac_from).where(_HEAD.c.id == 1)
_LOCK_HEAD, _TRY_LOCK_HEAD = _HEAD_ROW.with_for_update(), _HEAD_ROW.with_for_update(skip_locked=True)
_MOVE_HEAD = update(_HEAD).where(_HEAD.c.id == 1).values(seq=bindparam("pos"), hash=bindparam("last"))


def seal(session: Session, key: AuditKey, limit: int = 10_000, *, wait: bool = True) -> int | None:
    """Link committed unsealed entries into the chain, in `seq` order; the caller commits.
    Locking the head row serialises sealers, so the chain stays linear. With `wait=False` this
    returns None at once when another sealer holds the head."""
    conn = session.connection()
    head = conn.execute(_LOCK_HEAD if wait else _TRY_LOCK_HEAD).one_or_none()
    if head is None:
        return None
    pos, prev, mac_from = head
    seals = []
    for row in conn.execute(_PENDING.limit(limit)):
        values = {**row._mapping, "prev_hash": prev}
        pos += 1
        digest = entry_mac(values, key) if pos >= mac_from else entry_hash(values)
        seals.append({"s": row.seq, "p": pos, "ph": prev, "h": digest})
        prev = digest
    if not seals:
        return 0
    if (pg := on_postgres(session)) is not None:
        driver_execute(
            pg, _PG_SEAL, {name: _array([seal[name] for seal in seals]) for name in ("s", "p", "ph", "h")}
        )
    else:
        conn.execute(_SEAL, seals)
    conn.execute(_MOVE_HEAD, {"pos": pos, "last": prev})
    return len(seals)


def _array(values: list[Any]) -> str:
    """A PostgreSQL array literal; text elements quoted, so that whatever the head row holds stays one
    element."""
    return "{" + ",".join(str(v) if isinstance(v, int) else _quoted(v) for v in values) + "}"


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def seal_all(session: Session, key: AuditKey, batch: int = 10_000, *, wait: bool = True) -> int | None:
    """Seal everything pending; None if `wait` is False and another sealer is at work."""
    total = 0
    while True:
        sealed = seal(session, key, batch, wait=wait)
        session.commit()
        if sealed is None:
            return None
        total += sealed
        if sealed < batch:
            return total


class Sealer:
    """A background thread per process that seals soon after entries are appended, in batches,
    so requests neither wait for the chain nor pay for sealing."""

    def __init__(self, sessions: sessionmaker[Session], key: AuditKey, pause: float = 0.2) -> None:
        self._sessions, self._key, self._pause = sessions, key, pause
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
                    if (
                        seal_all(session, self._key, wait=False) is None
                    ):  # another process is sealing: look again
                        self._wake.set()
            except Exception:  # the next nudge or `verify` seals what this pass could not
                logging.getLogger("wallet").exception("audit sealing failed")
            time.sleep(self._pause)  # under load, nudges keep coming: seal in batches


def ledger_mark(session: Session) -> int:
    """The ledger's high-water mark (highest posting id): a rolled-back database is behind it."""
    return int(session.scalar(select(func.max(Posting.id))) or 0)


class AnchorConflict(AnchorError):
    """The database's chain does not extend the newest anchor: it was rewritten or rolled back."""


def anchor(session: Session, key: AuditKey, log: AnchorLog) -> Anchor | None:
    """Sign the sealed chain head and append it to the anchor log, if the chain grew since the newest
    anchor. Holding the head row keeps anchors in chain order across processes. A chain that no longer
    holds the newest anchor's head is refused (AnchorConflict), never anchored over. The caller commits."""
    conn = session.connection()
    pos, digest, mac_from = conn.execute(_LOCK_HEAD).one()
    newest = log.newest()
    if newest is not None:
        if newest.pos >= pos:
            if newest.pos > pos:
                raise AnchorConflict(
                    f"the audit chain ends at entry {pos}, behind the newest anchor's entry {newest.pos}"
                )
            return None
        at_anchor = conn.execute(select(LOG.c.hash).where(LOG.c.chain_pos == newest.pos)).scalar()
        if newest.pos > 0 and at_anchor != newest.hash:
            raise AnchorConflict(f"entry {newest.pos} no longer matches the newest anchor")
    elif pos == 0:
        return None
    signed = Anchor(pos, digest, mac_from, ledger_mark(session), Anchor.now()).signed(key)
    log.append(signed)
    return signed


@dataclass(frozen=True)
class Verdict:
    ok: bool
    entries: int
    problem: str = ""
    unsealed: int = 0
    anchor: Anchor | None = None


def verify(session: Session, key: AuditKey, log: AnchorLog | None) -> Verdict:
    """Check the sealed chain (links and each entry's MAC), the head row, and that the chain reaches the
    newest anchor. Reads only.

    On PostgreSQL the reads share one snapshot (REPEATABLE READ) when verify opens the transaction, so
    a sealer committing between reading the head and reading the chain is not taken for removed entries.
    """
    if not session.in_transaction() and session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    try:
        newest = log.newest() if log is not None else None
    except AnchorError as exc:
        return Verdict(False, 0, str(exc))
    head = session.get(AuditHead, 1)
    mac_from = head.mac_from if head is not None else 1
    if newest is not None:
        if newest.key != key.fingerprint or not newest.valid(key.public):
            return Verdict(False, 0, "the newest anchor is not signed by this audit key: forged anchor")
        if newest.mac_from != mac_from:
            return Verdict(
                False, 0, f"MAC sealing starts at entry {mac_from} but was anchored at {newest.mac_from}"
            )
    count, expected_prev, expected_pos, at_anchor = 0, GENESIS, 1, None
    for entry in _chain(session):
        pos = entry.chain_pos
        values = {f: getattr(entry, f) for f in _FIELDS}
        if pos != expected_pos:
            return Verdict(False, count, f"entry {expected_pos} is missing (next is {pos})")
        if entry.prev_hash != expected_prev:
            return Verdict(False, count, f"entry {pos} does not follow entry {pos - 1}")
        expected = entry_mac(values, key) if pos >= mac_from else entry_hash(values)
        if not hmac.compare_digest(expected, entry.hash):
            return Verdict(False, count, f"entry {pos} is forged or was altered: its MAC does not match")
        if newest is not None and pos == newest.pos:
            at_anchor = entry.hash
        expected_prev, expected_pos, count = entry.hash, expected_pos + 1, count + 1
    if newest is not None and (problem := _against_anchor(session, newest, count, at_anchor)):
        return Verdict(False, count, problem, anchor=newest)
    if head is None or head.seq != count or head.hash != expected_prev:
        return Verdict(
            False,
            count,
            f"the log ends at entry {count} but the head records entry "
            f"{head.seq if head else '?'}: entries were removed",
        )
    unsealed = session.scalar(select(func.count()).select_from(LOG).where(LOG.c.hash == literal_column("''")))
    return Verdict(True, count, unsealed=int(unsealed or 0), anchor=newest)


def _against_anchor(session: Session, newest: Anchor, count: int, at_anchor: str | None) -> str:
    when = f"the newest anchor ({newest.at}) attests {newest.pos} entries"
    if count == 0 and newest.pos > 0:
        return f"the audit log was emptied: the database has no sealed entries but {when}"
    if count < newest.pos:
        if ledger_mark(session) < newest.postings:
            return (
                f"the database was rolled back to an older copy: its chain ends at entry {count} and its "
                f"ledger is behind too, but {when}"
            )
        gone = newest.pos - count
        return f"the newest {gone} entries were deleted: the chain ends at entry {count} but {when}"
    if at_anchor != newest.hash:
        return f"the chain was rewritten: entry {newest.pos} differs from the newest anchor ({newest.at})"
    return ""


def _chain(session: Session) -> Iterator[AuditEntry]:
    yield from session.scalars(
        select(AuditEntry)
        .where(AuditEntry.chain_pos.is_not(None))
        .order_by(AuditEntry.chain_pos)
        .execution_options(yield_per=1000)
    )
