"""Every endpoint given another tenant's ids answers 404, on SQLite and PostgreSQL."""

from sqlalchemy import select

from tests.wallet.conftest import MASTERCARD, api_for, rt
from wallet.db import TenantScopeError, tenant_session
from wallet.models import Card, Wallet


def test_cross_tenant_ids_are_not_found(app_factory, any_db_url):
    app = app_factory(any_db_url)
    alice, mallory = api_for(app), api_for(app)
    wallet = alice.wallet("alice")
    card = alice.card(MASTERCARD)
    assert alice.topup(wallet["id"], "50.00", card["id"]).status_code == 201
    other = alice.wallet("alice-2")
    own = mallory.wallet("mallory")
    own_card = mallory.card()
    attempts = {
        "read wallet": mallory.get(f"/v1/wallets/{wallet['id']}"),
        "transactions": mallory.get(f"/v1/wallets/{wallet['id']}/transactions"),
        "top up their wallet": mallory.topup(wallet["id"], "1.00", own_card["id"]),
        "top up with their card": mallory.topup(own["id"], "1.00", card["id"]),
        "transfer from them": mallory.transfer(wallet["id"], own["id"], "1.00", "steal-000001"),
        "transfer to them": mallory.transfer(own["id"], wallet["id"], "1.00", "gift-0000001"),
        "transfer between theirs": mallory.transfer(wallet["id"], other["id"], "1.00", "move-0000001"),
    }
    for name, response in attempts.items():
        assert response.status_code == 404, name
        assert response.mimetype == "application/problem+json", name
    listing = mallory.get("/v1/wallets", query_string={"owner_ref": "alice"}).get_json()
    assert listing["data"] == []
    assert alice.get(f"/v1/wallets/{wallet['id']}").get_json()["balance"] == "50.00"
    # the same idempotency key in two tenants names two different transfers
    bob = alice.wallet("bob")
    assert alice.transfer(wallet["id"], bob["id"], "1.00", "shared-key-1").status_code == 201
    funded = mallory.wallet("m2")
    assert mallory.topup(own["id"], "5.00", own_card["id"]).status_code == 201
    assert mallory.transfer(own["id"], funded["id"], "1.00", "shared-key-1").status_code == 201


def test_scoping_is_enforced_by_the_session(app):
    alice, mallory = api_for(app), api_for(app)
    wallet = alice.wallet()
    alice.card()
    sessions = rt(app).sessions
    with tenant_session(sessions, mallory.creds.tenant_id) as s:
        assert s.get(Wallet, wallet["id"]) is None
        assert s.scalars(select(Wallet)).all() == [] and s.scalars(select(Card)).all() == []
    with tenant_session(sessions, alice.creds.tenant_id) as s:
        row = s.get(Wallet, wallet["id"])
        assert row is not None
    with tenant_session(sessions, mallory.creds.tenant_id) as s:
        s.add(row)  # an object of another tenant cannot be written through this session
        row.owner_ref = "stolen"
        try:
            s.flush()
        except TenantScopeError:
            s.rollback()
        else:
            raise AssertionError("cross-tenant write was not refused")
    unbound = sessions()
    try:
        unbound.scalars(select(Wallet)).all()
    except TenantScopeError:
        pass
    else:
        raise AssertionError("a session without a tenant read tenant data")
    finally:
        unbound.close()
    with sessions() as s:
        s.add(Wallet(owner_ref="x", currency="USD", kind="customer", balance_minor=0))
        try:
            s.flush()
        except TenantScopeError:
            pass
        else:
            raise AssertionError("a session without a tenant wrote tenant data")
