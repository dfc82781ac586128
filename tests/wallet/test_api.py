import pytest

from tests.wallet.conftest import AMEX, api_for, rt
from wallet.acquirer import Charge, TestAcquirer, make_acquirer
from wallet.guards import SECURITY_HEADERS
from wallet.openapi import document


def funded(api, amount="100.00", owner="alice", currency="USD"):
    wallet = api.wallet(owner, currency)
    card = api.card()
    assert api.topup(wallet["id"], amount, card["id"]).status_code == 201
    return wallet, card


def test_wallet_lifecycle(app):
    api = api_for(app)
    w = api.wallet("alice", "JPY")
    assert w["balance"] == "0" and w["currency"] == "JPY" and w["id"].startswith("wal_")
    assert api.get(f"/v1/wallets/{w['id']}").get_json() == w
    assert api.get("/v1/wallets/wal_missing").status_code == 404


def test_wallet_list_pagination(app):
    api = api_for(app)
    ids = {api.wallet("bob")["id"] for _ in range(5)}
    api.wallet("carol")
    seen, cursor = [], None
    while True:
        query = {"owner_ref": "bob", "limit": "2", **({"cursor": cursor} if cursor else {})}
        page = api.get("/v1/wallets", query_string=query).get_json()
        seen += [w["id"] for w in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 5 and set(seen) == ids
    assert len(api.get("/v1/wallets").get_json()["data"]) == 6
    assert api.get("/v1/wallets", query_string={"limit": "0"}).status_code == 422
    assert api.get("/v1/wallets", query_string={"cursor": "%%%"}).status_code == 422


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"owner_ref": "a", "currency": "usd"}, 422),
        ({"owner_ref": "a"}, 422),
        ({"owner_ref": 5, "currency": "USD"}, 422),
        ({"owner_ref": "a", "currency": "USD", "balance": "9.00"}, 422),
        ([1, 2], 422),
        ({"owner_ref": " ", "currency": "USD"}, 422),
    ],
)
def test_wallet_validation(app, body, status):
    api = api_for(app)
    r = api.post("/v1/wallets", body)
    assert r.status_code == status and r.mimetype == "application/problem+json"
    assert set(r.get_json()) >= {"type", "title", "status", "detail"}


def test_malformed_bodies(app):
    api = api_for(app)
    r = api.client.post(
        "/v1/wallets", data="{not json", headers=api.headers({"Content-Type": "application/json"})
    )
    assert r.status_code == 400
    r = api.client.post(
        "/v1/wallets",
        data="owner_ref=a",
        headers=api.headers({"Content-Type": "application/x-www-form-urlencoded"}),
    )
    assert r.status_code == 415
    r = api.client.post(
        "/v1/wallets", data="x" * 20000, headers=api.headers({"Content-Type": "application/json"})
    )
    assert r.status_code == 413 and r.mimetype == "application/problem+json"


def test_topups(app):
    api = api_for(app)
    wallet, card = funded(api, "25.50")
    assert api.get(f"/v1/wallets/{wallet['id']}").get_json()["balance"] == "25.50"
    declined = api.card("4000000000000002")
    r = api.topup(wallet["id"], "1.00", declined["id"])
    assert r.status_code == 402 and "declined" in r.get_json()["detail"]
    assert api.topup(wallet["id"], "200000.00", card["id"]).status_code == 402
    assert api.topup(wallet["id"], "1.00", "card_missing").status_code == 404
    assert api.topup(wallet["id"], "1.001", card["id"]).status_code == 422
    assert api.topup("wal_missing", "1.00", card["id"]).status_code == 404
    replay = {"Idempotency-Key": "topup-000001"}
    first = api.post(
        f"/v1/wallets/{wallet['id']}/topups", {"amount": "2.00", "card_id": card["id"]}, headers=replay
    )
    again = api.post(
        f"/v1/wallets/{wallet['id']}/topups", {"amount": "2.00", "card_id": card["id"]}, headers=replay
    )
    assert first.get_json() == again.get_json() and again.headers["Idempotent-Replayed"] == "true"
    other = api.post(
        f"/v1/wallets/{wallet['id']}/topups", {"amount": "3.00", "card_id": card["id"]}, headers=replay
    )
    assert other.status_code == 409
    assert api.get(f"/v1/wallets/{wallet['id']}").get_json()["balance"] == "27.50"


def test_transfers(app):
    api = api_for(app)
    a, _ = funded(api, "10.00")
    b = api.wallet("bob")
    r = api.transfer(a["id"], b["id"], "4.00", "tr-key-0001")
    assert r.status_code == 201 and r.headers["Idempotent-Replayed"] == "false"
    body = r.get_json()
    assert body["status"] == "completed" and body["amount"] == "4.00" and body["id"].startswith("tr_")
    again = api.transfer(a["id"], b["id"], "4.00", "tr-key-0001")
    assert (
        again.status_code == 201
        and again.get_json() == body
        and again.headers["Idempotent-Replayed"] == "true"
    )
    assert api.transfer(a["id"], b["id"], "5.00", "tr-key-0001").status_code == 409
    assert api.transfer(a["id"], b["id"], "6.01", "tr-key-0002").get_json()["detail"] == "insufficient funds"
    assert api.transfer(a["id"], a["id"], "1.00", "tr-key-0003").status_code == 422
    assert api.transfer(a["id"], "wal_missing", "1.00", "tr-key-0004").status_code == 404
    eur = api.wallet("eve", "EUR")
    assert api.transfer(a["id"], eur["id"], "1.00", "tr-key-0005").status_code == 422
    assert api.transfer(a["id"], b["id"], "1.00", "tr-key-0006", currency="EUR").status_code == 422
    assert api.transfer(a["id"], b["id"], "1.00", "tr-key-0007", currency="ABC").status_code == 422
    no_key = api.post(
        "/v1/transfers", {"from_wallet": a["id"], "to_wallet": b["id"], "amount": "1.00", "currency": "USD"}
    )
    assert no_key.status_code == 400 and "Idempotency-Key" in no_key.get_json()["detail"]
    assert api.get(f"/v1/wallets/{a['id']}").get_json()["balance"] == "6.00"
    assert api.get(f"/v1/wallets/{b['id']}").get_json()["balance"] == "4.00"


def test_settlement_wallets_are_not_customer_wallets(app):
    from wallet.ledger import settlement_id

    api = api_for(app)
    a, _ = funded(api, "10.00")
    settlement = settlement_id(api.creds.tenant_id, "USD")
    assert api.get(f"/v1/wallets/{settlement}").status_code == 404
    assert api.transfer(settlement, a["id"], "1.00", "drain-000001").status_code == 404
    assert all(w["id"] != settlement for w in api.get("/v1/wallets").get_json()["data"])


def test_transactions_pagination(app):
    api = api_for(app)
    a, _ = funded(api, "10.00")
    b = api.wallet("bob")
    for i in range(4):
        assert api.transfer(a["id"], b["id"], "1.00", f"tx-page-{i:04}").status_code == 201
    pages, cursor = [], None
    while True:
        q = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = api.get(f"/v1/wallets/{a['id']}/transactions", query_string=q).get_json()
        pages.append(page["data"])
        if (cursor := page["next_cursor"]) is None:
            break
    rows = [row for page in pages for row in page]
    assert [r["balance_after"] for r in rows] == ["6.00", "7.00", "8.00", "9.00", "10.00"]
    assert [r["kind"] for r in rows] == ["transfer"] * 4 + ["topup"]
    assert rows[0]["amount"] == "-1.00"
    bad = api.get(f"/v1/wallets/{a['id']}/transactions", query_string={"cursor": "YWJj"})
    assert bad.status_code == 422
    assert api.get("/v1/wallets/wal_missing/transactions").status_code == 404


def test_security_headers_and_problem_shape(app):
    api = api_for(app)
    for r in (
        api.get("/v1/wallets"),
        api.get("/v1/nothing"),
        app.test_client().get("/openapi.json"),
        app.test_client().delete("/oauth/token"),
    ):
        for name, value in SECURITY_HEADERS.items():
            assert r.headers[name] == value
        assert "Server" not in r.headers and r.headers["X-Request-Id"]
    r = app.test_client().delete("/oauth/token")
    assert r.status_code == 405 and "POST" in r.headers["Allow"] and r.mimetype == "application/problem+json"


def test_unexpected_error_is_a_clean_problem(app):
    class Exploding(TestAcquirer):
        def charge(self, *args, **kwargs) -> Charge:
            raise RuntimeError("internal detail: secret stack")

    rt(app).acquirer = Exploding()
    api = api_for(app)
    wallet, card = api.wallet(), api.card(AMEX)
    r = api.topup(wallet["id"], "1.00", card["id"])
    text = r.get_data(as_text=True)
    assert r.status_code == 500 and r.mimetype == "application/problem+json"
    assert "internal detail" not in text and "Traceback" not in text and r.get_json()["request_id"]


def test_openapi_documents_every_route(app):
    doc = app.test_client().get("/openapi.json").get_json()
    assert doc["openapi"] == "3.1.0" and doc == document()
    routes = {
        (str(rule).replace("<", "{").replace(">", "}"), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert routes == documented
    assert app.test_client().get("/healthz").get_json() == {"status": "ok"}


def test_make_acquirer():
    assert isinstance(make_acquirer("test"), TestAcquirer)
    with pytest.raises(ValueError, match="unknown acquirer"):
        make_acquirer("visa-net")
