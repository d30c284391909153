"""Search and SQL figures at volume: the `item_keys` look-up table (MD5, PDQ band keys for
near duplicates, keyed digests of preserved words), filled for the items already there, and
each case's most urgent tier (`cases.top_tier`), so that the transparency report counts in
SQL instead of reading every case's matches.

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

TIER_WEIGHT = {"threat_to_life": 4, "crisis": 3, "designated_entity": 2, "promotional": 1}
BATCH = 2000


def _band_keys(value: str) -> list[str]:
    return [f"{band:x}{value[band * 4 : band * 4 + 4]}" for band in range(16)]


def upgrade() -> None:
    op.create_table(
        "item_keys",
        sa.Column("agency_id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(8), primary_key=True),
        sa.Column("value", sa.String(64), primary_key=True),
        sa.Column("item_id", sa.String(36), sa.ForeignKey("items.id"), primary_key=True),
    )
    op.create_index("ix_item_keys_item_id", "item_keys", ["item_id"])
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("top_tier", sa.String(32)))
    conn = op.get_bind()
    keys = sa.table(
        "item_keys",
        sa.column("agency_id"),
        sa.column("kind"),
        sa.column("value"),
        sa.column("item_id"),
    )
    rows: list[dict[str, str]] = []
    for item_id, agency_id, signals_json in conn.execute(
        sa.text("SELECT id, agency_id, signals_json FROM items")
    ):
        signals = json.loads(signals_json)
        if signals.get("md5"):
            rows.append(
                {"agency_id": agency_id, "kind": "md5", "value": signals["md5"], "item_id": item_id}
            )
        pdq = signals.get("pdq")
        if isinstance(pdq, str) and len(pdq) == 64:
            rows.extend(
                {"agency_id": agency_id, "kind": "pdq", "value": key, "item_id": item_id}
                for key in set(_band_keys(pdq.lower()))
            )
        if len(rows) >= BATCH:
            conn.execute(keys.insert(), rows)
            rows = []
    if rows:
        conn.execute(keys.insert(), rows)
    cases = sa.table("cases", sa.column("id"), sa.column("top_tier"))
    for case_id, matches_json in conn.execute(sa.text("SELECT id, matches_json FROM cases")):
        tiers = [m["labels"]["tier"] for m in json.loads(matches_json) if m["labels"].get("tier")]
        if tiers:
            top = max(tiers, key=lambda t: TIER_WEIGHT.get(t, 0))
            conn.execute(cases.update().where(cases.c.id == case_id).values(top_tier=top))


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("top_tier")
    op.drop_index("ix_item_keys_item_id", "item_keys")
    op.drop_table("item_keys")
