"""A person's assigned cases are read from an index in the queue's order, holding only the
assigned cases: SQLite's planner took the index of every case of the agency (an index on
a column nearly always empty looked useless to it), and the dashboard read every open case
to find a person's few (0.8 s at 100,000 cases).

Revision ID: 0029
Revises: 0028
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None

ASSIGNED = sa.text("assigned_to IS NOT NULL")


def upgrade() -> None:
    op.drop_index("ix_cases_assigned_to", "cases")
    op.create_index(
        "ix_cases_assigned",
        "cases",
        ["agency_id", "assigned_to", "status", sa.text("score DESC"), "created_at", "id"],
        sqlite_where=ASSIGNED,
        postgresql_where=ASSIGNED,
    )


def downgrade() -> None:
    op.drop_index("ix_cases_assigned", "cases")
    op.create_index("ix_cases_assigned_to", "cases", ["assigned_to"])
