"""Top-ups against the test acquirer over HTTP with injected faults, on SQLite and PostgreSQL: never a
credit without an approved charge, never a charge kept without a credit."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.wallet.acquiring import charged_minor, charges, faults
from tests.wallet.conftest import VISA, Api, api_for, rt
from wallet import ledger_check, topups
from wallet.acquirer import CardData
from wallet.acquirer_server import AcquirerServer
from wallet.anchors import DirectoryAnchors
from wallet.db import admin_session
from wallet.housekeeping import Housekeeper


@pytest.fixture()
def acquirer():
    served = AcquirerServer().start()
    yield served
    served.shutdown()
    served.server_close()


@pytest.fixture()
def wallet_app(app_factory, any_db_url, acquirer):
    return app_factory(any_db_url, acquirer="http", acquirer_url=acquirer.url, acquirer_timeout=0.5)


def _post(api, wallet_id, amount, card_id, key=None):
    headers = {"Idempotency-Key": key} if key else None
    return api.post(
        f"/v1/wallets/{wallet_id}/topups", {"amount": amount, "card_id": card_id}, headers=headers
    )


def _reconcile(app, grace=0.0):
    with admin_session(rt(app).sessions) as s:
        return topups.reconcile(rt(app).acquirer, s, grace=grace)


def _ledger_problems(app):
    with admin_session(rt(app).sessions) as s:
        return list(ledger_check.problems(s))


def _credited_minor(app):
    with admin_session(rt(app).sessions) as s:
        return int(
            s.scalar(
                text(
                    "SELECT COALESCE(SUM(amount_minor), 0) FROM movements"
                    " WHERE kind = 'topup' AND status = 'completed'"
                )
            )
        )


def _books_balance(app, acquirer):
    assert _ledger_problems(app) == []
    assert charged_minor(acquirer) == _credited_minor(app)


def test_each_fault_settles_to_one_charge_and_one_credit(wallet_app, acquirer):
    api = api_for(wallet_app)
    w, card = api.wallet()["id"], api.card()["id"]
    assert _post(api, w, "1.00", card).status_code == 201

    faults(acquirer, fail_before=1)
    r = _post(api, w, "2.00", card, "key-before-1")
    assert (
        r.status_code == 202 and r.get_json()["status"] == "pending" and r.get_json()["acquirer_ref"] is None
    )
    assert r.headers["Location"] == f"/v1/topups/{r.get_json()['id']}"
    assert api.get(r.headers["Location"]).get_json()["status"] == "pending"
    faults(acquirer)
    again = _post(api, w, "2.00", card, "key-before-1")  # asks the acquirer, finds nothing, charges now
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"

    faults(acquirer, fail_after=1)
    r = _post(api, w, "3.00", card, "key-after-01")
    assert r.status_code == 202
    faults(acquirer, fail_before=1)  # a new charge would fail: the retry must find the first one
    again = _post(api, w, "3.00", card, "key-after-01")
    assert again.status_code == 201 and again.get_json()["id"] == r.get_json()["id"]

    faults(acquirer, slow=1, delay=1.0)
    r = _post(api, w, "4.00", card, "key-slow-001")
    assert r.status_code == 202
    faults(acquirer)
    done = _reconcile(wallet_app)
    assert (done.pending, done.completed) == (1, 1)
    assert api.get(f"/v1/topups/{r.get_json()['id']}").get_json()["status"] == "completed"

    assert api.get(f"/v1/wallets/{w}").get_json()["balance"] == "10.00"
    assert len(charges(acquirer)) == 4
    _books_balance(wallet_app, acquirer)


def test_declines_conflicts_and_failures(wallet_app, acquirer):
    api = api_for(wallet_app)
    w, card = api.wallet()["id"], api.card()["id"]
    declined = api.card("4000000000000002")["id"]
    r = _post(api, w, "1.00", declined, "key-declined")
    assert r.status_code == 402 and "declined" in r.get_json()["detail"]
    again = _post(api, w, "1.00", declined, "key-declined")
    assert again.status_code == 402 and "declined" in again.get_json()["detail"]
    assert _post(api, w, "5.00", card, "key-declined").status_code == 409  # same key, other body
    assert len(charges(acquirer)) == 1

    faults(acquirer, fail_before=1)
    r = _post(api, w, "6.00", card, "key-failing1")
    assert r.status_code == 202
    assert _reconcile(wallet_app, grace=3600).still_pending == 1  # young: the request may be in flight
    done = _reconcile(wallet_app)
    assert done.failed == 1
    failed = _post(api, w, "6.00", card, "key-failing1")
    assert failed.status_code == 502 and "nothing was charged" in failed.get_json()["detail"]
    assert api.get("/v1/topups/top_missing").status_code == 404
    faults(acquirer)
    assert api.get(f"/v1/wallets/{w}").get_json()["balance"] == "0.00"
    _books_balance(wallet_app, acquirer)


def test_a_charge_that_cannot_be_credited_is_voided(wallet_app, acquirer):
    """A request still talking to the acquirer when reconciliation failed its top-up: the late
    approval finds the top-up ended and voids the charge."""
    api = api_for(wallet_app)
    w, card = api.wallet()["id"], api.card()["id"]
    faults(acquirer, fail_before=1)
    pending = _post(api, w, "7.00", card, "key-late-001").get_json()
    faults(acquirer)
    with admin_session(rt(wallet_app).sessions) as s:
        stale = topups.find(s, api.creds.tenant_id, pending["id"])
    assert _reconcile(wallet_app).failed == 1
    with admin_session(rt(wallet_app).sessions) as s:
        after = topups.charge_and_settle(rt(wallet_app).acquirer, s, stale, CardData(VISA, 12, 2099), "late")
    assert after.status == "failed"
    assert [c["status"] for c in charges(acquirer)] == ["voided"]
    _books_balance(wallet_app, acquirer)


def test_an_unfinished_void_is_finished_by_reconcile(wallet_app, acquirer):
    api = api_for(wallet_app)
    w, card = api.wallet()["id"], api.card()["id"]
    faults(acquirer, fail_before=1)
    pending = _post(api, w, "8.00", card, "key-void-001").get_json()
    faults(acquirer)
    with admin_session(rt(wallet_app).sessions) as s:
        stale = topups.find(s, api.creds.tenant_id, pending["id"])
    _reconcile(wallet_app)
    acquirer_url = rt(wallet_app).acquirer
    real_void = acquirer_url.void
    rt(wallet_app).acquirer.void = lambda _id: (_ for _ in ()).throw(topups.OutcomeUnknown("down"))
    with admin_session(rt(wallet_app).sessions) as s:
        topups.charge_and_settle(rt(wallet_app).acquirer, s, stale, CardData(VISA, 12, 2099), "late")
    assert [c["status"] for c in charges(acquirer)] == ["approved"]
    rt(wallet_app).acquirer.void = real_void
    assert _reconcile(wallet_app).voided == 1
    assert [c["status"] for c in charges(acquirer)] == ["voided"]
    _books_balance(wallet_app, acquirer)


THREADS, KEYS = 8, 6


def test_concurrent_same_key_topups_under_faults(wallet_app, acquirer):
    """Eight threads send each of six keys, retrying while the answer is pending, against an acquirer
    that fails a third of the charges before and a third after processing; then reconciliation."""
    api = api_for(wallet_app)
    w, card = api.wallet()["id"], api.card()["id"]
    faults(acquirer, fail_before=0.3, fail_after=0.3)
    answers: dict[str, set[str]] = {f"same-key-{k:03d}": set() for k in range(KEYS)}
    lock = threading.Lock()
    barrier = threading.Barrier(THREADS)
    unexpected: list[str] = []

    def client(n: int) -> None:
        mine = Api(wallet_app.test_client(), api.creds, api.token)
        barrier.wait()
        for key in answers:
            for _attempt in range(4):
                r = _post(mine, w, "2.50", card, key)
                if r.status_code == 201:
                    with lock:
                        answers[key].add(r.get_json()["id"])
                    break
                if r.status_code not in (202, 502):
                    unexpected.append(f"{key}: {r.status_code} {r.get_json()}")
                    break

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(client, range(THREADS)))
    assert unexpected == []
    assert all(len(ids) <= 1 for ids in answers.values())  # one top-up per key
    faults(acquirer)
    _reconcile(wallet_app)
    by_reference: dict[str, int] = {}
    for c in charges(acquirer):
        by_reference[c["reference"]] = by_reference.get(c["reference"], 0) + 1
    assert all(n == 1 for n in by_reference.values())  # one charge per top-up
    with admin_session(rt(wallet_app).sessions) as s:
        statuses = [r[0] for r in s.execute(text("SELECT status FROM movements WHERE kind = 'topup'"))]
    assert len(statuses) == KEYS and "pending" not in statuses
    balance = api.get(f"/v1/wallets/{w}").get_json()["balance"]
    assert balance == f"{statuses.count('completed') * 2.5:.2f}"
    _books_balance(wallet_app, acquirer)


def test_the_server_reconciles_in_the_background(app_factory, sqlite_url, acquirer, caplog):
    app = app_factory(
        sqlite_url, acquirer="http", acquirer_url=acquirer.url, acquirer_timeout=0.5, reconcile_interval=0.05
    )
    api = api_for(app)
    w, card = api.wallet()["id"], api.card()["id"]
    faults(acquirer, fail_after=1)
    pending = _post(api, w, "9.00", card, "key-bg-0001").get_json()
    faults(acquirer)
    keeper = Housekeeper(rt(app), anchor_every=0.05)
    keeper.start()
    deadline = time.monotonic() + 20
    while api.get(f"/v1/topups/{pending['id']}").get_json()["status"] == "pending":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    keeper.stop()
    assert api.get(f"/v1/wallets/{w}").get_json()["balance"] == "9.00"
    _books_balance(app, acquirer)
    assert "reconciled top-ups" in caplog.text
    rt(app).anchors = DirectoryAnchors(Path(sqlite_url.removeprefix("sqlite:///")))  # a file, not a directory
    keeper.anchor_now()
    assert "audit anchoring failed" in caplog.text
