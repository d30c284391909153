"""Persisted jobs, URL re-checks, the time a referred URL went offline.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("referrals") as batch:
        batch.add_column(sa.Column("offline_at", _TZ))
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("agency_id", sa.String(36), sa.ForeignKey("agencies.id"), nullable=False),
        sa.Column("run_at", _TZ, nullable=False),
        sa.Column("locked_by", sa.String(64)),
        sa.Column("locked_until", _TZ),
        sa.Column("runs", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
        sa.Column("last_run_at", _TZ),
        sa.UniqueConstraint("kind", "agency_id", name="uq_jobs_kind_agency"),
    )
    op.create_index("ix_jobs_agency_id", "jobs", ["agency_id"])
    op.create_index("ix_jobs_run_at", "jobs", ["run_at"])
    op.create_table(
        "rechecks",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("referral_id", sa.String(36), sa.ForeignKey("referrals.id"), nullable=False),
        sa.Column("checked_at", _TZ, nullable=False),
        sa.Column("online", sa.Boolean, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_rechecks_referral_id", "rechecks", ["referral_id"])


def downgrade() -> None:
    op.drop_table("rechecks")
    op.drop_table("jobs")
    with op.batch_alter_table("referrals") as batch:
        batch.drop_column("offline_at")
