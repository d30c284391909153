"""Bank entries carry their TLP 2.0 marking and their distribution; partner entries take
the marking their provenance names, the unit's own stay unmarked (each channel marks them).

Revision ID: 0022
Revises: 0021
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

_PROVENANCE = re.compile(r"TLP:(CLEAR|GREEN|AMBER\+STRICT|AMBER|RED), distribution (\w+)")


def upgrade() -> None:
    with op.batch_alter_table("bank_entries") as batch:
        batch.add_column(sa.Column("tlp", sa.String(16)))
        batch.add_column(sa.Column("distribution", sa.String(16)))
    entries = sa.table(
        "bank_entries",
        sa.column("id", sa.String),
        sa.column("provenance", sa.Text),
        sa.column("tlp", sa.String),
        sa.column("distribution", sa.String),
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(entries.c.id, entries.c.provenance).where(entries.c.provenance.is_not(None))
    ).all()
    for entry_id, provenance in rows:
        found = _PROVENANCE.search(provenance or "")
        if found:
            connection.execute(
                entries.update()
                .where(entries.c.id == entry_id)
                .values(tlp=found.group(1).lower(), distribution=found.group(2))
            )


def downgrade() -> None:
    with op.batch_alter_table("bank_entries") as batch:
        batch.drop_column("distribution")
        batch.drop_column("tlp")
