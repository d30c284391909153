"""Withdrawn bank entries kept with the reason, who withdrew them and when, so that the
console can list them and an administrator can reinstate one; and the index that pages a
bank's entries newest first by keyset.

Revision ID: 0031
Revises: 0030
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bank_withdrawals",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("bank_id", sa.String(36), sa.ForeignKey("banks.id"), nullable=False),
        sa.Column("entry_id", sa.String(36), nullable=False),
        sa.Column("signal_type", sa.String(16), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("quality", sa.Integer()),
        sa.Column("source_value", sa.Text()),
        sa.Column("category", sa.String(1)),
        sa.Column("tier", sa.String(32)),
        sa.Column("tags_json", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("tlp", sa.String(16)),
        sa.Column("distribution", sa.String(16)),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_by", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("reinstated_at", sa.DateTime(timezone=True)),
        sa.Column("reinstated_by", sa.String(64)),
    )
    op.create_index(
        "ix_bank_withdrawals_bank_withdrawn", "bank_withdrawals", ["bank_id", "withdrawn_at", "id"]
    )
    op.create_index("ix_bank_entries_bank_added", "bank_entries", ["bank_id", "added_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_bank_entries_bank_added", table_name="bank_entries")
    op.drop_index("ix_bank_withdrawals_bank_withdrawn", table_name="bank_withdrawals")
    op.drop_table("bank_withdrawals")
