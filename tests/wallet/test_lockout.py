"""Failed client authentications: throttled per client id and per address in the database (so across
server processes), locked out with 429 and Retry-After, and every refusal written to the audit log."""

import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.wallet.conftest import VISA, Api, api_for, basic, new_tenant, rt
from wallet import throttle
from wallet.db import admin_session
from wallet.models import AuditEntry, AuthThrottle


def _token(client, client_id, secret, addr="10.0.0.1"):
    return client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers=basic(client_id, secret),
        environ_base={"REMOTE_ADDR": addr},
    )


def _failures(app, action):
    with admin_session(rt(app).sessions) as s:
        rows = s.scalars(
            select(AuditEntry).where(AuditEntry.action == action, AuditEntry.outcome == "failure")
        )
        return [(r.actor, json.loads(r.detail)) for r in rows]


def test_client_locked_after_max_failures(any_db_url, app_factory):
    app = app_factory(any_db_url, auth_max_failures=3, auth_lockout_seconds=600)
    creds = new_tenant(app)
    client = app.test_client()
    codes = [_token(client, creds.client_id, "wrong", addr=f"10.0.1.{i}").status_code for i in range(3)]
    assert codes == [401, 401, 401]
    r = _token(client, creds.client_id, "wrong", addr="10.0.1.9")
    assert r.status_code == 429 and 590 <= int(r.headers["Retry-After"]) <= 600
    assert r.mimetype == "application/problem+json" and r.headers["X-Content-Type-Options"] == "nosniff"
    # locked: even the right secret, from a fresh address, is refused until the period ends
    r = _token(client, creds.client_id, creds.client_secret, addr="10.0.2.1")
    assert r.status_code == 429
    reasons = [detail["reason"] for actor, detail in _failures(app, "auth.token") if actor == creds.client_id]
    assert reasons.count("bad credentials") == 3 and reasons.count("locked out (client)") == 2
    with admin_session(rt(app).sessions) as s:
        row = s.get(AuthThrottle, f"client:{creds.client_id}")
        row.locked_until = row.locked_until - timedelta(seconds=601)  # the period passes
        s.commit()
    assert _token(client, creds.client_id, creds.client_secret, addr="10.0.2.1").status_code == 200


def test_address_locked_across_client_ids(app_factory, sqlite_url):
    app = app_factory(sqlite_url, auth_max_failures=4)
    client = app.test_client()
    codes = [_token(client, f"cli_guess{i}", "x", addr="10.9.9.9").status_code for i in range(5)]
    assert codes == [401, 401, 401, 401, 429]
    other = new_tenant(app)
    assert _token(client, other.client_id, other.client_secret, addr="10.9.9.9").status_code == 429
    assert _token(client, other.client_id, other.client_secret, addr="10.9.9.8").status_code == 200


def test_success_resets_the_client_count_only(app_factory, sqlite_url):
    app = app_factory(sqlite_url, auth_max_failures=3)
    creds = new_tenant(app)
    client = app.test_client()
    for _ in range(3):  # two failures then a success, over and over: the client is never locked
        assert _token(client, creds.client_id, "bad", addr="10.1.0.1").status_code == 401
        assert _token(client, creds.client_id, "bad", addr="10.1.0.2").status_code == 401
        assert _token(client, creds.client_id, creds.client_secret, addr="10.1.0.3").status_code == 200
    with admin_session(rt(app).sessions) as s:
        assert s.get(AuthThrottle, f"client:{creds.client_id}").failures == 0
        assert s.get(AuthThrottle, "addr:10.1.0.1").failures == 3  # an address keeps its own count
        assert s.get(AuthThrottle, "addr:10.1.0.3").failures == 0
    assert _token(client, creds.client_id, "bad", addr="10.1.0.1").status_code == 429


def test_concurrent_guessing_is_bounded(any_db_url, app_factory):
    """However many attempts arrive at once, no more than the limit get their secret checked."""
    app = app_factory(any_db_url, auth_max_failures=5)
    creds = new_tenant(app)
    codes: list[int] = []
    lock = threading.Lock()

    def guess(i: int) -> None:
        code = _token(app.test_client(), creds.client_id, f"guess-{i}", addr=f"10.2.{i}.1").status_code
        with lock:
            codes.append(code)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes.count(401) == 5 and codes.count(429) == 11


def test_missing_and_odd_credentials_are_audited_and_counted(app_factory, sqlite_url):
    app = app_factory(sqlite_url, auth_max_failures=2)
    client = app.test_client()
    env = {"REMOTE_ADDR": "10.3.0.1"}
    r = client.post("/oauth/token", data={"grant_type": "client_credentials"}, environ_base=env)
    assert r.status_code == 401
    r = _token(client, VISA, "secret", addr="10.3.0.1")  # a card number as the client id
    assert r.status_code == 401 and VISA not in r.get_data(as_text=True)
    assert _token(client, "cli_x", "y", addr="10.3.0.1").status_code == 429
    failures = _failures(app, "auth.token")
    assert [d["reason"] for _, d in failures] == [
        "missing credentials",
        "bad credentials",
        "locked out (addr)",
    ]
    assert all(actor in ("unknown", "cli_x") for actor, _ in failures)
    with admin_session(rt(app).sessions) as s:
        keys = set(s.scalars(select(AuthThrottle.key)))
        assert not any(VISA in k for k in keys)


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing credentials"),
        ({"Authorization": "Basic Zm9vOmJhcg=="}, "missing credentials"),
        ({"Authorization": "Bearer not.a.jwt"}, "malformed access token"),
    ],
)
def test_rejected_bearer_tokens_are_audited(app, headers, reason):
    r = app.test_client().get("/v1/wallets", headers=headers, environ_base={"REMOTE_ADDR": "10.4.0.1"})
    assert r.status_code == 401
    [(actor, detail)] = _failures(app, "auth.bearer")
    assert actor == "unknown" and detail["reason"] == reason and detail["address"] == "10.4.0.1"


def test_token_on_another_tenants_domain_is_audited(app):
    api_for(app, domain="pay.gamma.test")
    b = api_for(app, domain="pay.delta.test")
    b.host = "pay.gamma.test."
    assert b.get("/v1/wallets").status_code == 401
    [(actor, detail)] = _failures(app, "auth.bearer")
    assert actor == b.creds.client_id and detail["reason"] == "token used on another tenant's domain"


def test_lockout_policy_unit(app):
    policy = throttle.Policy(max_failures=2, lockout=timedelta(seconds=60))
    with admin_session(rt(app).sessions) as s:
        throttle.charge(s, ["k:a"], policy)
        throttle.charge(s, ["k:a"], policy)
        with pytest.raises(throttle.LockedOut) as locked:
            throttle.charge(s, ["k:a"], policy)
        assert locked.value.key == "k:a" and locked.value.retry_after == 60


def test_posting_ids_are_opaque_and_cursors_work(any_db_url, app_factory):
    app = app_factory(any_db_url)
    api: Api = api_for(app)
    a, b = api.wallet("a"), api.wallet("b")
    card = api.card()
    assert api.topup(a["id"], "50.00", card["id"]).status_code == 201
    for i in range(5):
        assert api.transfer(a["id"], b["id"], "1.00", f"opaque-{i:04d}").status_code == 201
    ids, cursor = [], None
    while True:
        q = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = api.get(f"/v1/wallets/{a['id']}/transactions", query_string=q).get_json()
        ids += [p["id"] for p in page["data"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert len(ids) == 6 == len(set(ids))
    assert all(i.startswith("pst_") and len(i) == 36 for i in ids)
    transfer = api.transfer(a["id"], b["id"], "1.00", "opaque-last").get_json()
    assert not transfer["id"].removeprefix("tr_").isdigit()
    # another wallet's posting id is not a cursor here
    other = api.get(f"/v1/wallets/{b['id']}/transactions").get_json()["data"][0]["id"]
    r = api.get(f"/v1/wallets/{a['id']}/transactions", query_string={"cursor": other})
    assert r.status_code == 422


def test_ids_never_hold_a_card_number(monkeypatch):
    """A client id is hex; one holding a Luhn-valid digit run read as a card number and could not get a
    token. Ids are redrawn until they hold no 13-digit run."""
    from wallet import models
    from wallet.api.oauth import safe_actor

    pan_like = "4111111111111111" + "ab0c1d2e"
    assert safe_actor(f"cli_{pan_like}") is None  # what such an id met at /oauth/token
    draws = iter([pan_like, "0123456789abcdef01234567"])
    monkeypatch.setattr(models.secrets, "token_hex", lambda n: next(draws))
    redrawn = models.new_id("cli")
    assert redrawn == "cli_0123456789abcdef01234567" and safe_actor(redrawn) == redrawn
