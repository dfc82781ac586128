"""16 threads, 1,000 random transfers across 20 wallets: money is conserved, nothing goes negative,
and every idempotent replay returns the original transfer."""

import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from tests.wallet.conftest import Api, api_for, rt
from wallet import audit, ledger_check
from wallet.db import admin_session
from wallet.ledger import Locked, _post
from wallet.models import AuditEntry, Movement, Posting, Wallet

THREADS, TRANSFERS, WALLETS = 16, 1000, 20


def test_concurrent_transfers(app_factory, any_db_url):
    app = app_factory(any_db_url)
    setup = api_for(app)
    card = setup.card()
    wallets = [setup.wallet(f"owner-{i}")["id"] for i in range(WALLETS)]
    for w in wallets:
        assert setup.topup(w, "100.00", card["id"]).status_code == 201
    originals: dict[str, dict] = {}
    lock = threading.Lock()
    failures: list[str] = []

    def worker(n: int) -> None:
        api = Api(app.test_client(), setup.creds, setup.token)
        rng = random.Random(n)
        for i in range(n, TRANSFERS, THREADS):
            src, dst = rng.sample(wallets, 2)
            amount = f"{rng.randint(1, 3000) / 100:.2f}"
            key = f"conc-{i:06d}"
            r = api.transfer(src, dst, amount, key)
            if r.status_code == 201:
                with lock:
                    originals[key] = {"body": (src, dst, amount), "transfer": r.get_json()}
                if i % 5 == 0:  # replay at once, while other threads move money
                    again = api.transfer(src, dst, amount, key)
                    if again.get_json() != r.get_json():
                        failures.append(f"replay of {key} differs")
            elif r.status_code != 422 or r.get_json()["detail"] != "insufficient funds":
                failures.append(f"{key}: {r.status_code} {r.get_json()}")

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(worker, range(THREADS)))
    assert failures == []
    assert len(originals) > TRANSFERS // 2

    api = Api(app.test_client(), setup.creds, setup.token)
    for key, seen in list(originals.items())[::7]:
        again = api.transfer(*seen["body"], key)
        assert again.status_code == 201 and again.get_json() == seen["transfer"]

    with admin_session(rt(app).sessions) as s:
        balances = dict(
            s.execute(select(Wallet.id, Wallet.balance_minor).where(Wallet.kind == "customer")).all()
        )
        assert sum(balances.values()) == WALLETS * 10_000
        assert min(balances.values()) >= 0
        unbalanced = s.execute(
            select(Posting.movement_id)
            .group_by(Posting.movement_id)
            .having(func.sum(Posting.amount_minor) != 0)
        ).all()
        assert unbalanced == []
        posted = dict(
            s.execute(
                select(Posting.wallet_id, func.sum(Posting.amount_minor)).group_by(Posting.wallet_id)
            ).all()
        )
        assert all(posted[w] == balances[w] for w in balances)
        transfers = s.scalar(select(func.count()).select_from(Movement).where(Movement.kind == "transfer"))
        assert transfers == len(originals)
        audited = s.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "money.transfer")
        )
        assert audited == transfers  # every movement has its entry, refused ones have none
        audit.seal_all(s, rt(app).audit_key)
        verdict = audit.verify(s, rt(app).audit_key, rt(app).anchors)
        assert verdict.ok, verdict.problem
        assert list(ledger_check.problems(s)) == []


def test_same_key_raced_from_many_threads(app_factory, any_db_url):
    app = app_factory(any_db_url)
    api = api_for(app)
    card = api.card()
    a, b = api.wallet("a")["id"], api.wallet("b")["id"]
    assert api.topup(a, "10.00", card["id"]).status_code == 201
    barrier = threading.Barrier(8)

    def send(_: int) -> tuple[int, str]:
        mine = Api(app.test_client(), api.creds, api.token)
        barrier.wait()
        r = mine.transfer(a, b, "1.00", "raced-key-1")
        return r.status_code, r.get_json()["id"]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(send, range(8)))
    assert {code for code, _ in results} == {201} and len({tid for _, tid in results}) == 1
    assert api.get(f"/v1/wallets/{a}").get_json()["balance"] == "9.00"
    with admin_session(rt(app).sessions) as s:
        assert list(ledger_check.problems(s)) == []


def test_reused_key_is_answered_with_the_original(app_factory, any_db_url):
    """The unique key catches the reuse when the movement is inserted; a replay that would now be refused
    (the funds are gone) still gets the original answer, and a different body with the key is a 409."""
    app = app_factory(any_db_url)
    api = api_for(app)
    card = api.card()
    a, b = api.wallet("a")["id"], api.wallet("b")["id"]
    assert api.topup(a, "10.00", card["id"]).status_code == 201
    first = api.transfer(a, b, "1.00", "late-key-01")
    assert first.headers["Idempotent-Replayed"] == "false"
    assert api.transfer(a, b, "9.00", "drain-key-01").status_code == 201
    again = api.transfer(a, b, "1.00", "late-key-01")
    assert again.status_code == 201 and again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert api.transfer(a, b, "2.00", "late-key-01").status_code == 409
    assert api.transfer(a, b, "1.00", "fresh-key-01").get_json()["detail"] == "insufficient funds"
    assert api.get(f"/v1/wallets/{a}").get_json()["balance"] == "0.00"


def test_unbalanced_postings_are_refused():
    with pytest.raises(AssertionError, match="unbalanced"):
        _post(None, None, [(Locked("w", "USD", "customer", 0), 5)], {})  # type: ignore[arg-type]
