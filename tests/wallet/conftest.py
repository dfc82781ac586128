from __future__ import annotations

import base64
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.postgres import postgres_server, postgres_url  # noqa: F401 - fixtures
from wallet import create_app, migrate
from wallet.admin import Credentials, create_tenant
from wallet.config import Config
from wallet.db import admin_session, run_in_transaction
from wallet.runtime import Runtime

VISA = "4111111111111111"
MASTERCARD = "5555555555554444"
AMEX = "378282246310005"
_names = itertools.count()


@pytest.fixture(params=["sqlite", "postgres"])
def any_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'wallet.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture()
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'wallet.db'}"


def make_config(home: Path, db_url: str, **overrides: Any) -> Config:
    settings: dict[str, Any] = {
        "home": home,
        "database_url": db_url,
        "rate_limit_per_second": 10_000.0,
        "rate_limit_burst": 10_000,
    }
    settings.update(overrides)
    return Config.load({}, **settings)


@pytest.fixture()
def app_factory(tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    apps: list[Flask] = []

    def build(db_url: str, **overrides: Any) -> Flask:
        app = create_app(make_config(tmp_path / "home", db_url, **overrides))
        migrate.upgrade(rt(app).engine)
        app.testing = False  # exercise the real error handlers
        apps.append(app)
        return app

    yield build
    for app in apps:
        rt(app).engine.dispose()


@pytest.fixture()
def app(app_factory: Callable[..., Flask], sqlite_url: str) -> Flask:
    return app_factory(sqlite_url)


def rt(app: Flask) -> Runtime:
    return app.extensions["wallet"]  # type: ignore[no-any-return]


def new_tenant(app: Flask, domain: str | None = None) -> Credentials:
    n = next(_names)
    with admin_session(rt(app).sessions) as s:
        creds = run_in_transaction(
            s, lambda s: create_tenant(s, f"tenant-{n}", domain or f"t{n}.example.test")
        )
    rt(app).domains.invalidate()
    return creds


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


@dataclass
class Api:
    """A tenant's view of the API through Flask's test client."""

    client: FlaskClient
    creds: Credentials
    token: str = ""
    host: str = "localhost"

    def authenticate(self, scope: str | None = None) -> Api:
        form = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
        r = self.client.post(
            "/oauth/token",
            data=form,
            headers=basic(self.creds.client_id, self.creds.client_secret),
            base_url=f"http://{self.host}",
        )
        assert r.status_code == 200, r.get_json()
        self.token = r.get_json()["access_token"]
        return self

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **(extra or {})}

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(
            path, headers=self.headers(kw.pop("headers", None)), base_url=f"http://{self.host}", **kw
        )

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.client.post(
            path,
            json=body,
            headers=self.headers(kw.pop("headers", None)),
            base_url=f"http://{self.host}",
            **kw,
        )

    def wallet(self, owner: str = "alice", currency: str = "USD") -> dict[str, Any]:
        r = self.post("/v1/wallets", {"owner_ref": owner, "currency": currency})
        assert r.status_code == 201, r.get_json()
        return r.get_json()  # type: ignore[no-any-return]

    def card(self, pan: str = VISA) -> dict[str, Any]:
        r = self.post(
            "/v1/cards", {"pan": pan, "expiry_month": 12, "expiry_year": 2099, "holder": "A Holder"}
        )
        assert r.status_code == 201, r.get_json()
        return r.get_json()  # type: ignore[no-any-return]

    def topup(self, wallet_id: str, amount: str, card_id: str) -> Any:
        return self.post(f"/v1/wallets/{wallet_id}/topups", {"amount": amount, "card_id": card_id})

    def transfer(self, src: str, dst: str, amount: str, key: str, currency: str = "USD") -> Any:
        return self.post(
            "/v1/transfers",
            {"from_wallet": src, "to_wallet": dst, "amount": amount, "currency": currency},
            headers={"Idempotency-Key": key},
        )


def api_for(app: Flask, domain: str | None = None) -> Api:
    return Api(app.test_client(), new_tenant(app, domain)).authenticate()
