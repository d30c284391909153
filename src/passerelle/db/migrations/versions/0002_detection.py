"""Detection: banks and their entries; items, sightings and cases for the queue.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "banks",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("agency_id", sa.String(36), sa.ForeignKey("agencies.id"), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("thresholds_json", sa.Text, nullable=False),
        sa.Column("created_at", _TZ, nullable=False),
        sa.UniqueConstraint("agency_id", "name", name="uq_banks_agency_name"),
    )
    op.create_index("ix_banks_agency_id", "banks", ["agency_id"])
    op.create_table(
        "bank_entries",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("bank_id", sa.String(36), sa.ForeignKey("banks.id"), nullable=False),
        sa.Column("signal_type", sa.String(16), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("quality", sa.Integer),
        sa.Column("source_value", sa.Text),
        sa.Column("category", sa.String(1)),
        sa.Column("tier", sa.String(32)),
        sa.Column("tags_json", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("added_at", _TZ, nullable=False),
        sa.UniqueConstraint("bank_id", "signal_type", "value", name="uq_bank_entries_signal"),
    )
    op.create_index("ix_bank_entries_bank_id", "bank_entries", ["bank_id"])
    op.create_table(
        "items",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("agency_id", sa.String(36), sa.ForeignKey("agencies.id"), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("url_hash", sa.String(64)),
        sa.Column("url", sa.Text),
        sa.Column("media_type", sa.String(100), nullable=False),
        sa.Column("signals_json", sa.Text, nullable=False),
        sa.Column("first_seen_at", _TZ, nullable=False),
        sa.UniqueConstraint("agency_id", "sha256", name="uq_items_agency_sha256"),
    )
    op.create_index("ix_items_agency_id", "items", ["agency_id"])
    op.create_index("ix_items_url_hash", "items", ["url_hash"])
    op.create_table(
        "sightings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("item_id", sa.String(36), sa.ForeignKey("items.id"), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("url", sa.Text),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("seen_at", _TZ, nullable=False),
    )
    op.create_index("ix_sightings_item_id", "sightings", ["item_id"])
    op.create_table(
        "cases",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("agency_id", sa.String(36), sa.ForeignKey("agencies.id"), nullable=False),
        sa.Column("item_id", sa.String(36), sa.ForeignKey("items.id"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("score", sa.Integer, nullable=False),
        sa.Column("reasons_json", sa.Text, nullable=False),
        sa.Column("matches_json", sa.Text, nullable=False),
        sa.Column("language", sa.String(8)),
        sa.Column("title", sa.Text),
        sa.Column("created_at", _TZ, nullable=False),
    )
    for column in ("agency_id", "item_id", "status", "score"):
        op.create_index(f"ix_cases_{column}", "cases", [column])


def downgrade() -> None:
    for table in ("cases", "sightings", "items", "bank_entries", "banks"):
        op.drop_table(table)
