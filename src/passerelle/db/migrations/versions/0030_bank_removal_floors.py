"""The generation up to which an agency's withdrawals were pruned from `bank_removals`: an
index older than it can no longer be caught up by a delta and is rebuilt.

Revision ID: 0030
Revises: 0029
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bank_removal_floors",
        sa.Column("agency_id", sa.String(36), primary_key=True),
        sa.Column("generation", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("bank_removal_floors")
