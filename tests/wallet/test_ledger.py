"""The ledger called directly: the cases the API never produces."""

import pytest
from alembic import command
from sqlalchemy import text

from tests.wallet.conftest import VISA, api_for, rt
from wallet import ledger, migrate
from wallet.db import TenantScopeError, make_engine, tenant_session
from wallet.models import Wallet


def _transfer(session, tenant_id, src, dst, key):
    body = {"from_wallet": src, "to_wallet": dst, "amount": "1.00", "currency": "USD"}
    return ledger.transfer(
        session,
        tenant_id=tenant_id,
        actor="test",
        from_wallet=src,
        to_wallet=dst,
        amount_minor=100,
        currency="USD",
        idempotency_key=key,
        digest=ledger.request_hash(body),
    )


def test_transfer_inside_an_open_transaction_commits(app_factory, any_db_url):
    """On PostgreSQL the transfer skips BEGIN/COMMIT only when no transaction is open; a session
    that has already read something still gets its transfer committed."""
    app = app_factory(any_db_url)
    api = api_for(app)
    a, b = api.wallet("a"), api.wallet("b")
    assert api.topup(a["id"], "5.00", api.card(VISA)["id"]).status_code == 201
    with tenant_session(rt(app).sessions, api.creds.tenant_id) as session:
        assert session.get(Wallet, a["id"]) is not None
        result = _transfer(session, api.creds.tenant_id, a["id"], b["id"], "ledger-key-1")
        assert not result.replayed
        again = _transfer(session, api.creds.tenant_id, a["id"], b["id"], "ledger-key-1")
        assert again.replayed and again.movement.id == result.movement.id
    assert api.get(f"/v1/wallets/{a['id']}").get_json()["balance"] == "4.00"
    assert api.get(f"/v1/wallets/{b['id']}").get_json()["balance"] == "1.00"


def test_transfer_for_another_tenant_is_refused(app_factory, any_db_url):
    app = app_factory(any_db_url)
    mine, theirs = api_for(app), api_for(app)
    a, b = theirs.wallet("a"), theirs.wallet("b")
    with (
        tenant_session(rt(app).sessions, mine.creds.tenant_id) as session,
        pytest.raises(TenantScopeError),
    ):
        _transfer(session, theirs.creds.tenant_id, a["id"], b["id"], "ledger-key-2")


def test_transfer_function_migration_downgrades(postgres_url):
    engine = make_engine(postgres_url)
    migrate.upgrade(engine)
    cfg = migrate._alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0002")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT to_regproc('wallet_transfer')")).scalar() is None
    migrate.upgrade(engine)
    assert migrate.is_current(engine)
    engine.dispose()


def test_autocommit_calls_retry_conflicts_and_convert_errors(postgres_url):
    """The transfer's one-statement transactions: serialization failures are retried, other driver
    errors arrive as SQLAlchemy's, and a connection the server ended is dropped from the pool."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    from wallet.db import call_autocommit

    engine = make_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE SEQUENCE attempts"))
        conn.execute(
            text(
                "CREATE FUNCTION conflicted() RETURNS text LANGUAGE plpgsql AS $$ BEGIN "
                "IF nextval('attempts') < 3 THEN RAISE EXCEPTION USING ERRCODE = '40001'; END IF; "
                "RETURN 'ok'; END $$"
            )
        )
    assert call_autocommit(engine, "SELECT conflicted()", {}) == [("ok",)]
    with pytest.raises(DBAPIError, match="division by zero"):
        call_autocommit(engine, "SELECT 1 / %(zero)s", {"zero": 0})
    with pytest.raises(OperationalError):
        call_autocommit(engine, "SELECT pg_terminate_backend(pg_backend_pid())", {})
    assert call_autocommit(engine, "SELECT %(x)s::int + 1", {"x": 1}) == [(2,)]  # a fresh connection
    engine.dispose()


def test_seal_arrays_keep_every_value_one_element(postgres_url):
    from wallet.audit import _array

    values = ["", 'a "quoted", {braced} value', "back\\slash", "0" * 64]
    engine = make_engine(postgres_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT CAST(:a AS text)::text[]"), {"a": _array(values)}).scalar() == values
        assert conn.execute(text("SELECT CAST(:a AS text)::bigint[]"), {"a": _array([1, 22])}).scalar() == [
            1,
            22,
        ]
    engine.dispose()
