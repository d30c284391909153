"""The outbox holds the entries a bank import adds as blocks, one row for many entries.

A row of the outbox per entry made a third of what an import of a million entries wrote
(each row repeating the agency, the labels and the time, and its place in the agency index).
A block row stands for `span` consecutive sequence numbers, the last being its own `seq`;
`entries_json` holds each entry's type, value, labels and marking as they were when added,
so that a partner pulling from any cursor, inside a block too, receives each entry once and
in order, whatever became of the bank since (a later withdrawal is its own event after).
Rows of one entry keep `span` 1 and no `entries_json`.

Revision ID: 0038
Revises: 0037
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0038"
down_revision = "0037"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "exchange_events", sa.Column("span", sa.Integer, nullable=False, server_default="1")
    )
    op.add_column("exchange_events", sa.Column("entries_json", sa.Text, nullable=True))


def downgrade() -> None:
    # Blocks go back to one row an entry (their sequence numbers kept), then the columns go.
    bind = op.get_bind()
    events = sa.table(
        "exchange_events",
        sa.column("seq", sa.Integer),
        sa.column("agency_id", sa.String),
        sa.column("kind", sa.String),
        sa.column("signal_type", sa.String),
        sa.column("value", sa.Text),
        sa.column("labels_json", sa.Text),
        sa.column("decision_json", sa.Text),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("tlp_floor", sa.String),
        sa.column("span", sa.Integer),
        sa.column("entries_json", sa.Text),
    )
    blocks = bind.execute(sa.select(events).where(events.c.entries_json.is_not(None))).all()
    for block in blocks:
        body = json.loads(block.entries_json)
        first = block.seq - block.span + 1
        rows = [
            {
                "seq": first + place,
                "agency_id": block.agency_id,
                "kind": block.kind,
                "signal_type": signal_type,
                "value": value,
                "labels_json": body["labels"][label],
                "decision_json": block.decision_json,
                "created_at": block.created_at,
                "tlp_floor": tlp_floor,
            }
            for place, (signal_type, value, label, tlp_floor) in enumerate(body["entries"])
        ]
        bind.execute(sa.delete(events).where(events.c.seq == block.seq))
        if rows:
            bind.execute(sa.insert(events), rows)
    with op.batch_alter_table("exchange_events") as batch:
        batch.drop_column("entries_json")
        batch.drop_column("span")
