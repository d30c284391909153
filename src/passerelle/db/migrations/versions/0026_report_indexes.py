"""The transparency report counts from indexes alone: cases by period, source and tier;
decisions by period with what the last decision of each case says.

Revision ID: 0026
Revises: 0025
"""

from __future__ import annotations

from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_cases_report", "cases", ["agency_id", "created_at", "source", "top_tier"])
    op.create_index(
        "ix_decisions_report",
        "decisions",
        ["agency_id", "decided_at", "case_id", "id", "verdict", "category", "reason"],
    )


def downgrade() -> None:
    op.drop_index("ix_decisions_report", "decisions")
    op.drop_index("ix_cases_report", "cases")
