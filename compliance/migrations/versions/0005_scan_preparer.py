"""The assessor or preparer a scan was run by (--preparer), stored with the scan like the organisation so a
report rendered later names the same preparer on its cover and as the PDF's author.

Revision ID: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    with op.batch_alter_table("scans") as batch:
        batch.add_column(sa.Column("preparer", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("scans") as batch:
        batch.drop_column("preparer")
