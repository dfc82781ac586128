"""The autocommit connections threads keep for the transfer's one statement (wallet.db.ThreadConnections)."""

import threading
import time

from sqlalchemy import text

from wallet.db import ThreadConnections, call_autocommit, make_engine, thread_connections

BACKEND = "SELECT pg_backend_pid()"


def _backend(engine) -> int:
    return int(call_autocommit(engine, BACKEND, {})[0][0])


def _in_threads(engine, count: int) -> list[int]:
    """Each of `count` threads calls once and stays alive until all have called."""
    barrier, pids = threading.Barrier(count), [0] * count

    def call(n: int) -> None:
        pids[n] = _backend(engine)
        barrier.wait(timeout=30)

    threads = [threading.Thread(target=call, args=(n,)) for n in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return pids


def _terminate(url: str, pid: int) -> None:
    """End a backend from another session, as a restart or an administrator would."""
    admin = make_engine(url)
    with admin.connect() as conn:
        assert conn.execute(text(f"SELECT pg_terminate_backend({pid}, 5000)")).scalar() is True
    admin.dispose()


def _sessions(engine, expected: int) -> int:
    """Other sessions on the database, once it has `expected` (a closed session's backend exits a
    moment after its client hangs up), or after five seconds."""
    deadline = time.monotonic() + 5
    while True:
        with engine.connect() as conn:
            count = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar()
        if count == expected or time.monotonic() > deadline:
            return int(count)
        time.sleep(0.05)


def test_a_thread_keeps_its_connection_in_autocommit(postgres_url):
    engine = make_engine(postgres_url)
    first = _backend(engine)
    assert _backend(engine) == first
    assert call_autocommit(
        engine, "SELECT current_setting('transaction_isolation'), now() = statement_timestamp()", {}
    ) == [("read committed", True)]  # no transaction held open between calls: each statement is its own
    assert engine.pool.checkedout() == 1
    engine.dispose()


def test_threads_hold_at_most_half_the_pool_and_ended_threads_give_theirs_back(postgres_url):
    engine = make_engine(postgres_url)  # pool of 20: at most 10 kept
    pids = _in_threads(engine, 12)
    assert len(set(pids)) == 12  # concurrent threads never share a connection
    assert engine.pool.checkedout() == 10  # the two beyond the limit were returned after their call
    _backend(engine)  # a new thread's first call finds the ended threads' connections
    assert engine.pool.checkedout() == 1
    engine.dispose()


def test_dispose_closes_the_kept_connections(postgres_url):
    engine = make_engine(postgres_url)
    _in_threads(engine, 4)
    observer = make_engine(postgres_url)
    assert _sessions(observer, 4) == 4
    engine.dispose()
    assert _sessions(observer, 0) == 0
    assert _backend(engine) > 0  # and the engine still works afterwards
    engine.dispose()
    observer.dispose()


def test_an_old_connection_goes_back_to_the_pool(postgres_url, monkeypatch):
    engine = make_engine(postgres_url)
    monkeypatch.setattr(ThreadConnections, "MAX_AGE", 0.0)
    _backend(engine)
    _backend(engine)
    assert engine.pool.checkedout() == 1  # the first was returned before the second was taken
    engine.dispose()


def test_a_forked_child_does_not_use_its_parents_connections(postgres_url, monkeypatch):
    engine = make_engine(postgres_url)
    parent = _backend(engine)
    monkeypatch.setattr("wallet.db.os.getpid", lambda: -1)  # as in a child after fork
    child = _backend(engine)
    assert child != parent
    assert engine.pool.checkedout() == 2  # the parent's is neither used nor handed back to the pool
    engine.dispose()


def test_a_connection_left_inside_a_transaction_is_not_kept(postgres_url):
    """As after a statement interrupted mid-flight: the next call must not inherit its state."""
    engine = make_engine(postgres_url)
    first = _backend(engine)
    with thread_connections(engine).connection() as pooled:
        pooled.driver_connection.execute("BEGIN")
    assert _backend(engine) != first
    assert engine.pool.checkedout() == 1
    engine.dispose()


def test_a_connection_the_server_ended_while_idle_is_replaced_before_use(postgres_url):
    engine = make_engine(postgres_url)
    first = _backend(engine)
    _terminate(postgres_url, first)
    assert _backend(engine) != first  # no error: the ended connection was noticed, not used
    assert engine.pool.checkedout() == 1
    engine.dispose()


def test_a_pooled_connection_the_server_ended_is_replaced_at_checkout(postgres_url):
    """A restart or failover between requests costs no failed request: the pool looks at each
    connection's socket when handing it out."""
    engine = make_engine(postgres_url)
    with engine.connect() as conn:
        first = conn.execute(text(BACKEND)).scalar()
    _terminate(postgres_url, first)
    with engine.connect() as conn:
        assert conn.execute(text(BACKEND)).scalar() != first
    engine.dispose()
