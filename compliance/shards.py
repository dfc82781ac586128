"""A scan split into shards that run anywhere and meet only in the store.

The store is the one coordinator. A plan records the scan and one row per shard (an account, or an
account's region). Each attempt at a shard raises the shard's attempt number as it starts, and
commits its whole result with one UPDATE that names the attempt it started as: an attempt that was
overtaken by a newer one changes nothing (it is fenced), and a retried shard replaces, in one
statement, whatever an earlier attempt wrote. Finishing is claimed by moving the plan from
`planned` to `finishing` in one UPDATE, so it happens once however many shards end together.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, null, select, update
from sqlalchemy.orm import Session, defer

from compliance.collect.record import utcnow
from compliance.errors import UsageError
from compliance.store import PlanRow, ShardRow, Store

PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"
PLANNED, FINISHING, FINISHED = "planned", "finishing", "finished"


@dataclass(frozen=True)
class Unit:
    account: str
    name: str
    region: str | None = None
    """None: the whole account; 'global': its global services only; else that region only."""


@dataclass(frozen=True)
class Plan:
    scan_id: str
    created_at: str
    target: str
    request: dict[str, Any]
    output: dict[str, Any]
    scope: dict[str, Any]
    listing: dict[str, Any]
    state: str


@dataclass(frozen=True)
class Shard:
    index: int
    unit: Unit
    state: str
    attempt: int
    started_at: str | None
    finished_at: str | None
    reason: str | None
    result: dict[str, Any] | None


def create(store: Store, scan_id: str, target: str, units: Iterable[Unit], *, request: dict[str, Any],
           output: dict[str, Any], scope: dict[str, Any], listing: dict[str, Any]) -> int:
    units = list(units)
    with store.session() as db, db.begin():
        db.add(PlanRow(scan_id=scan_id, created_at=utcnow(), target=target, request=request, output=output,
                       scope=scope, listing=listing, state=PLANNED, finished_at=None))
        db.flush()
        db.add_all(ShardRow(scan_id=scan_id, idx=i, account=u.account, name=u.name, region=u.region,
                            state=PENDING, attempt=0) for i, u in enumerate(units))
    return len(units)


def plan(store: Store, scan_id: str) -> Plan:
    with store.session() as db:
        row = db.get(PlanRow, scan_id)
        if row is None:
            raise UsageError(f"no planned scan {scan_id} in the store {store.url}")
        return Plan(row.scan_id, row.created_at, row.target, row.request, row.output, row.scope, row.listing,
                    row.state)


def shards(store: Store, scan_id: str, *, results: bool = True) -> list[Shard]:
    """Every shard of the scan; without `results`, their committed results are left in the store
    (`result` is None): read them one at a time with `result()`, they hold each shard's evidence."""
    query = select(ShardRow).where(ShardRow.scan_id == scan_id).order_by(ShardRow.idx)
    if not results:
        query = query.options(defer(ShardRow.result))
    with store.session() as db:
        return [_shard(r, results) for r in db.scalars(query)]


def result(store: Store, scan_id: str, index: int, reader: Session | None = None) -> dict[str, Any] | None:
    """One shard's committed result, read through `reader` when given (see Scan.full_evidence)."""
    query = select(ShardRow.result).where(ShardRow.scan_id == scan_id, ShardRow.idx == index)
    if reader is not None:
        return reader.scalar(query)
    with store.session() as db:
        return db.scalar(query)


def _shard(row: ShardRow, results: bool = True) -> Shard:
    return Shard(row.idx, Unit(row.account, row.name, row.region), row.state, row.attempt, row.started_at,
                 row.finished_at, row.reason, row.result if results else None)


def start(store: Store, scan_id: str, index: int) -> tuple[Shard, int]:
    """Begin a new attempt at a shard: its number fences every earlier attempt still running."""
    with store.session() as db, db.begin():
        changed = db.execute(
            update(ShardRow).where(ShardRow.scan_id == scan_id, ShardRow.idx == index)
            .values(attempt=ShardRow.attempt + 1, state=RUNNING, started_at=utcnow(), finished_at=None,
                    reason=None)
        ).rowcount
        if not changed:
            count = db.scalar(select(func.count()).select_from(ShardRow).where(ShardRow.scan_id == scan_id))
            raise UsageError(f"scan {scan_id} has no shard {index} (it has {count or 0}: 0 to "
                             f"{(count or 1) - 1})")
        row = db.get(ShardRow, (scan_id, index))
        assert row is not None
        return _shard(row, False), row.attempt


def commit(store: Store, scan_id: str, index: int, attempt: int, result: dict[str, Any]) -> bool:
    """Replace the shard's result with this attempt's, unless a newer attempt has started."""
    with store.session() as db, db.begin():
        changed = db.execute(
            update(ShardRow).where(ShardRow.scan_id == scan_id, ShardRow.idx == index,
                                   ShardRow.attempt == attempt)
            .values(state=DONE, finished_at=utcnow(), result=result, reason=None)
        ).rowcount
    return bool(changed)


def fail(store: Store, scan_id: str, index: int, attempt: int | None, reason: str) -> bool:
    """Mark a shard failed (its attempt, or whatever attempt it is at when attempt is None)."""
    condition = [ShardRow.scan_id == scan_id, ShardRow.idx == index, ShardRow.state != DONE]
    if attempt is not None:
        condition.append(ShardRow.attempt == attempt)
    with store.session() as db, db.begin():
        changed = db.execute(update(ShardRow).where(*condition)
                             .values(state=FAILED, finished_at=utcnow(), reason=reason[:2000])).rowcount
    return bool(changed)


def all_done(store: Store, scan_id: str) -> bool:
    with store.session() as db:
        open_ = db.scalar(select(func.count()).select_from(ShardRow)
                          .where(ShardRow.scan_id == scan_id, ShardRow.state != DONE))
    return not open_


def claim_finish(store: Store, scan_id: str, *, again: bool = False) -> bool:
    """Take the right to finish the scan; `again` also takes it from a finishing step that died."""
    states = (PLANNED, FINISHING) if again else (PLANNED,)
    with store.session() as db, db.begin():
        changed = db.execute(update(PlanRow).where(PlanRow.scan_id == scan_id, PlanRow.state.in_(states))
                             .values(state=FINISHING)).rowcount
    return bool(changed)


def finished(store: Store, scan_id: str) -> None:
    """Mark the scan finished and drop the shards' results: the scan's own rows now hold their
    evidence and findings, which would otherwise be stored twice (states and attempts stay for
    `comply scan status`)."""
    with store.session() as db, db.begin():
        db.execute(update(PlanRow).where(PlanRow.scan_id == scan_id)
                   .values(state=FINISHED, finished_at=utcnow()))
        db.execute(update(ShardRow).where(ShardRow.scan_id == scan_id).values(result=null()))
