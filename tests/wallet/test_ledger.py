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
