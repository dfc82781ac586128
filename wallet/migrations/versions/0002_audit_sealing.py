"""Audit entries are appended unsealed and sealed into the hash chain afterwards, so writers no longer
queue on the chain's head row. Entries get their `seq` from the database; `chain_pos` is their place in
the chain. The append-only triggers now allow exactly one change: sealing an unsealed entry.

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"

_CONTENT = ("seq", "at", "tenant_id", "actor", "action", "subject", "outcome", "detail")
_SEALING_ONLY = "OLD.hash = '' AND NEW.hash <> '' AND NEW.chain_pos IS NOT NULL AND " + " AND ".join(
    f"NEW.{c} IS NOT DISTINCT FROM OLD.{c}" for c in _CONTENT
)


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
    else:
        op.execute("DROP TRIGGER audit_log_no_update")
    with op.batch_alter_table("audit_log", recreate="never") as batch:
        batch.add_column(sa.Column("chain_pos", sa.BigInteger))
    op.execute("UPDATE audit_log SET chain_pos = seq")
    op.create_index("ix_audit_log_chain_pos", "audit_log", ["chain_pos"], unique=True)
    op.create_index(
        "ix_audit_log_unsealed",
        "audit_log",
        ["seq"],
        postgresql_where=sa.text("hash = ''"),
        sqlite_where=sa.text("hash = ''"),
    )
    if postgres:
        op.execute("CREATE SEQUENCE audit_log_seq OWNED BY audit_log.seq")
        op.execute("SELECT setval('audit_log_seq', COALESCE((SELECT MAX(seq) FROM audit_log), 0) + 1, false)")
        op.execute("ALTER TABLE audit_log ALTER COLUMN seq SET DEFAULT nextval('audit_log_seq')")
        op.execute(
            "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN IF TG_OP = 'UPDATE' AND {_SEALING_ONLY} "
            "THEN RETURN NEW; END IF; RAISE EXCEPTION 'audit_log is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
    else:  # seq is SQLite's rowid, assigned on insert
        op.execute(
            "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
            f"WHEN NOT ({_SEALING_ONLY.replace('IS NOT DISTINCT FROM', 'IS')}) "
            "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
        )
