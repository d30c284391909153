"""Ingest that stays linear and idempotent: an index for every lookup of an item (by agency
and canonical URL; by SHA-256 alone, as the shared content store is), and one sighting per
item, source and place seen (a key on them, duplicates from earlier runs removed).

Revision ID: 0025
Revises: 0024
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

BATCH = 5000


def sighting_key(source: str, url: str | None) -> str:
    """The same as `passerelle.db.queue_repo.sighting_key` at the time of this migration."""
    return hashlib.sha256(f"{source}\x00{url or ''}".encode()).hexdigest()


def upgrade() -> None:
    op.drop_index("ix_items_url_hash", table_name="items")
    op.create_index("ix_items_agency_url_hash", "items", ["agency_id", "url_hash"])
    op.create_index("ix_items_sha256", "items", ["sha256"])

    op.add_column("sightings", sa.Column("seen_key", sa.String(64)))
    bind = op.get_bind()
    sightings = sa.table(
        "sightings",
        sa.column("id", sa.Integer),
        sa.column("item_id", sa.String),
        sa.column("source", sa.Text),
        sa.column("url", sa.Text),
        sa.column("seen_key", sa.String),
    )
    seen: set[tuple[str, str]] = set()
    duplicates: list[int] = []
    last = 0
    while True:
        rows = bind.execute(
            sa.select(sightings.c.id, sightings.c.item_id, sightings.c.source, sightings.c.url)
            .where(sightings.c.id > last)
            .order_by(sightings.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        keys = []
        for row_id, item_id, source, url in rows:
            key = sighting_key(source, url)
            if (item_id, key) in seen:
                duplicates.append(row_id)  # a re-run recorded it twice: keep the first
            else:
                seen.add((item_id, key))
                keys.append({"row_id": row_id, "key": key})
        if keys:
            bind.execute(
                sightings.update()
                .where(sightings.c.id == sa.bindparam("row_id"))
                .values(seen_key=sa.bindparam("key")),
                keys,
            )
        last = rows[-1][0]
    for start in range(0, len(duplicates), BATCH):
        chunk = duplicates[start : start + BATCH]
        bind.execute(sightings.delete().where(sightings.c.id.in_(chunk)))
    with op.batch_alter_table("sightings") as batch:
        batch.alter_column("seen_key", existing_type=sa.String(64), nullable=False)
        batch.create_unique_constraint("uq_sightings_item_seen", ["item_id", "seen_key"])
    # Fresh statistics, so that the planners pick the new indexes from the start.
    op.execute("ANALYZE")


def downgrade() -> None:
    with op.batch_alter_table("sightings") as batch:
        batch.drop_constraint("uq_sightings_item_seen", type_="unique")
        batch.drop_column("seen_key")
    op.drop_index("ix_items_sha256", table_name="items")
    op.drop_index("ix_items_agency_url_hash", table_name="items")
    op.create_index("ix_items_url_hash", "items", ["url_hash"])
