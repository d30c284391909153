"""Entries passed on from a partner (distribution "onward"): where they came from, and the
limits they keep (they never widen).

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("exchange_events") as batch:
        batch.add_column(sa.Column("origin", sa.String(32)))
        batch.add_column(sa.Column("tlp_floor", sa.String(16)))


def downgrade() -> None:
    with op.batch_alter_table("exchange_events") as batch:
        batch.drop_column("tlp_floor")
        batch.drop_column("origin")
