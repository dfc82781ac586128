from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from cryptography.exceptions import InvalidTag
from moto import mock_aws
from sqlalchemy import select

from tests.wallet.conftest import AMEX, MASTERCARD, VISA, api_for, rt
from wallet.cards import (
    CardError,
    brand_of,
    contains_pan,
    luhn_ok,
    redact_pans,
    reveal_pan,
    validate_expiry,
    validate_pan,
)
from wallet.db import tenant_session
from wallet.keys import KeyFailure, KmsKek, LocalKek, Sealed, seal, unseal
from wallet.models import Card


@pytest.mark.parametrize(
    ("pan", "brand"),
    [
        (VISA, "visa"),
        ("4222222222222", "visa"),
        (MASTERCARD, "mastercard"),
        ("2223003122003222", "mastercard"),
        (AMEX, "amex"),
        ("6011111111111117", "discover"),
        ("3530111333300000", "jcb"),
        ("30569309025904", "diners"),
        ("6200000000000005", "unionpay"),
    ],
)
def test_brands(pan, brand):
    assert validate_pan(pan) == brand


def luhn_complete(prefix: str) -> str:
    return next(prefix + d for d in "0123456789" if luhn_ok(prefix + d))


@pytest.mark.parametrize(
    ("pan", "reason"),
    [
        ("4111111111111112", "Luhn"),
        ("4111-1111-1111-1111", "digits"),
        (4111111111111111, "digits"),
        ("12345", "digits"),
        (luhn_complete("911111111111111"), "brand"),
        (luhn_complete("41111111111111"), "brand"),
    ],
)
def test_invalid_pans(pan, reason):
    with pytest.raises(CardError, match=reason):
        validate_pan(pan)


def test_luhn_and_brand_helpers():
    assert luhn_ok("79927398713") and not luhn_ok("79927398710")
    assert brand_of("1234567812345678") is None


def test_expiry():
    today = datetime(2030, 6, 15, tzinfo=UTC)
    assert validate_expiry(6, 2030, today) == (6, 2030)
    for month, year, reason in [
        (5, 2030, "expired"),
        (13, 2031, "month"),
        (True, 2031, "month"),
        (1, 30, "year"),
        ("1", 2031, "month"),
    ]:
        with pytest.raises(CardError, match=reason):
            validate_expiry(month, year, today)


def test_redaction():
    text = f"pan={VISA} spaced=4111 1111 1111 1111 order=1234567890123 amex={AMEX}"
    clean = redact_pans(text)
    assert VISA not in clean and AMEX not in clean and "4111 1111" not in clean
    assert "order=1234567890123" in clean
    assert contains_pan(text) and not contains_pan(clean)


def test_envelope_encryption(tmp_path):
    kek = LocalKek(tmp_path / "kek.key")
    sealed = seal(kek, b"secret", b"ctx")
    assert b"secret" not in sealed.ciphertext
    assert unseal(kek, sealed, b"ctx") == b"secret"
    assert unseal(LocalKek(tmp_path / "kek.key"), sealed, b"ctx") == b"secret"  # reloaded from the file
    with pytest.raises(KeyFailure):
        unseal(LocalKek(tmp_path / "other.key"), sealed, b"ctx")
    with pytest.raises(InvalidTag):
        unseal(kek, Sealed(sealed.ciphertext, sealed.wrapped_key, kek.source), b"other-context")
    assert (tmp_path / "kek.key").stat().st_mode & 0o777 == 0o600


def test_bad_key_file(tmp_path):
    (tmp_path / "short.key").write_bytes(b"short")
    with pytest.raises(KeyFailure, match="32 bytes"):
        LocalKek(tmp_path / "short.key")
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "k").mkdir()
    with pytest.raises(KeyFailure, match="cannot read"):
        LocalKek(tmp_path / "dir" / "k")


def test_card_stored_encrypted_only(app):
    api = api_for(app)
    card = api.card(MASTERCARD)
    assert card["brand"] == "mastercard" and card["last4"] == "4444" and card["token"].startswith("tok_")
    assert MASTERCARD not in str(card)
    with tenant_session(rt(app).sessions, api.creds.tenant_id) as s:
        row = s.scalars(select(Card)).one()
        assert MASTERCARD.encode() not in row.pan_ciphertext
        assert row.key_source.startswith("file:")
        assert reveal_pan(rt(app).kek, row) == MASTERCARD


def test_pan_never_in_database_file(app, sqlite_url):
    api = api_for(app)
    api.card(VISA)
    rt(app).engine.dispose()
    db_file = sqlite_url.removeprefix("sqlite:///")
    for path in (db_file, db_file + "-wal"):
        try:
            data = Path(path).read_bytes()
        except FileNotFoundError:
            continue
        assert VISA.encode() not in data


def test_duplicate_detected_by_fingerprint(app):
    api = api_for(app)
    first = api.card(VISA)
    r = api.post("/v1/cards", {"pan": VISA, "expiry_month": 1, "expiry_year": 2098, "holder": "Other"})
    assert r.status_code == 409 and r.get_json()["card_id"] == first["id"]
    other = api_for(app)  # another tenant may store the same card
    assert other.card(VISA)["id"] != first["id"]


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        (
            {"pan": VISA, "expiry_month": 12, "expiry_year": 2099, "holder": "A", "cvv": "123"},
            422,
            "security codes",
        ),
        (
            {"pan": VISA, "expiry_month": 12, "expiry_year": 2099, "holder": "A", "CVC": "123"},
            422,
            "security codes",
        ),
        ({"pan": "4111111111111112", "expiry_month": 12, "expiry_year": 2099, "holder": "A"}, 422, "Luhn"),
        ({"pan": VISA, "expiry_month": 1, "expiry_year": 2001, "holder": "A"}, 422, "expired"),
        ({"pan": VISA, "expiry_month": 12, "expiry_year": 2099, "holder": "x" * 27}, 422, "holder"),
        ({"pan": VISA, "expiry_month": "12", "expiry_year": 2099, "holder": "A"}, 422, "wrong type"),
        ({"pan": VISA, "expiry_month": 12, "expiry_year": 2099}, 422, "missing"),
    ],
)
def test_card_validation(app, body, status, fragment):
    api = api_for(app)
    r = api.post("/v1/cards", body)
    assert r.status_code == status and fragment in r.get_json()["detail"]
    assert VISA not in r.get_data(as_text=True)


@mock_aws
def test_kms_envelope(app_factory, sqlite_url, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    kms = boto3.client("kms", region_name="eu-west-1")
    key_id = kms.create_key(Description="wallet kek")["KeyMetadata"]["KeyId"]
    app = app_factory(sqlite_url, kms_key_id=key_id, aws_region="eu-west-1")
    assert isinstance(rt(app).kek, KmsKek)
    api = api_for(app)
    card = api.card(AMEX)
    wallet = api.wallet()
    assert api.topup(wallet["id"], "5.00", card["id"]).status_code == 201  # decrypts through KMS
    with tenant_session(rt(app).sessions, api.creds.tenant_id) as s:
        row = s.scalars(select(Card)).one()
    assert row.key_source == f"kms:{key_id}"
    data_key = kms.decrypt(CiphertextBlob=row.wrapped_key)["Plaintext"]
    assert len(data_key) == 32
    assert reveal_pan(rt(app).kek, row) == AMEX
