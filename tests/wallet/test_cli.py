import json

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from wallet import migrate
from wallet.cli import app
from wallet.db import make_engine


@pytest.fixture()
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("WALLET_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("WALLET_DATABASE_URL", raising=False)
    monkeypatch.delenv("WALLET_CONFIG", raising=False)
    return tmp_path / "home"


def run(*args):
    return CliRunner().invoke(app, list(args))


def test_operator_session(env):
    assert run("db", "upgrade").output.strip() == f"database at revision {migrate.head_revision()}"
    assert run("db", "upgrade").exit_code == 0  # upgrading a current database changes nothing
    created = run("tenant", "create", "Acme Pay", "--domain", "Pay.Acme.Test")
    assert created.exit_code == 0, created.output
    creds = json.loads(created.output)
    assert set(creds) == {"tenant_id", "client_id", "client_secret", "scopes"}
    other = json.loads(run("client", "create", "Acme Pay", "--scopes", "wallets:read").output)
    assert other["tenant_id"] == creds["tenant_id"] and other["scopes"] == ["wallets:read"]
    rotated = run("keys", "rotate")
    assert rotated.exit_code == 0 and json.loads(rotated.output)["kid"].startswith("key_")
    verified = run("audit", "verify")
    assert verified.exit_code == 0 and "intact: 4 entries" in verified.output
    assert run("--version").output.startswith("wallet ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["tenant", "create", "Acme", "--domain", "acme.test"], "already exists"),
        (["tenant", "create", "Other", "--domain", "ACME.test"], "already exists"),
        (["tenant", "create", "Bad", "--domain", "not a host"], "not a valid host"),
        (["tenant", "create", "!", "--domain", "x.test"], "tenant name"),
        (["client", "create", "nobody", "--scopes", "wallets:read"], "no tenant"),
        (["client", "create", "Acme", "--scopes", "root"], "scopes must be"),
        (["serve"], "either --tls-cert"),
        (["serve", "--self-signed", "--tls-cert", "x"], "either --tls-cert"),
        (["serve", "--tls-cert", "/nonexistent", "--tls-key", "/nonexistent"], "readable files"),
        (["serve", "--self-signed", "--workers", "-1"], "--workers must be 0 or more"),
        (["serve", "--self-signed", "--threads", "0"], "--threads 1 or more"),
    ],
)
def test_usage_errors(env, args, message):
    assert run("db", "upgrade").exit_code == 0
    assert run("tenant", "create", "Acme", "--domain", "acme.test").exit_code == 0
    result = run(*args)
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_uninitialised_database(env):
    for args in (["tenant", "create", "A", "--domain", "a.test"], ["audit", "verify"]):
        result = run(*args)
        assert result.exit_code == 2 and "wallet db upgrade" in result.output


def test_serve_refuses_stale_schema(env, tmp_path, monkeypatch):
    cert, key, db = tmp_path / "c.pem", tmp_path / "k.pem", tmp_path / "old.db"
    cert.write_text("x")
    key.write_text("x")
    db.touch()  # a database that exists but was never upgraded
    monkeypatch.setenv("WALLET_DATABASE_URL", f"sqlite:///{db}")
    result = run("serve", "--tls-cert", str(cert), "--tls-key", str(key))
    assert result.exit_code == 2 and "schema is not current" in result.output


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (None, "no database at"),  # the default SQLite file in the home, never created
        ("postgresql+psycopg://nobody@127.0.0.1:1/none", "unreachable"),
    ],
)
def test_serve_without_a_database_writes_nothing(env, monkeypatch, url, message):
    if url:
        monkeypatch.setenv("WALLET_DATABASE_URL", url)
    result = run("serve", "--self-signed")
    assert result.exit_code == 2 and message in result.output and "wallet db upgrade" in result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert not env.exists() or not any(env.rglob("*"))  # no certificate, no empty database file


def test_bad_config(env, monkeypatch):
    monkeypatch.setenv("WALLET_TOKEN_TTL", "9999")
    result = run("db", "upgrade")
    assert result.exit_code == 2 and "token_ttl" in result.output


def test_audit_verify_reports_tampering(env):
    run("db", "upgrade")
    run("tenant", "create", "Acme", "--domain", "acme.test")
    engine = make_engine(f"sqlite:///{env / 'wallet.db'}")
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER audit_log_no_update"))
        conn.execute(text("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 1"))
    engine.dispose()
    result = run("audit", "verify")
    assert result.exit_code == 1 and "TAMPERED: entry 1 is forged or was altered" in result.output
