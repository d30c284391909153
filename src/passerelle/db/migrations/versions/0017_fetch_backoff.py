"""A public report's page that cannot be fetched is tried again later and later: the failures
so far and the time of the next try.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.add_column(
            sa.Column("fetch_failures", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("fetch_retry_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.drop_column("fetch_retry_at")
        batch.drop_column("fetch_failures")
