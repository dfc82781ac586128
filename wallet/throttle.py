"""Failed-authentication throttling for /oauth/token, shared by every server process through the
database (PCI DSS 8.3.4: lock out after no more than ten invalid attempts, for at least 30 minutes).

Each attempt is charged *before* the secret is checked: the key's counter is raised in a short
transaction of its own, and an attempt that would go past the limit is refused (429) and starts the
lockout without the secret being looked at. A success then gives the attempt back. So however many
attempts arrive at once, from however many processes, no more than the limit are ever checked."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from wallet.db import run_in_transaction
from wallet.models import AuthThrottle, utcnow

_TABLE = AuthThrottle.__table__


@dataclass(frozen=True)
class Policy:
    max_failures: int
    lockout: timedelta


class LockedOut(Exception):
    def __init__(self, key: str, retry_after: int) -> None:
        super().__init__(f"{key} is locked out")
        self.key, self.retry_after = key, retry_after


def _ensure_row(session: Session, key: str, now: datetime) -> None:
    dialect = session.connection().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(_TABLE).values(key=key, failures=0, window_start=now, locked_until=None)
    session.connection().execute(statement.on_conflict_do_nothing(index_elements=["key"]))


def _charge_one(session: Session, key: str, policy: Policy, now: datetime) -> int:
    """Count one attempt for `key`; the seconds to wait if it is (now) locked out, else 0."""
    _ensure_row(session, key, now)
    row = session.connection().execute(select(_TABLE).where(_TABLE.c.key == key).with_for_update()).one()
    locked_until, window_start = row.locked_until, row.window_start
    if locked_until is not None and locked_until.tzinfo is None:  # SQLite hands back naive values
        locked_until = locked_until.replace(tzinfo=now.tzinfo)
    if window_start.tzinfo is None:
        window_start = window_start.replace(tzinfo=now.tzinfo)
    if locked_until is not None and locked_until > now:
        return max(1, math.ceil((locked_until - now).total_seconds()))
    fresh = locked_until is not None or now - window_start >= policy.lockout
    failures = 1 if fresh else row.failures + 1
    values = {"failures": failures, "window_start": now if fresh else window_start, "locked_until": None}
    if failures > policy.max_failures:
        values["locked_until"] = now + policy.lockout
    session.connection().execute(update(_TABLE).where(_TABLE.c.key == key).values(**values))
    return math.ceil(policy.lockout.total_seconds()) if values["locked_until"] is not None else 0


def charge(session: Session, keys: list[str], policy: Policy) -> None:
    """Count an attempt against every key (client id, source address); raise LockedOut for the first
    key that is locked out. Commits on its own: the count must stand even if the request dies."""
    now = utcnow()

    def work(s: Session) -> tuple[str, int] | None:
        for key in sorted(keys):  # a fixed order, so two attempts never wait on each other's rows
            if wait := _charge_one(s, key, policy, now):
                return key, wait
        return None

    if (locked := run_in_transaction(session, work)) is not None:
        raise LockedOut(*locked)


def succeeded(session: Session, client_key: str, other_keys: list[str]) -> None:
    """A good secret: the client id's failures are forgiven; the other keys (the address) get this
    attempt back but keep their earlier failures, so one valid client cannot clear an address."""

    def work(s: Session) -> None:
        s.connection().execute(
            update(_TABLE).where(_TABLE.c.key == client_key).values(failures=0, locked_until=None)
        )
        for key in other_keys:
            s.connection().execute(
                update(_TABLE)
                .where(_TABLE.c.key == key, _TABLE.c.failures > 0)
                .values(failures=_TABLE.c.failures - 1)
            )

    run_in_transaction(session, work)
