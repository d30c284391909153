"""When the page of a public report was fetched (or found gone), so it is fetched once.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("fetched_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.drop_column("fetched_at")
