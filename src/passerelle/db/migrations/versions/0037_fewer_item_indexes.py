"""Fewer indexes to write for every new item and sighting, every lookup still on an index.

An item's SHA-256 was in two indexes: the unique key (agency, SHA-256) that ingest looks
items up by, and (SHA-256) alone for the content store, which every agency shares. Both are
keyed by a hash, so every new item wrote a random place of each: once the indexes outgrow
the database's cache, each such write reads a page from disk, and ingest slows as the
agency's items grow. The content store now looks the bytes up through the unique key, one
range per agency (a handful), and the index on SHA-256 alone goes. Two indexes that only
repeated the first column of another go too: items by agency (the key on agency and address
hash starts with it) and sightings by item (the key on item and place seen starts with it).

Revision ID: 0037
Revises: 0036
"""

from __future__ import annotations

from alembic import op

revision = "0037"
down_revision = "0036"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_items_sha256", table_name="items")
    op.drop_index("ix_items_agency_id", table_name="items")
    op.drop_index("ix_sightings_item_id", table_name="sightings")


def downgrade() -> None:
    op.create_index("ix_sightings_item_id", "sightings", ["item_id"])
    op.create_index("ix_items_agency_id", "items", ["agency_id"])
    op.create_index("ix_items_sha256", "items", ["sha256"])
