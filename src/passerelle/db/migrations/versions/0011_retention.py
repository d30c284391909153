"""Legal holds on cases; the time an item's preserved content was purged.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("legal_hold_until", _TZ))
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("purged_at", _TZ))


def downgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.drop_column("purged_at")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("legal_hold_until")
