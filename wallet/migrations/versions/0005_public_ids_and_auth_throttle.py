"""Postings get a random public id (`pst_…`): the integer key is a global sequence, and handing it out (as
the posting's id and in transaction-history cursors) told every tenant how many postings all tenants
together had written. The integer stays the internal key and ordering. On PostgreSQL the column has a
random default, so the `wallet_transfer` function (migration 0003) needs no change; on SQLite the
application supplies it.

`auth_throttle` counts failed client authentications per client id and per source address across all
server processes, and records lockouts (PCI DSS 8.3.4).

Revision ID: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"

_TS = sa.DateTime(timezone=True)
_PG_RANDOM_ID = "'pst_' || replace(gen_random_uuid()::text, '-', '')"


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute(
            f"ALTER TABLE postings ADD COLUMN public_id varchar(40) NOT NULL DEFAULT ({_PG_RANDOM_ID})"
        )
    else:
        op.add_column("postings", sa.Column("public_id", sa.String(40)))
        op.execute("UPDATE postings SET public_id = 'pst_' || lower(hex(randomblob(16)))")
        with op.batch_alter_table("postings", recreate="always") as batch:
            batch.alter_column("public_id", existing_type=sa.String(40), nullable=False)
    op.create_index("ix_postings_public_id", "postings", ["public_id"], unique=True)
    op.create_table(
        "auth_throttle",
        sa.Column("key", sa.String(120), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("window_start", _TS, nullable=False),
        sa.Column("locked_until", _TS),
    )


def downgrade() -> None:
    op.drop_table("auth_throttle")
    op.drop_index("ix_postings_public_id", "postings")
    with op.batch_alter_table("postings") as batch:
        batch.drop_column("public_id")
