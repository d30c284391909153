"""SQLite keeps one index on the values of bank entries, not two.

A bank entry's value was in the bank's unique key (bank, signal type, value) and again in
(bank, value) for the prefix search. Values are hashes, so each new entry lands on a random
page of both: an import of a million entries rewrote the pages of two large indexes with
each chunk (a quarter of its time went to the second). The prefix search now reads the
unique key, one range a signal type. PostgreSQL keeps its prefix index: there the unique key
holds the MD5 of the value, which no prefix search can read.

Revision ID: 0039
Revises: 0038
"""

from __future__ import annotations

from alembic import op

revision = "0039"
down_revision = "0038"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.drop_index("ix_bank_entries_bank_value", table_name="bank_entries")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.create_index("ix_bank_entries_bank_value", "bank_entries", ["bank_id", "value"])
