"""A bank's counts kept as it changes, and the index that finds entries by the beginning of
their value.

The list of banks and a bank's page show how many entries each bank holds per signal type,
per marking and per distribution. Counting them on every view read every entry (1.4 s a view
at 100,000 entries). `bank_entry_counts` holds those counts per bank; triggers on
`bank_entries` keep it in the same transaction as every insert, delete and change of an
entry, whichever code path makes it (additions, imports, withdrawals, reinstatements, expiry,
partner feeds). A NULL marking or distribution is counted under the key ''.
`SqlBankRepo.recount` rebuilds a bank's counts from its entries should they ever drift.

The prefix search reads `ix_bank_entries_bank_value` by a range on the value; on PostgreSQL
the index and the search compare in the "C" collation (byte order), in which a range
`>= prefix AND < next prefix` is exactly the values that begin with the prefix. There the
index holds a value's first 64 characters only (`left(value, 64)`): a video's vPDQ value is
tens of kilobytes, more than a B-tree row takes, and the search takes its range on that same
expression (then on the whole value for a prefix longer than 64).

Revision ID: 0032
Revises: 0031
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None

DIMENSIONS = (
    ("type", "signal_type"),
    ("tlp", "COALESCE({row}.tlp, '')"),
    ("distribution", "COALESCE({row}.distribution, '')"),
)


def _key(expression: str, row: str) -> str:
    return expression.format(row=row) if "{row}" in expression else f"{row}.{expression}"


def _add(row: str) -> str:
    return "\n".join(
        "INSERT INTO bank_entry_counts (bank_id, dimension, key, n) "  # noqa: S608 (constants)
        f"VALUES ({row}.bank_id, '{name}', {_key(expression, row)}, 1) "
        "ON CONFLICT (bank_id, dimension, key) DO UPDATE SET n = bank_entry_counts.n + 1;"
        for name, expression in DIMENSIONS
    )


def _take(row: str) -> str:
    return "\n".join(
        f"UPDATE bank_entry_counts SET n = n - 1 WHERE bank_id = {row}.bank_id "  # noqa: S608
        f"AND dimension = '{name}' AND key = {_key(expression, row)};"
        for name, expression in DIMENSIONS
    )


WATCHED = "bank_id, signal_type, tlp, distribution"


def upgrade() -> None:
    op.create_table(
        "bank_entry_counts",
        sa.Column("bank_id", sa.String(36), primary_key=True),
        sa.Column("dimension", sa.String(16), primary_key=True),
        sa.Column("key", sa.String(32), primary_key=True),
        sa.Column("n", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_bank_entries_bank_generation", "bank_entries", ["bank_id", "generation"])
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute(
            # The first 64 characters only: a video's vPDQ value holds tens of kilobytes, more
            # than a B-tree row takes; a prefix search looks at hexadecimal beginnings.
            "CREATE INDEX ix_bank_entries_bank_value"
            ' ON bank_entries (bank_id, (left(value, 64) COLLATE "C"))'
        )
        op.execute(
            "CREATE FUNCTION bank_entries_counted() RETURNS trigger AS $$\nBEGIN\n"
            "IF TG_OP IN ('DELETE', 'UPDATE') THEN\n" + _take("OLD") + "\nEND IF;\n"
            "IF TG_OP IN ('INSERT', 'UPDATE') THEN\n" + _add("NEW") + "\nEND IF;\n"
            "RETURN NULL;\nEND;\n$$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER bank_entries_counted AFTER INSERT OR DELETE OR UPDATE OF "
            f"{WATCHED} ON bank_entries FOR EACH ROW EXECUTE FUNCTION bank_entries_counted()"
        )
    else:
        op.create_index("ix_bank_entries_bank_value", "bank_entries", ["bank_id", "value"])
        op.execute(
            "CREATE TRIGGER bank_entries_counted_insert AFTER INSERT ON bank_entries "
            f"BEGIN\n{_add('NEW')}\nEND"
        )
        op.execute(
            "CREATE TRIGGER bank_entries_counted_delete AFTER DELETE ON bank_entries "
            f"BEGIN\n{_take('OLD')}\nEND"
        )
        op.execute(
            f"CREATE TRIGGER bank_entries_counted_update AFTER UPDATE OF {WATCHED} "
            f"ON bank_entries BEGIN\n{_take('OLD')}\n{_add('NEW')}\nEND"
        )
    for name, expression in DIMENSIONS:
        key = _key(expression, "bank_entries")
        op.execute(
            "INSERT INTO bank_entry_counts (bank_id, dimension, key, n) "  # noqa: S608
            f"SELECT bank_id, '{name}', {key}, count(*) FROM bank_entries "
            f"GROUP BY bank_id, {key}"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER bank_entries_counted ON bank_entries")
        op.execute("DROP FUNCTION bank_entries_counted()")
    else:
        for suffix in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER bank_entries_counted_{suffix}")
    op.drop_index("ix_bank_entries_bank_value", table_name="bank_entries")
    op.drop_index("ix_bank_entries_bank_generation", table_name="bank_entries")
    op.drop_table("bank_entry_counts")
