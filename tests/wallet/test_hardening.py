"""Input hardening: ASCII digits only, no card numbers in free text, one spelling per host name."""
# ruff: noqa: RUF001 - the look-alike digits and letters are the point of these tests

import pytest

from tests.wallet.conftest import VISA, api_for, basic
from wallet.admin import AdminError, create_tenant
from wallet.cards import CardError, has_card_number, validate_pan
from wallet.hosts import BadHost, normalise_host
from wallet.money import AmountError, parse_amount

FULLWIDTH_VISA = VISA.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
ARABIC_INDIC_VISA = VISA.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))


@pytest.mark.parametrize("pan", [FULLWIDTH_VISA, ARABIC_INDIC_VISA, "411111111111111\u0661", VISA + "\n"])
def test_pan_ascii_digits_only(pan):
    with pytest.raises(CardError, match="12 to 19 digits"):
        validate_pan(pan)


@pytest.mark.parametrize("amount", ["１０.00", "10.０0", "٣", "1\u00b2", "10.00\n", "\u0969.50"])
def test_amount_ascii_digits_only(amount):
    with pytest.raises(AmountError):
        parse_amount(amount, "USD")


@pytest.mark.parametrize(
    ("text", "found"),
    [
        (VISA, True),
        ("card 4111 1111 1111 1111 please", True),
        ("4111-1111-1111-1111", True),
        ("ref " + FULLWIDTH_VISA, True),
        ("4222222222222", True),  # 13-digit Luhn-valid run
        ("4111111111111112", False),  # fails Luhn
        ("order 123456789012", False),  # 12 digits
        ("12345678901234567890", False),  # 20 digits: not a 13-19 digit run
        ("alice", False),
    ],
)
def test_has_card_number(text, found):
    assert has_card_number(text) is found


def test_api_refuses_unicode_digits_and_pans_in_free_text(app):
    api = api_for(app)
    for pan in (FULLWIDTH_VISA, ARABIC_INDIC_VISA):
        r = api.post("/v1/cards", {"pan": pan, "expiry_month": 12, "expiry_year": 2099, "holder": "A"})
        assert r.status_code == 422 and "digits" in r.get_json()["detail"]
        assert pan not in r.get_data(as_text=True) and VISA not in r.get_data(as_text=True)
    card = {"pan": VISA, "expiry_month": 12, "expiry_year": 2099, "holder": "4111 1111 1111 1111"}
    r = api.post("/v1/cards", card)
    assert r.status_code == 422 and r.get_json()["fields"] == ["holder"]
    assert "1111 1111" not in r.get_data(as_text=True)
    for owner in (VISA, f"customer {VISA[:8]}-{VISA[8:]}", FULLWIDTH_VISA):
        r = api.post("/v1/wallets", {"owner_ref": owner, "currency": "USD"})
        assert r.status_code == 422 and r.get_json()["fields"] == ["owner_ref"], owner
    wallet = api.wallet()
    card = api.card()
    for amount in ("１０.00", "1٠.00", "\u0661"):
        r = api.topup(wallet["id"], amount, card["id"])
        assert r.status_code == 422 and r.get_json()["fields"] == ["amount"]
    other = api.wallet("bob")
    r = api.transfer(wallet["id"], other["id"], "1.00", f"key-{VISA}")
    assert r.status_code == 400 and "card number" in r.get_json()["detail"]
    for limit in ("\u00b2", "٣", "１"):
        r = api.get("/v1/wallets", query_string={"limit": limit})
        assert r.status_code == 422 and r.get_json()["fields"] == ["limit"]


def test_tenant_name_with_card_number_refused(app):
    from tests.wallet.conftest import rt
    from wallet.db import admin_session

    with admin_session(rt(app).sessions) as s, pytest.raises(AdminError, match="card number"):
        create_tenant(s, f"Tenant {VISA}", "pan.example.test")


@pytest.mark.parametrize(
    ("host", "name"),
    [
        ("Pay.Acme.Test", "pay.acme.test"),
        ("pay.acme.test.", "pay.acme.test"),
        ("PAY.ACME.TEST.:8443", "pay.acme.test"),
        ("pay.acme.test..", "pay.acme.test"),
        ("pay.acme.test:", "pay.acme.test"),
        ("[::1]:8443", "[::1]"),
        ("127.0.0.1:443", "127.0.0.1"),
    ],
)
def test_normalise_host(host, name):
    assert normalise_host(host) == name


@pytest.mark.parametrize("host", ["pay.acme.tеst", "pay acme", "ｐａｙ.acme.test"])
def test_non_ascii_hosts_refused(host):
    with pytest.raises(BadHost):
        normalise_host(host)


@pytest.mark.parametrize("spelling", ["pay.alpha.test.", "PAY.ALPHA.TEST", "Pay.Alpha.Test.:8443"])
def test_token_does_not_cross_tenants_by_spelling(app, spelling):
    a = api_for(app, domain="pay.alpha.test")
    b = api_for(app, domain="pay.beta.test")
    b.host = spelling
    r = b.get("/v1/wallets")
    assert r.status_code == 401 and "host" in r.get_json()["detail"]
    a.host = spelling
    assert a.get("/v1/wallets").status_code == 200
    r = app.test_client().post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers=basic(b.creds.client_id, b.creds.client_secret),
        base_url=f"http://{spelling}",
    )
    assert r.status_code == 401
