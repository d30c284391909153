"""Who a case is assigned to (a username of its agency), and since when.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("assigned_to", sa.String(64)))
        batch.add_column(sa.Column("assigned_at", sa.DateTime(timezone=True)))
        batch.create_index("ix_cases_assigned_to", ["assigned_to"])


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_index("ix_cases_assigned_to")
        batch.drop_column("assigned_at")
        batch.drop_column("assigned_to")
