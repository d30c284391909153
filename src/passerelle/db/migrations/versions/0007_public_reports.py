"""Reports from the public form.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "public_reports",
        sa.Column("reference", sa.String(16), primary_key=True),
        sa.Column("agency_id", sa.String(36), sa.ForeignKey("agencies.id"), nullable=False),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id")),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("category", sa.String(1)),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("source_hash", sa.String(32)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_public_reports_agency_id", "public_reports", ["agency_id"])
    op.create_index("ix_public_reports_source_hash", "public_reports", ["source_hash"])
    op.create_index("ix_public_reports_created_at", "public_reports", ["created_at"])


def downgrade() -> None:
    op.drop_table("public_reports")
