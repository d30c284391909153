"""The queue's tier filter reads the case's most urgent tier from an index.

Revision ID: 0024
Revises: 0023
"""

from __future__ import annotations

from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_cases_queue_tier", "cases", ["agency_id", "status", "top_tier"])


def downgrade() -> None:
    op.drop_index("ix_cases_queue_tier", "cases")
