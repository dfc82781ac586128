"""The assessed entity: the organisation a scan was run for, stored with the scan so a report rendered
later (`comply report`, `comply soa`) names the same organisation on its cover.

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    with op.batch_alter_table("scans") as batch:
        batch.add_column(sa.Column("organisation", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("scans") as batch:
        batch.drop_column("organisation")
