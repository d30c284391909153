"""Indexes in the orders of the queue, so that a page of open cases is read from an index
(status, then the order) and never sorted whole: most urgent first, and by opening.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

INDEXES: dict[str, list[str | sa.TextClause]] = {
    "ix_cases_queue_status_score": [
        "agency_id",
        "status",
        sa.text("score DESC"),
        "created_at",
        "id",
    ],
    "ix_cases_queue_status_opened": ["agency_id", "status", "created_at", "id"],
    "ix_cases_queue_score": ["agency_id", sa.text("score DESC"), "created_at", "id"],
    "ix_cases_queue_opened": ["agency_id", "created_at", "id"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "cases", columns)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, "cases")
