"""Work on a case: internal notes by the unit's people; on referrals, the statement of
reasons written for the host, the host's acts seen through its link, and the time an
approver overrode the observation holds of the moment.

Revision ID: 0027
Revises: 0026
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("referrals") as batch:
        batch.add_column(sa.Column("statement", sa.Text()))
        batch.add_column(sa.Column("hold_override_at", sa.DateTime(timezone=True)))
    op.create_table(
        "case_notes",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("agency_id", sa.String(36), sa.ForeignKey("agencies.id"), nullable=False),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_case_notes_case_id", "case_notes", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_case_notes_case_id", "case_notes")
    op.drop_table("case_notes")
    with op.batch_alter_table("referrals") as batch:
        batch.drop_column("hold_override_at")
        batch.drop_column("statement")
