"""The audit log against whoever owns its database: entries MAC'd under a key outside it, the chain head
anchored outside it (a directory, or S3 with Object Lock via moto), and `verify` saying what happened."""

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from sqlalchemy import text

from tests.wallet.conftest import api_for, rt
from wallet import audit
from wallet.anchors import Anchor, AnchorError, AuditKey, DirectoryAnchors, S3Anchors, anchor_log
from wallet.db import admin_session, make_engine, session_factory
from wallet.housekeeping import Housekeeper, seal_and_anchor


def _activity(app, n=2):
    api = api_for(app)
    w, card = api.wallet(), api.card()
    for _ in range(n):
        assert api.topup(w["id"], "5.00", card["id"]).status_code == 201
    return api


def _verify(app):
    with admin_session(rt(app).sessions) as s:
        return audit.verify(s, rt(app).audit_key, rt(app).anchors)


def _sql(app, *statements):
    with rt(app).engine.begin() as conn:
        for sql in statements:
            conn.execute(text(sql))


def _drop_guard(app):
    if rt(app).engine.dialect.name == "postgresql":
        return ["DROP TRIGGER audit_log_append_only ON audit_log"]
    return ["DROP TRIGGER audit_log_no_update", "DROP TRIGGER audit_log_no_delete"]


def _anchored(app):
    seal_and_anchor(rt(app))
    return rt(app).anchors.newest()


def test_anchor_follows_the_chain_and_verify_reaches_it(app_factory, any_db_url):
    app = app_factory(any_db_url)
    _activity(app)
    first = _anchored(app)
    assert first is not None and first.valid(rt(app).audit_key.public) and first.mac_from == 1
    assert _anchored(app) == first  # nothing new: nothing appended
    _activity(app, 1)
    with admin_session(rt(app).sessions) as s:
        audit.record(s, action="test.unsealed", actor="tester")
        s.commit()
        verdict = audit.verify(s, rt(app).audit_key, rt(app).anchors)
    assert verdict.ok and verdict.anchor == first
    second = _anchored(app)
    assert second.pos > first.pos and second.postings > first.postings
    verdict = _verify(app)
    assert verdict.ok and verdict.entries == second.pos and verdict.unsealed == 0


def test_deleted_newest_entries(app_factory, any_db_url):
    app = app_factory(any_db_url)
    _activity(app)
    newest = _anchored(app)
    _sql(
        app,
        *_drop_guard(app),
        f"DELETE FROM audit_log WHERE chain_pos > {newest.pos - 3}",
        f"UPDATE audit_head SET seq = {newest.pos - 3}, "
        f"hash = (SELECT hash FROM audit_log WHERE chain_pos = {newest.pos - 3})",
    )
    verdict = _verify(app)
    assert not verdict.ok and "the newest 3 entries were deleted" in verdict.problem


def test_emptied_log(app_factory, any_db_url):
    app = app_factory(any_db_url)
    _activity(app)
    _anchored(app)
    _sql(
        app,
        *_drop_guard(app),
        "DELETE FROM audit_log",
        f"UPDATE audit_head SET seq = 0, hash = '{audit.GENESIS}'",
    )
    verdict = _verify(app)
    assert not verdict.ok and "emptied" in verdict.problem


def test_forged_entry(app_factory, any_db_url):
    """An entry rewritten and the whole chain after it re-linked with bare SHA-256, as a database owner
    without the audit key can: the MAC gives it away."""
    app = app_factory(any_db_url)
    _activity(app)
    newest = _anchored(app)
    _sql(app, *_drop_guard(app))
    with admin_session(rt(app).sessions) as s:
        rows = s.execute(text("SELECT * FROM audit_log ORDER BY chain_pos")).mappings().all()
    prev = audit.GENESIS
    with rt(app).engine.begin() as conn:
        for row in rows:
            values = {**row, "prev_hash": prev}
            if row["chain_pos"] == 2:
                values["actor"] = "forger"
            prev = audit.entry_hash(values)
            conn.execute(
                text("UPDATE audit_log SET actor = :a, prev_hash = :p, hash = :h WHERE seq = :s"),
                {"a": values["actor"], "p": values["prev_hash"], "h": prev, "s": row["seq"]},
            )
        conn.execute(text("UPDATE audit_head SET hash = :h"), {"h": prev})
    verdict = _verify(app)
    assert not verdict.ok and "entry 1 is forged" in verdict.problem
    assert newest.pos == len(rows)


def test_rollback_to_an_older_copy(app_factory, sqlite_url, tmp_path):
    app = app_factory(sqlite_url)
    _activity(app)
    _anchored(app)
    db = Path(sqlite_url.removeprefix("sqlite:///"))
    with sqlite3.connect(db) as live, sqlite3.connect(tmp_path / "older.db") as copy:
        live.backup(copy)  # what an owner's backup holds
    _activity(app)
    _anchored(app)
    older = make_engine(f"sqlite:///{tmp_path / 'older.db'}")  # the database, restored from that copy
    with session_factory(older)(info={"unscoped": True}) as s:
        verdict = audit.verify(s, rt(app).audit_key, rt(app).anchors)
        assert not verdict.ok and "rolled back to an older copy" in verdict.problem
        with pytest.raises(audit.AnchorConflict, match="behind the newest anchor"):
            audit.anchor(s, rt(app).audit_key, rt(app).anchors)
    older.dispose()


def test_rollback_on_postgres(app_factory, postgres_url, postgres_server):
    """A copy of the database taken earlier (CREATE DATABASE ... TEMPLATE) comes back as the wallet's."""
    from tests.postgres import create_database

    app = app_factory(postgres_url)
    _activity(app)
    _anchored(app)
    rt(app).engine.dispose()
    source = postgres_url.rsplit("/", 1)[1]
    copy_name = f"{source}_older"
    with make_engine(postgres_server.url()).connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # a template must have no other session: the app's background sealer may have reconnected
        conn.exec_driver_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             f"WHERE datname = '{source}' AND pid <> pg_backend_pid()")
        conn.exec_driver_sql(f'CREATE DATABASE "{copy_name}" TEMPLATE "{source}"')
    rt(app).engine.dispose()  # drop any pooled connection the terminate above ended
    _activity(app)
    _anchored(app)
    older = make_engine(postgres_server.url(copy_name))
    with session_factory(older)(info={"unscoped": True}) as s:
        verdict = audit.verify(s, rt(app).audit_key, rt(app).anchors)
        assert not verdict.ok and "rolled back" in verdict.problem
        with pytest.raises(audit.AnchorConflict):
            audit.anchor(s, rt(app).audit_key, rt(app).anchors)
    older.dispose()
    assert create_database  # the fixture module's helper, imported for readers


def test_rewritten_history_and_forged_anchors(app, tmp_path):
    _activity(app)
    newest = _anchored(app)
    log = rt(app).anchors
    assert isinstance(log, DirectoryAnchors)
    other_key = AuditKey.generate()
    log.append(Anchor(newest.pos, "f" * 64, 1, newest.postings, Anchor.now()).signed(other_key))
    assert "not signed by this audit key" in _verify(app).problem
    log.append(Anchor(newest.pos, "f" * 64, 1, newest.postings, Anchor.now()).signed(rt(app).audit_key))
    assert "the chain was rewritten" in _verify(app).problem
    log.append(Anchor(newest.pos, newest.hash, 7, newest.postings, Anchor.now()).signed(rt(app).audit_key))
    assert "MAC sealing starts" in _verify(app).problem
    with pytest.raises(audit.AnchorConflict, match="no longer matches"), admin_session(rt(app).sessions) as s:
        _activity(app, 1)
        audit.seal_all(s, rt(app).audit_key)
        log.append(Anchor(1, "0" * 64, 1, 0, Anchor.now()).signed(rt(app).audit_key))
        audit.anchor(s, rt(app).audit_key, log)
    log.path.write_text("not json\n")
    assert "malformed" in _verify(app).problem


def test_keys_and_logs(tmp_path):
    path = tmp_path / "keys" / "audit.key"
    with pytest.raises(AnchorError, match="not found"):
        AuditKey.load(path)
    made = AuditKey.load(path, create=True)
    assert path.stat().st_mode & 0o777 == 0o600 and AuditKey.load(path).fingerprint == made.fingerprint
    path.write_bytes(b"short")
    with pytest.raises(AnchorError, match="32 bytes"):
        AuditKey.load(path)
    assert DirectoryAnchors(tmp_path / "none").newest() is None
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the directory should be")
    with pytest.raises(AnchorError, match="cannot append"):
        DirectoryAnchors(blocked).append(Anchor(1, "h", 1, 0, Anchor.now()))
    assert isinstance(anchor_log(str(tmp_path)), DirectoryAnchors)


def test_s3_anchor_log_with_object_lock(monkeypatch):
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        monkeypatch.setenv(name, value)
    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-west-1")
        s3.create_bucket(
            Bucket="anchors",
            CreateBucketConfiguration={"LocationConstraint": "eu-west-1"},
            ObjectLockEnabledForBucket=True,
        )
        log = anchor_log("s3://anchors/wallet/prod", region="eu-west-1")
        assert isinstance(log, S3Anchors) and log.newest() is None
        key = AuditKey.generate()
        for pos in (3, 9, 12):
            log.append(Anchor(pos, f"{pos:064x}", 1, pos, Anchor.now()).signed(key))
        newest = log.newest()
        assert newest is not None and newest.pos == 12 and newest.valid(key.public)
        listed = s3.list_objects_v2(Bucket="anchors", Prefix="wallet/prod/")["Contents"]
        head = s3.head_object(Bucket="anchors", Key=listed[0]["Key"])
        assert head["ObjectLockMode"] == "COMPLIANCE" and head["ObjectLockRetainUntilDate"] > datetime.now(
            UTC
        )
        version = s3.list_object_versions(Bucket="anchors")["Versions"][0]
        with pytest.raises(s3.exceptions.ClientError):
            s3.delete_object(Bucket="anchors", Key=version["Key"], VersionId=version["VersionId"])
        with pytest.raises(AnchorError, match="cannot"):
            anchor_log("s3://missing-bucket/x", region="eu-west-1").append(newest)


def test_housekeeper_anchors_and_stops_cleanly(app, caplog):
    _activity(app)
    keeper = Housekeeper(rt(app), anchor_every=0.05)
    keeper.start()
    keeper.stop()  # seals and anchors once more
    assert rt(app).anchors.newest() is not None and _verify(app).ok
    rt(app).anchors.append(Anchor(10**6, "x", 1, 0, Anchor.now()).signed(rt(app).audit_key))
    keeper.anchor_now()
    keeper.anchor_now()
    assert caplog.text.count("audit anchoring stopped") == 1
