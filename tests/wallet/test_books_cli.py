"""`wallet ledger verify`, `wallet topups reconcile`, `wallet audit verify` and `wallet acquirer serve`
from the command line: one line per finding, exit 1 when the books or the log disagree, 2 on bad input."""

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from tests.wallet.acquiring import faults
from tests.wallet.conftest import api_for, make_config
from wallet import create_app, migrate
from wallet.acquirer_server import AcquirerServer
from wallet.cli import app as cli
from wallet.db import make_engine


@pytest.fixture()
def served(tmp_path, monkeypatch):
    """A wallet home with some activity through the app, and the CLI pointed at it."""
    acquirer = AcquirerServer().start()
    home = tmp_path / "home"
    for name, value in {
        "WALLET_HOME": str(home),
        "WALLET_ACQUIRER": "http",
        "WALLET_ACQUIRER_URL": acquirer.url,
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("WALLET_DATABASE_URL", "WALLET_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    assert run("db", "upgrade").exit_code == 0
    app = create_app(
        make_config(home, f"sqlite:///{home / 'wallet.db'}", acquirer="http", acquirer_url=acquirer.url)
    )
    migrate.upgrade(app.extensions["wallet"].engine)
    api = api_for(app)
    w, card = api.wallet(), api.card()
    assert api.topup(w["id"], "5.00", card["id"]).status_code == 201
    yield {"home": home, "api": api, "wallet": w["id"], "card": card["id"], "acquirer": acquirer}
    app.extensions["wallet"].engine.dispose()
    acquirer.shutdown()
    acquirer.server_close()


def run(*args):
    return CliRunner().invoke(cli, list(args))


def _sql(home, *statements):
    engine = make_engine(f"sqlite:///{home / 'wallet.db'}")
    with engine.begin() as conn:
        for sql in statements:
            conn.execute(text(sql))
    engine.dispose()


def test_ledger_verify(served):
    ok = run("ledger", "verify")
    assert ok.exit_code == 0 and "ledger consistent" in ok.output and "0 pending top-ups" in ok.output
    _sql(served["home"], f"UPDATE wallets SET balance_minor = 100000 WHERE id = '{served['wallet']}'")
    bad = run("ledger", "verify")
    assert bad.exit_code == 1
    assert f"wallet {served['wallet']}: balance 100000 but its postings sum to 500" in bad.output


def test_ledger_verify_names_each_kind_of_disagreement(served):
    home = served["home"]
    _sql(
        home,
        "UPDATE postings SET amount_minor = amount_minor + 1 WHERE amount_minor > 0",
        "UPDATE charges SET status = 'voided'",
    )
    out = run("ledger", "verify").output
    assert "postings sum to 1, not zero" in out and "its charge" in out and "is voided" in out
    _sql(home, "UPDATE charges SET status = 'approved'", "UPDATE movements SET acquirer_ref = 'ch_other'")
    out = run("ledger", "verify").output
    assert "credited without a recorded charge (ch_other)" in out and "never credited" in out
    _sql(home, "UPDATE movements SET status = 'pending'")
    assert "pending but has postings" in run("ledger", "verify").output
    _sql(home, "DELETE FROM postings", "UPDATE movements SET status = 'completed'")
    assert "completed but has no postings" in run("ledger", "verify").output


def test_topups_reconcile_and_audit_verify(served):
    faults(served["acquirer"], fail_before=1)
    r = served["api"].post(
        f"/v1/wallets/{served['wallet']}/topups",
        {"amount": "1.00", "card_id": served["card"]},
        headers={"Idempotency-Key": "cli-pending-1"},
    )
    assert r.status_code == 202
    assert "1 still pending" in run("topups", "reconcile").output  # within the grace period
    assert "1 failed" in run("topups", "reconcile", "--older-than", "0").output
    first = run("audit", "verify")
    assert first.exit_code == 0 and "no anchor written yet" in first.output
    assert run("tenant", "create", "Other", "--domain", "other.test").exit_code == 0  # seals and anchors
    anchored = run("audit", "verify")
    assert anchored.exit_code == 0 and "reaching the newest anchor" in anchored.output
    _sql(
        served["home"],
        "DROP TRIGGER audit_log_no_delete",
        "DELETE FROM audit_log",
        "UPDATE audit_head SET seq = 0, hash = '" + "0" * 64 + "'",
    )
    emptied = run("audit", "verify")
    assert emptied.exit_code == 1 and "TAMPERED: the audit log was emptied" in emptied.output
    (served["home"] / "audit.key").unlink()
    missing = run("audit", "verify")
    assert missing.exit_code == 2 and "audit key" in missing.output and "Traceback" not in missing.output


def test_acquirer_serve_refuses_bad_faults(served):
    result = run("acquirer", "serve", "--fail-before", "3")
    assert result.exit_code == 2 and "probability" in result.output
