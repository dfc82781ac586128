"""Top-ups become a state machine and charges are recorded; the audit chain is MAC'd from here on.

A top-up is a movement recorded `pending` before its card is charged (a partial index finds the pending
ones for reconciliation); `charges` keeps every charge the acquirer made for a top-up and whether it was
credited or voided. Entries sealed from now on carry an HMAC under a key kept outside the database;
`audit_head.mac_from` says where that starts, so a chain sealed before this revision still verifies.

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "charges",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), nullable=False, index=True),
        sa.Column("topup_id", sa.String(40), sa.ForeignKey("movements.id"), nullable=False, index=True),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
    )
    # Top-ups credited before this revision were charged and credited in one step: record their charges.
    op.execute(
        "INSERT INTO charges (id, tenant_id, topup_id, status, reason, amount_minor, currency, created_at,"
        " updated_at) SELECT acquirer_ref, tenant_id, id, 'approved', '', amount_minor, currency, created_at,"
        " created_at FROM movements WHERE kind = 'topup' AND acquirer_ref IS NOT NULL"
    )
    op.create_index(
        "ix_movements_pending",
        "movements",
        ["created_at"],
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    )
    with op.batch_alter_table("audit_head", recreate="never") as batch:
        batch.add_column(sa.Column("mac_from", sa.BigInteger, nullable=False, server_default=sa.text("1")))
    op.execute("UPDATE audit_head SET mac_from = seq + 1")


def downgrade() -> None:
    with op.batch_alter_table("audit_head") as batch:
        batch.drop_column("mac_from")
    op.drop_index("ix_movements_pending", "movements")
    op.drop_table("charges")
