from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.orm import Session

from wallet import audit, migrate
from wallet.anchors import AuditKey
from wallet.db import make_engine
from wallet.models import Base


def test_migrations_match_models_and_rerun(any_db_url):
    engine = make_engine(any_db_url)
    assert migrate.current_revision(engine) is None and not migrate.is_current(engine)
    migrate.upgrade(engine)
    migrate.upgrade(engine)
    assert migrate.is_current(engine) and migrate.current_revision(engine) == migrate.head_revision()
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    engine.dispose()


def test_upgrade_keeps_an_existing_chain_valid(any_db_url):
    """Entries chained by revision 0001 (head row locked per append) verify after 0002, and new
    entries are sealed after them."""
    engine = make_engine(any_db_url)
    migrate.upgrade(engine, "0001")
    prev = audit.GENESIS
    with engine.begin() as conn:
        for seq in (1, 2, 3):
            values = {
                "seq": seq,
                "at": "2026-01-01T00:00:00+00:00",
                "tenant_id": None,
                "actor": "operator",
                "action": "test.old",
                "subject": f"s{seq}",
                "outcome": "success",
                "detail": "{}",
                "prev_hash": prev,
            }
            prev = audit.entry_hash(values)
            conn.execute(
                text(
                    "INSERT INTO audit_log (seq, at, tenant_id, actor, action, subject, outcome, detail,"
                    " prev_hash, hash) VALUES (:seq, :at, :tenant_id, :actor, :action, :subject, :outcome,"
                    " :detail, :prev_hash, :hash)"
                ),
                {**values, "hash": prev},
            )
        conn.execute(text("UPDATE audit_head SET seq = 3, hash = :h WHERE id = 1"), {"h": prev})
    migrate.upgrade(engine)
    key = AuditKey.generate()
    with Session(engine, info={"unscoped": True}) as s:
        assert audit.verify(s, key, None) == audit.Verdict(True, 3)
        audit.record(s, action="test.new", actor="operator")
        s.commit()
        audit.seal_all(s, key)
        assert audit.verify(s, key, None) == audit.Verdict(True, 4)  # entry 4 is MAC'd, 1-3 are not
        assert s.scalar(text("SELECT hash FROM audit_log WHERE chain_pos = 4")) != audit.entry_hash(
            {**s.execute(text("SELECT * FROM audit_log WHERE chain_pos = 4")).one()._asdict()}
        )
    engine.dispose()
