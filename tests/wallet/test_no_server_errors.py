"""Inputs that once reached the database or the parser unchecked: none may give a 500, on SQLite or
PostgreSQL (which refuses NUL in text). And identical cards stored at once: one 201, the rest 409."""
# ruff: noqa: RUF001 - look-alike digits are the point

import threading

import pytest
from sqlalchemy import func, select

from tests.wallet.conftest import MASTERCARD, VISA, api_for, rt
from wallet.db import admin_session
from wallet.models import AuditEntry, Card


@pytest.fixture()
def api(app_factory, any_db_url):
    return api_for(app_factory(any_db_url))


def test_odd_cursors_and_query_parameters(api):
    wallet = api.wallet()
    paths = ("/v1/wallets", f"/v1/wallets/{wallet['id']}/transactions")
    cursors = [
        "%%%",
        "AAAA",
        "d2FsXwA",
        "AA==",
        "wal_\x00",
        "٣",
        "x" * 5000,
        "cHN0XzE",
        "4pyTIMOgIGxhIG1vZGU",
        "",
    ]
    for path in paths:
        for cursor in cursors:
            r = api.get(path, query_string={"cursor": cursor})
            assert r.status_code in (200, 400, 422), (path, cursor, r.status_code)
        for limit in ("٣", "²", "１０", "-1", "0", "1e2", "99999999999999999999", " 5", "5\x00"):
            r = api.get(path, query_string={"limit": limit})
            assert r.status_code in (400, 422), (path, limit, r.status_code)
    r = api.get("/v1/wallets", query_string={"owner_ref": "bob\x00"})
    assert r.status_code == 400
    r = api.get("/v1/wallets", query_string={"owner_ref": "٣٣٣"})
    assert r.status_code == 200 and r.get_json()["data"] == []
    assert api.get("/v1/wallets/wal_%00").status_code == 400
    assert api.get("/v1/wallets/" + "w" * 500).status_code == 404


def test_nul_and_surrogates_in_bodies(api):
    wallet = api.wallet()
    other = api.wallet("bob")
    card = api.card()
    cases = [
        ("/v1/wallets", {"owner_ref": "a\x00b", "currency": "USD"}),
        ("/v1/wallets", {"owner_ref": "a\ud800b", "currency": "USD"}),
        ("/v1/wallets", {"owner_ref": "alice", "currency": "US\x00"}),
        ("/v1/cards", {"pan": VISA, "expiry_month": 12, "expiry_year": 2099, "holder": "A\x00"}),
        (f"/v1/wallets/{wallet['id']}/topups", {"amount": "1.00", "card_id": card["id"] + "\x00"}),
        (f"/v1/wallets/{wallet['id']}/topups", {"amount": "1.00\x00", "card_id": card["id"]}),
        (
            "/v1/transfers",
            {
                "from_wallet": wallet["id"] + "\x00",
                "to_wallet": other["id"],
                "amount": "1.00",
                "currency": "USD",
            },
        ),
        (
            "/v1/transfers",
            {"from_wallet": wallet["id"], "to_wallet": "\ud83d", "amount": "1.00", "currency": "USD"},
        ),
    ]
    for path, body in cases:
        r = api.post(path, body, headers={"Idempotency-Key": "nul-case-0001"})
        assert r.status_code in (400, 404, 422), (path, body, r.status_code)
    r = api.post("/v1/wallets", {"owner_ref": "a", "currency": "USD", VISA: 1, "x\x00": 2})
    assert r.status_code == 422 and VISA not in r.get_data(as_text=True)
    assert r.get_json()["detail"] == "unknown field(s): 2 more"


@pytest.mark.parametrize("depth", [50, 1000, 5000])
def test_deeply_nested_json(api, depth):
    body = "[" * depth + "]" * depth
    r = api.client.post(
        "/v1/wallets",
        data=body,
        content_type="application/json",
        headers=api.headers(),
        base_url="http://localhost",
    )
    assert r.status_code in (400, 422)
    nested = '{"owner_ref": ' + '{"a": ' * depth + "1" + "}" * depth + ', "currency": "USD"}'
    r = api.client.post(
        "/v1/wallets",
        data=nested,
        content_type="application/json",
        headers=api.headers(),
        base_url="http://localhost",
    )
    assert r.status_code in (400, 413, 422)


def test_concurrent_identical_cards(app_factory, any_db_url):
    app = app_factory(any_db_url)
    api = api_for(app)
    codes: list[int] = []
    ids: set[str] = set()
    gate = threading.Barrier(8)
    lock = threading.Lock()

    def store(pan: str) -> None:
        gate.wait()
        r = api.post("/v1/cards", {"pan": pan, "expiry_month": 12, "expiry_year": 2099, "holder": "Same"})
        with lock:
            codes.append(r.status_code)
            ids.add(r.get_json()["id" if r.status_code == 201 else "card_id"])

    for pan in (VISA, MASTERCARD):  # the first races on the tenant's fingerprint key too
        codes.clear()
        ids.clear()
        threads = [threading.Thread(target=store, args=(pan,)) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(codes) == [201] + [409] * 7 and len(ids) == 1
    with admin_session(rt(app).sessions) as s:
        assert s.scalar(select(func.count()).select_from(Card)) == 2
        assert s.scalar(select(func.count()).where(AuditEntry.action == "card.store")) == 2
