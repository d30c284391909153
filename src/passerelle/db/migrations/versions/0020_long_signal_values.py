"""Long signal values (a video's vpdq: one PDQ hash per sampled frame, tens of kilobytes) in
PostgreSQL's indexes: a B-tree row holds at most a few kilobytes, so the unique entry of a bank
and the look-up of partner signals index the MD5 of the value instead of the value itself.
SQLite has no such limit and keeps its indexes.

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_constraint("uq_bank_entries_signal", "bank_entries", type_="unique")
    op.execute(
        "CREATE UNIQUE INDEX uq_bank_entries_signal"
        " ON bank_entries (bank_id, signal_type, md5(value))"
    )
    op.drop_index("ix_partner_signals_value", table_name="partner_signals")
    op.execute("CREATE INDEX ix_partner_signals_value ON partner_signals (md5(value))")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_partner_signals_value", table_name="partner_signals")
    op.create_index("ix_partner_signals_value", "partner_signals", ["value"])
    op.drop_index("uq_bank_entries_signal", table_name="bank_entries")
    op.create_unique_constraint(
        "uq_bank_entries_signal", "bank_entries", ["bank_id", "signal_type", "value"]
    )
