import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.wallet.conftest import api_for, rt
from wallet import audit
from wallet.db import admin_session


def _activity(app):
    api = api_for(app)
    w, card = api.wallet(), api.card()
    assert api.topup(w["id"], "5.00", card["id"]).status_code == 201
    b = api.wallet("b")
    assert api.transfer(w["id"], b["id"], "1.00", "audit-000001").status_code == 201
    return api


def _actions(app):
    with admin_session(rt(app).sessions) as s:
        return [r[0] for r in s.execute(text("SELECT action FROM audit_log ORDER BY seq"))]


def test_everything_is_recorded(app):
    _activity(app)
    app.test_client().post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": "Basic bm9ib2R5Om5vcGU="},
    )
    actions = _actions(app)
    for expected in (
        "tenant.create",
        "client.create",
        "key.create",
        "auth.token",
        "card.store",
        "money.topup",
        "money.transfer",
    ):
        assert expected in actions
    with admin_session(rt(app).sessions) as s:
        outcomes = [
            r[0] for r in s.execute(text("SELECT outcome FROM audit_log WHERE action = 'auth.token'"))
        ]
        assert outcomes == ["success", "failure"]
        audit.seal_all(s, rt(app).audit_key)
        verdict = audit.verify(s, rt(app).audit_key, rt(app).anchors)
    assert verdict.ok and verdict.entries == len(actions)


def _tamper(app, *statements):
    """Tamper with the sealed chain (sealing first: before that, only the triggers guard an entry)."""
    with admin_session(rt(app).sessions) as s:
        audit.seal_all(s, rt(app).audit_key)
    with rt(app).engine.begin() as conn:
        for sql in statements:
            conn.execute(text(sql))
    with admin_session(rt(app).sessions) as s:
        return audit.verify(s, rt(app).audit_key, rt(app).anchors)


def _drop_guard(app):
    if rt(app).engine.dialect.name == "postgresql":
        return ["DROP TRIGGER audit_log_append_only ON audit_log"]
    return ["DROP TRIGGER audit_log_no_update", "DROP TRIGGER audit_log_no_delete"]


def test_database_refuses_rewrites(app_factory, any_db_url):
    app = app_factory(any_db_url)
    _activity(app)
    for sql in ("UPDATE audit_log SET actor = 'x' WHERE seq = 2", "DELETE FROM audit_log WHERE seq = 2"):
        with pytest.raises(DBAPIError, match="append-only"), rt(app).engine.begin() as conn:
            conn.execute(text(sql))


def _append_unsealed(app):
    with admin_session(rt(app).sessions) as s:
        audit.record(s, action="test.event", actor="tester", subject="x")
        s.commit()
        return s.scalar(text("SELECT MAX(seq) FROM audit_log WHERE hash = ''"))


def test_only_sealing_may_change_an_entry(app_factory, any_db_url):
    app = app_factory(any_db_url)
    unsealed = _append_unsealed(app)
    with pytest.raises(DBAPIError, match="append-only"), rt(app).engine.begin() as conn:
        conn.execute(
            text(f"UPDATE audit_log SET actor = 'x', hash = 'f', chain_pos = 99 WHERE seq = {unsealed}")
        )
    with admin_session(rt(app).sessions) as s:
        assert audit.verify(s, rt(app).audit_key, None).unsealed == 1  # verify seals nothing
        audit.seal_all(s, rt(app).audit_key)
        assert audit.verify(s, rt(app).audit_key, None).ok
    with pytest.raises(DBAPIError, match="append-only"), rt(app).engine.begin() as conn:
        conn.execute(text(f"UPDATE audit_log SET hash = 'f', chain_pos = 99 WHERE seq = {unsealed}"))


def test_sealer_links_entries_in_the_background(app):
    _append_unsealed(app)
    pending, deadline = 1, time.monotonic() + 10
    rt(app).sealer.nudge()
    while pending and time.monotonic() < deadline:
        time.sleep(0.02)
        with admin_session(rt(app).sessions) as s:
            pending = s.scalar(text("SELECT COUNT(*) FROM audit_log WHERE hash = ''"))
    assert pending == 0
    with admin_session(rt(app).sessions) as s:
        assert audit.verify(s, rt(app).audit_key, None).ok


def test_edited_entry_detected(app_factory, any_db_url):
    app = app_factory(any_db_url)
    _activity(app)
    verdict = _tamper(
        app,
        *_drop_guard(app),
        "UPDATE audit_log SET detail = '{\"amount_minor\": 1}' WHERE action = 'money.transfer'",
    )
    assert not verdict.ok and "forged or was altered" in verdict.problem


@pytest.mark.parametrize(
    ("where", "problem"), [("seq = 3", "missing"), ("seq = (SELECT MAX(seq) FROM audit_log)", "removed")]
)
def test_deleted_entry_detected(app, where, problem):
    _activity(app)
    verdict = _tamper(app, *_drop_guard(app), f"DELETE FROM audit_log WHERE {where}")
    assert not verdict.ok and problem in verdict.problem


def test_rewritten_chain_detected(app):
    _activity(app)
    verdict = _tamper(app, *_drop_guard(app), "UPDATE audit_log SET prev_hash = hash WHERE seq = 4")
    assert not verdict.ok and "does not follow" in verdict.problem


def test_a_sealer_that_would_wait_steps_aside(app_factory, postgres_url):
    app = app_factory(postgres_url)
    unsealed = _append_unsealed(app)
    with admin_session(rt(app).sessions) as holder, admin_session(rt(app).sessions) as other:
        key = rt(app).audit_key
        assert audit.seal(holder, key) == 1  # holds the head until it commits
        assert audit.seal_all(other, key, wait=False) is None
        holder.commit()
        assert audit.seal_all(other, key, wait=False) == 0
    with admin_session(rt(app).sessions) as s:
        assert s.scalar(text(f"SELECT chain_pos FROM audit_log WHERE seq = {unsealed}")) is not None
