"""A bank's counts raised once per insert of entries, not three times per entry; no index
on bank_id alone.

Migration 0032 kept `bank_entry_counts` by triggers on every insert, delete and change of a
bank entry. On an import of a million entries the insert trigger (three upserts a row) made
the insert twice as long. Entries are inserted by one code path only,
`SqlBankRepo.add_entries`, which now raises the counts by one statement per key for all the
rows it inserts, in the same transaction. Deletions and changes of entries are still counted
by the triggers, whichever path makes them.

The index of bank_entries on bank_id alone goes: every other index of the table begins with
bank_id, and the planner, offered it, read all of a bank's entries to find the few an import
brings again rather than take the bank's unique index.

Revision ID: 0034
Revises: 0033
"""

from __future__ import annotations

from alembic import op

revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None

WATCHED = "bank_id, signal_type, tlp, distribution"
ADDED = (
    ("type", "NEW.signal_type"),
    ("tlp", "COALESCE(NEW.tlp, '')"),
    ("distribution", "COALESCE(NEW.distribution, '')"),
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER bank_entries_counted ON bank_entries")
        op.execute(
            "CREATE TRIGGER bank_entries_counted AFTER DELETE OR UPDATE OF "
            f"{WATCHED} ON bank_entries FOR EACH ROW EXECUTE FUNCTION bank_entries_counted()"
        )
    else:
        op.execute("DROP TRIGGER bank_entries_counted_insert")
    op.drop_index("ix_bank_entries_bank_id", table_name="bank_entries")


def downgrade() -> None:
    op.create_index("ix_bank_entries_bank_id", "bank_entries", ["bank_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER bank_entries_counted ON bank_entries")
        op.execute(
            "CREATE TRIGGER bank_entries_counted AFTER INSERT OR DELETE OR UPDATE OF "
            f"{WATCHED} ON bank_entries FOR EACH ROW EXECUTE FUNCTION bank_entries_counted()"
        )
    else:
        added = "\n".join(
            "INSERT INTO bank_entry_counts (bank_id, dimension, key, n) "  # noqa: S608
            f"VALUES (NEW.bank_id, '{name}', {key}, 1) "
            "ON CONFLICT (bank_id, dimension, key) DO UPDATE SET n = bank_entry_counts.n + 1;"
            for name, key in ADDED
        )
        op.execute(
            "CREATE TRIGGER bank_entries_counted_insert AFTER INSERT ON bank_entries"
            f" BEGIN\n{added}\nEND"
        )
