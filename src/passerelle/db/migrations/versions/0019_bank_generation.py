"""The generation of the banks: a counter bumped in the same transaction as every change to a
bank or its entries, the generation at which each entry was added, and the entries withdrawn
(with the generation of their withdrawal), so that a match index on disk knows whether it is
current and catches up with what changed since, instead of being rebuilt.

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bank_generation",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("generation", sa.BigInteger, nullable=False),
    )
    op.execute("INSERT INTO bank_generation (id, generation) VALUES (1, 1)")
    with op.batch_alter_table("bank_entries") as batch:
        batch.add_column(sa.Column("generation", sa.BigInteger, nullable=False, server_default="0"))
    op.create_index("ix_bank_entries_generation", "bank_entries", ["generation"])
    op.create_table(
        "bank_removals",
        sa.Column("entry_id", sa.String(36), primary_key=True),
        sa.Column("agency_id", sa.String(36), nullable=False),
        sa.Column("generation", sa.BigInteger, nullable=False),
    )
    op.create_index(
        "ix_bank_removals_agency_generation", "bank_removals", ["agency_id", "generation"]
    )


def downgrade() -> None:
    op.drop_index("ix_bank_removals_agency_generation", table_name="bank_removals")
    op.drop_table("bank_removals")
    op.drop_index("ix_bank_entries_generation", table_name="bank_entries")
    with op.batch_alter_table("bank_entries") as batch:
        batch.drop_column("generation")
    op.drop_table("bank_generation")
