"""Engine, sessions and the one place where tenant scoping is enforced."""

from __future__ import annotations

import os
import select
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from psycopg.pq import TransactionStatus
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker, with_loader_criteria
from sqlalchemy.pool import PoolProxiedConnection, QueuePool

from wallet.models import TenantScoped

T = TypeVar("T")
RETRIES = 8
_RETRYABLE_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock detected


class TenantScopeError(RuntimeError):
    """Tenant data was touched by a session that has no tenant."""


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    # No pre-ping, which costs a round trip per checkout: a connection the server ended while it sat in
    # the pool (a restart, a failover, an idle timeout) is found by looking at its socket instead.
    engine = create_engine(url, pool_size=20, max_overflow=10, pool_recycle=1800)
    event.listen(engine, "checkout", _refuse_hung_up)
    return engine


def _refuse_hung_up(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
    if _hung_up(dbapi_conn):  # the pool then replaces it and checks out again
        raise DisconnectionError("the server ended this connection while it was idle")


def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN IMMEDIATE, so writers queue instead of failing.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


class WalletSession(Session):
    """The wallet's sessions: the tenant-scoping hooks below apply to these and to no other Session,
    so another SQLAlchemy user in the same process (the scanner's store) is left alone."""


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, class_=WalletSession)


def tenant_session(factory: sessionmaker[Session], tenant_id: str) -> Session:
    return factory(info={"tenant_id": tenant_id})


def admin_session(factory: sessionmaker[Session]) -> Session:
    """A session that sees every tenant: for the CLI and pre-authentication lookups."""
    return factory(info={"unscoped": True})


@event.listens_for(WalletSession, "do_orm_execute")
def _scope_reads(state: ORMExecuteState) -> None:
    if (
        not (state.is_select or state.is_update or state.is_delete)
        or state.is_column_load
        or state.is_relationship_load
    ):
        return
    info = state.session.info
    if info.get("unscoped"):
        return
    tenant = info.get("tenant_id")
    if tenant is None:
        raise TenantScopeError("no tenant bound to this session")
    state.statement = state.statement.options(
        with_loader_criteria(TenantScoped, lambda cls: cls.tenant_id == tenant, include_aliases=True)
    )


@event.listens_for(WalletSession, "before_flush")
def _scope_writes(session: Session, _ctx: Any, _instances: Any) -> None:
    if session.info.get("unscoped"):
        return
    tenant = session.info.get("tenant_id")
    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        if not isinstance(obj, TenantScoped):
            continue
        if tenant is None:
            raise TenantScopeError("no tenant bound to this session")
        if obj.tenant_id is None:
            obj.tenant_id = tenant
        elif obj.tenant_id != tenant:
            raise TenantScopeError("object belongs to another tenant")


def is_retryable(exc: DBAPIError) -> bool:
    code = getattr(exc.orig, "sqlstate", None)
    return code in _RETRYABLE_SQLSTATES or "database is locked" in str(exc.orig)


def run_in_transaction(session: Session, work: Callable[[Session], T]) -> T:
    """Run `work` in one transaction; retry serialization failures and deadlocks a bounded number of times."""
    for attempt in range(RETRIES):
        try:
            result = work(session)
            session.commit()
            return result
        except DBAPIError as exc:
            session.rollback()
            if not is_retryable(exc) or attempt == RETRIES - 1:
                raise
            time.sleep(0.005 * 2**attempt)
        except BaseException:
            session.rollback()
            raise
    raise AssertionError("unreachable")  # pragma: no cover


def on_postgres(session: Session) -> Connection | None:
    """The session's connection when it is to PostgreSQL, else None."""
    conn = session.connection()
    return conn if conn.dialect.name == "postgresql" else None


class ThreadConnections:
    """Autocommit driver connections for `call_autocommit`, one kept by each thread that uses it.

    Checking a connection out of the pool, switching it to autocommit and back, and the pool's reset
    when it is returned cost about as much CPU as the transfer's one statement (measured in-process:
    a transfer used 10-17% less CPU with the connection kept). A thread gives its connection back when
    it breaks, after MAX_AGE (so the pool's recycling still applies), and when the thread has ended
    (found at the next thread's first call). At most half the pool is held this way; beyond that a call
    checks a connection out for itself. `engine.dispose()` closes them all."""

    MAX_AGE = 300.0

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.RLock()
        self._limit = engine.pool.size() // 2 if isinstance(engine.pool, QueuePool) else 0
        self._inherited: list[Any] = []
        self._reset()
        event.listen(engine, "engine_disposed", lambda _engine: self.close())

    def _reset(self) -> None:
        # A forked child keeps references to its parent's connections without using them: were they
        # garbage-collected, the pool would roll back and reuse sockets the parent still talks on.
        self._inherited.extend(getattr(self, "_held", {}).values())
        self._pid = os.getpid()
        self._local = threading.local()
        self._held: dict[int, tuple[threading.Thread, PoolProxiedConnection]] = {}

    @contextmanager
    def connection(self) -> Iterator[PoolProxiedConnection]:
        """This thread's connection, in autocommit."""
        pooled = self._mine() or self._take()
        try:
            yield pooled
        finally:
            driver = pooled.driver_connection
            if driver.closed or driver.info.transaction_status != TransactionStatus.IDLE:  # type: ignore[union-attr]
                self._give_back(pooled, broken=True)  # gone, or left mid-statement by an interruption
            elif id(pooled) not in self._held:
                self._give_back(pooled)

    def _mine(self) -> PoolProxiedConnection | None:
        if self._pid != os.getpid():  # a forked child: the parent's connections are not ours to use
            with self._lock:
                self._reset()
        mine = getattr(self._local, "held", None)
        if mine is None:
            return None
        pooled, since = mine
        if _hung_up(pooled.driver_connection):
            self._give_back(pooled, broken=True)
        elif time.monotonic() - since < self.MAX_AGE:
            return pooled  # type: ignore[no-any-return]
        else:
            self._give_back(pooled)
        return None

    def _take(self) -> PoolProxiedConnection:
        with self._lock:  # rare (a thread's first call): connecting under the lock keeps the count exact
            for thread, pooled in list(self._held.values()):
                if not thread.is_alive():
                    self._give_back(pooled, broken=True)  # its thread may have ended mid-statement
            pooled = self._engine.raw_connection()
            pooled.driver_connection.autocommit = True  # type: ignore[union-attr]
            if len(self._held) < self._limit:
                self._held[id(pooled)] = (threading.current_thread(), pooled)
                self._local.held = (pooled, time.monotonic())
        return pooled

    def _give_back(self, pooled: PoolProxiedConnection, *, broken: bool = False) -> None:
        with self._lock:
            self._held.pop(id(pooled), None)
        if getattr(self._local, "held", (None,))[0] is pooled:
            del self._local.held
        if broken:
            pooled.invalidate()
        else:
            pooled.driver_connection.autocommit = False  # type: ignore[union-attr]
        pooled.close()

    def close(self) -> None:
        for _thread, pooled in list(self._held.values()):
            self._give_back(pooled, broken=True)


def _hung_up(driver: Any) -> bool:
    """Whether the server has spoken on an idle connection, which it does only to end it (a restart,
    pg_terminate_backend, an idle timeout; the wallet never LISTENs): one poll of the socket, no round
    trip, so a connection ended while it was idle costs no failed request."""
    if driver.closed:
        return True
    poller = select.poll()
    poller.register(driver.fileno(), select.POLLIN)
    return bool(poller.poll(0))


_THREAD_CONNECTIONS: weakref.WeakKeyDictionary[Engine, ThreadConnections] = weakref.WeakKeyDictionary()
_THREAD_CONNECTIONS_LOCK = threading.Lock()


def thread_connections(engine: Engine) -> ThreadConnections:
    if (held := _THREAD_CONNECTIONS.get(engine)) is None:
        with _THREAD_CONNECTIONS_LOCK:
            if (held := _THREAD_CONNECTIONS.get(engine)) is None:
                held = _THREAD_CONNECTIONS[engine] = ThreadConnections(engine)
    return held


def call_autocommit(engine: Engine, sql: str, params: dict[str, Any]) -> list[Any]:
    """Run one row-returning statement that is a whole transaction by itself (a PL/pgSQL function
    call) in autocommit on the thread's own connection (`ThreadConnections`): no BEGIN and COMMIT
    round trips, and none of the Session's per-transaction bookkeeping, which on the transfer path
    costs more CPU than the statement.
    Serialization failures and deadlocks are retried as in `run_in_transaction`."""
    import psycopg

    connections = thread_connections(engine)
    for attempt in range(RETRIES):
        try:
            with connections.connection() as pooled, pooled.driver_connection.cursor() as cursor:  # type: ignore[union-attr]
                cursor.execute(sql, params)
                return cursor.fetchall()
        except psycopg.Error as exc:
            error = DBAPIError.instance(sql, params, exc, psycopg.Error)
            if not is_retryable(error) or attempt == RETRIES - 1:
                raise error from exc
        time.sleep(0.005 * 2**attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def driver_execute(
    conn: Connection, sql: str, params: dict[str, Any], *, autocommit: bool = False
) -> list[Any]:
    """Execute straight on the psycopg connection under `conn`, for hot paths where SQLAlchemy's
    per-statement work costs more CPU than the statement. Driver errors become SQLAlchemy's, so
    retries and integrity checks treat them like every other statement's. With `autocommit`, a
    statement that is the whole transaction runs without BEGIN and COMMIT round trips, unless the
    connection is already inside a transaction."""
    import psycopg

    driver = conn.connection.driver_connection
    if autocommit and driver.info.transaction_status == TransactionStatus.IDLE:  # type: ignore[union-attr]
        driver.autocommit = True  # type: ignore[union-attr]
        try:
            return driver_execute(conn, sql, params)
        finally:
            if not driver.closed:  # type: ignore[union-attr]
                driver.autocommit = False  # type: ignore[union-attr]
    try:
        with driver.cursor() as cursor:  # type: ignore[union-attr]
            cursor.execute(sql, params)
            return cursor.fetchall() if cursor.description else []
    except psycopg.Error as exc:
        if driver.closed:  # type: ignore[union-attr]
            conn.invalidate()
        raise DBAPIError.instance(sql, params, exc, psycopg.Error) from exc
