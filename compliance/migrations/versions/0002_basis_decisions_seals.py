"""Who concluded what, and seals: each requirement result's basis, the waived findings behind it and
the decisions it rests on; scoping decisions; assessor reviews; and the seals of scans and records.

Results stored before this revision were drawn by checks and attestations alone: they read as basis
'automated' with nothing waived listed. Scans stored before it have no seal, and are refused when read.

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    with op.batch_alter_table("requirement_results") as batch:
        batch.add_column(sa.Column("basis", sa.String(16), nullable=False, server_default="automated"))
        batch.add_column(sa.Column("waived", sa.JSON, nullable=False, server_default="[]"))
        batch.add_column(sa.Column("decision_ids", sa.JSON, nullable=False, server_default="[]"))
    op.create_table(
        "scoping_decisions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("framework", sa.String(40), nullable=False, index=True),
        sa.Column("requirement_id", sa.String(40), nullable=False, index=True),
        sa.Column("justification", sa.Text, nullable=False),
        sa.Column("decided_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("expires_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "reviews",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("scan_id", sa.String(32), nullable=False, index=True),
        sa.Column("framework", sa.String(40), nullable=False),
        sa.Column("requirement_id", sa.String(40), nullable=False),
        sa.Column("result", sa.String(20), nullable=False),
        sa.Column("assessor", sa.String(200), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("signature", sa.JSON, nullable=True),
    )
    op.create_table(
        "seals",
        sa.Column("kind", sa.String(20), primary_key=True),
        sa.Column("record_id", sa.String(32), primary_key=True),
        sa.Column("body", sa.JSON, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("seals")
    op.drop_table("reviews")
    op.drop_table("scoping_decisions")
    with op.batch_alter_table("requirement_results") as batch:
        batch.drop_column("decision_ids")
        batch.drop_column("waived")
        batch.drop_column("basis")
