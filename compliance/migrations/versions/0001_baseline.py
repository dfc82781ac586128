"""Baseline: scans, evidence records, findings, requirement results, waivers used, attestations.

This is the layout comply wrote before the store was versioned, so an unversioned store with exactly
these tables is stamped at this revision and upgraded from there.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def _scan_fk() -> sa.Column:
    return sa.Column("scan_id", sa.String(32), sa.ForeignKey("scans.id", ondelete="CASCADE"),
                     primary_key=True)


def upgrade() -> None:
    op.create_table(
        "scans",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("target", sa.String(32), nullable=False),
        sa.Column("started_at", sa.String(40), nullable=False, index=True),
        sa.Column("finished_at", sa.String(40), nullable=True),
        sa.Column("tool_version", sa.String(40), nullable=False),
        sa.Column("scope", sa.JSON, nullable=False),
        sa.Column("identity", sa.JSON, nullable=False),
        sa.Column("catalog_versions", sa.JSON, nullable=False),
        sa.Column("options", sa.JSON, nullable=False),
    )
    op.create_table(
        "evidence_records",
        _scan_fk(),
        sa.Column("id", sa.String(400), primary_key=True),
        sa.Column("body", sa.JSON, nullable=False),
    )
    op.create_table(
        "findings",
        _scan_fk(),
        sa.Column("uid", sa.String(32), primary_key=True),
        sa.Column("check_id", sa.String(200), nullable=False, index=True),
        sa.Column("resource_id", sa.Text, nullable=False),
        sa.Column("resource_type", sa.String(200), nullable=False),
        sa.Column("region", sa.String(64), nullable=True),
        sa.Column("status", sa.String(8), nullable=False, index=True),
        sa.Column("severity", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("evidence_ids", sa.JSON, nullable=False),
        sa.Column("suppressed_by", sa.Text, nullable=True),
    )
    op.create_table(
        "requirement_results",
        _scan_fk(),
        sa.Column("framework", sa.String(40), primary_key=True),
        sa.Column("requirement_id", sa.String(40), primary_key=True),
        sa.Column("result", sa.String(20), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("check_ids", sa.JSON, nullable=False),
        sa.Column("compensating", sa.JSON, nullable=False),
        sa.Column("attestation_ids", sa.JSON, nullable=False),
    )
    op.create_table(
        "scan_waivers",
        _scan_fk(),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("body", sa.JSON, nullable=False),
    )
    op.create_table(
        "attestations",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("framework", sa.String(40), nullable=False, index=True),
        sa.Column("requirement_id", sa.String(40), nullable=False, index=True),
        sa.Column("attested_by", sa.String(200), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("expires_at", sa.String(40), nullable=False),
        sa.Column("files", sa.JSON, nullable=False),
    )
    op.create_table(
        "attestation_files",
        sa.Column("attestation_id", sa.String(32), sa.ForeignKey("attestations.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(400), nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
    )
