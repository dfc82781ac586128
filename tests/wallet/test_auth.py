import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.wallet.conftest import Api, api_for, basic, new_tenant, rt
from wallet.admin import create_client, rotate_signing_key
from wallet.auth import Principal, VerifiedTokens, check_secret, hash_secret, parse_scopes
from wallet.db import admin_session, run_in_transaction
from wallet.models import Client


def token_response(app, creds, **form):
    return app.test_client().post(
        "/oauth/token",
        data={"grant_type": "client_credentials", **form},
        headers=basic(creds.client_id, creds.client_secret),
    )


def test_secret_hashing():
    stored = hash_secret("s3cret")
    assert stored.startswith("scrypt$") and "s3cret" not in stored
    assert check_secret("s3cret", stored) and not check_secret("other", stored)
    assert not check_secret("s3cret", "garbage") and not check_secret("s3cret", "md5$YQ==$YQ==")


def test_token_claims(app):
    creds = new_tenant(app)
    r = token_response(app, creds)
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    body = r.get_json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    header = jwt.get_unverified_header(body["access_token"])
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert header["alg"] == "EdDSA" and header["kid"].startswith("key_")
    assert claims["exp"] - claims["iat"] <= 900
    assert claims["tid"] == creds.tenant_id and claims["sub"] == creds.client_id
    with admin_session(rt(app).sessions) as s:
        assert creds.client_secret not in s.get(Client, creds.client_id).secret_hash


def test_scope_narrowing_and_enforcement(app):
    creds = new_tenant(app)
    api = Api(app.test_client(), creds).authenticate(scope="wallets:read")
    r = api.post("/v1/wallets", {"owner_ref": "a", "currency": "USD"})
    assert r.status_code == 403 and "wallets:write" in r.get_json()["detail"]
    assert api.get("/v1/wallets").status_code == 200
    assert token_response(app, creds, scope="admin").status_code == 400
    with admin_session(rt(app).sessions) as s:
        reader = run_in_transaction(s, lambda s: create_client(s, creds.tenant_id, "wallets:read"))
    r = token_response(app, reader, scope="wallets:read payments:write")
    assert r.status_code == 400 and r.get_json()["error"] == "invalid_scope"


@pytest.mark.parametrize("case", ["wrong-secret", "unknown-client", "no-basic", "bad-grant", "inactive"])
def test_token_refusals(app, case):
    creds = new_tenant(app)
    client = app.test_client()
    headers = basic(creds.client_id, creds.client_secret)
    form = {"grant_type": "client_credentials"}
    if case == "wrong-secret":
        headers = basic(creds.client_id, "nope")
    elif case == "unknown-client":
        headers = basic("cli_doesnotexist", "nope")
    elif case == "no-basic":
        headers = {}
    elif case == "bad-grant":
        form = {"grant_type": "password"}
    else:
        with admin_session(rt(app).sessions) as s:
            s.get(Client, creds.client_id).active = False
            s.commit()
    r = client.post("/oauth/token", data=form, headers=headers)
    assert r.status_code == (400 if case == "bad-grant" else 401)
    if case != "bad-grant":
        assert r.headers["WWW-Authenticate"].startswith("Basic")
    assert r.mimetype == "application/problem+json"
    assert creds.client_secret not in r.get_data(as_text=True)


@pytest.mark.parametrize(
    "case", ["none", "basic", "garbage", "expired", "foreign-key", "unknown-kid", "audience"]
)
def test_bearer_refusals(app, case):
    api = api_for(app)
    now = int(time.time())
    claims = {
        "iss": "wallet",
        "aud": "wallet-api",
        "sub": api.creds.client_id,
        "tid": api.creds.tenant_id,
        "scope": "wallets:read",
        "iat": now,
        "exp": now + 60,
    }
    kid = jwt.get_unverified_header(api.token)["kid"]
    forged = Ed25519PrivateKey.generate()
    headers = {
        "none": {},
        "basic": {"Authorization": "Basic abc"},
        "garbage": {"Authorization": "Bearer not.a.jwt"},
        "expired": {
            "Authorization": "Bearer "
            + jwt.encode(
                {**claims, "iat": now - 999, "exp": now - 1}, forged, algorithm="EdDSA", headers={"kid": kid}
            )
        },
        "foreign-key": {
            "Authorization": "Bearer " + jwt.encode(claims, forged, algorithm="EdDSA", headers={"kid": kid})
        },
        "unknown-kid": {
            "Authorization": "Bearer "
            + jwt.encode(claims, forged, algorithm="EdDSA", headers={"kid": "key_unknown"})
        },
        "audience": {
            "Authorization": "Bearer "
            + jwt.encode({**claims, "aud": "x"}, forged, algorithm="EdDSA", headers={"kid": kid})
        },
    }[case]
    r = app.test_client().get("/v1/wallets", headers=headers)
    assert r.status_code == 401 and r.mimetype == "application/problem+json"
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_expired_token_with_real_key(app_factory, sqlite_url):
    app = app_factory(sqlite_url, token_ttl=3)
    api = api_for(app)
    assert api.get("/v1/wallets").status_code == 200
    time.sleep(4.1)  # a ttl long enough for a loaded machine to use the token first
    r = api.get("/v1/wallets")
    assert r.status_code == 401 and "expired" in r.get_json()["detail"]


def test_rotation_keeps_old_tokens_valid(app):
    api = api_for(app)
    old_kid = jwt.get_unverified_header(api.token)["kid"]
    with admin_session(rt(app).sessions) as s:
        new_kid = run_in_transaction(s, lambda s: rotate_signing_key(s, rt(app).kek))
    rt(app).signing._loaded_at = float("-inf")  # as if the refresh interval had passed
    assert api.get("/v1/wallets").status_code == 200
    fresh = Api(app.test_client(), api.creds).authenticate()
    assert jwt.get_unverified_header(fresh.token)["kid"] == new_kid != old_kid
    assert fresh.get("/v1/wallets").status_code == 200


def test_host_bound_tenants(app):
    a = api_for(app, domain="pay.alpha.test")
    b = api_for(app, domain="pay.beta.test")
    a.host = "pay.alpha.test"
    assert a.get("/v1/wallets").status_code == 200
    a.host = "pay.beta.test:8443"
    r = a.get("/v1/wallets")
    assert r.status_code == 401 and "host" in r.get_json()["detail"]
    r = app.test_client().post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers=basic(b.creds.client_id, b.creds.client_secret),
        base_url="http://pay.alpha.test",
    )
    assert r.status_code == 401
    a.host = "127.0.0.1"  # a host that names no tenant: the token decides
    assert a.get("/v1/wallets").status_code == 200


def test_parse_scopes():
    assert parse_scopes("wallets:read, cards:write wallets:read") == ("wallets:read", "cards:write")
    for bad in ("", "root", "wallets:read,root"):
        with pytest.raises(ValueError, match="scopes must be"):
            parse_scopes(bad)


def test_rate_limit(app_factory, sqlite_url):
    app = app_factory(sqlite_url, rate_limit_per_second=0.5, rate_limit_burst=3)
    api = api_for(app)
    codes = [api.get("/v1/wallets").status_code for _ in range(5)]
    assert codes[:3] == [200, 200, 200] and codes[-1] == 429
    r = api.get("/v1/wallets")
    assert int(r.headers["Retry-After"]) >= 1 and r.mimetype == "application/problem+json"


def test_verified_tokens_expire_and_stay_bounded():
    cache = VerifiedTokens(size=2)
    now = time.time()
    live = Principal("cli_a", "ten_a", frozenset({"wallets:read"}), now + 60)
    cache.put("expired", Principal("cli_a", "ten_a", frozenset(), now - 1))
    assert cache.get("expired") is None and cache.get("unknown") is None
    cache.put("one", live)
    cache.put("two", live)
    assert cache.get("expired") is None and cache.get("one") is live and cache.get("two") is live
