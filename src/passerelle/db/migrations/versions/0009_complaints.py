"""Host acknowledgements and removal declarations; complaints.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("referrals") as batch:
        batch.add_column(sa.Column("acknowledged_at", _TZ))
        batch.add_column(sa.Column("removal_declared_at", _TZ))
    op.create_table(
        "complaints",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("agency_id", sa.String(36), sa.ForeignKey("agencies.id"), nullable=False),
        sa.Column("referral_id", sa.String(36), sa.ForeignKey("referrals.id"), nullable=False),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("created_at", _TZ, nullable=False),
        sa.Column("deadline_at", _TZ, nullable=False),
        sa.Column("outcome", sa.String(16)),
        sa.Column("decided_by", sa.String(64)),
        sa.Column("decided_at", _TZ),
        sa.Column("rationale", sa.Text),
    )
    for column in ("agency_id", "referral_id", "case_id", "deadline_at"):
        op.create_index(f"ix_complaints_{column}", "complaints", [column])


def downgrade() -> None:
    op.drop_table("complaints")
    with op.batch_alter_table("referrals") as batch:
        batch.drop_column("removal_declared_at")
        batch.drop_column("acknowledged_at")
