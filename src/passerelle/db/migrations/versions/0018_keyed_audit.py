"""Keyed audit chain and replay protection: the MAC version of each audit event, the sealed
MAC keys (one per epoch; epoch 0 is the seal of the unkeyed prefix), the nonces seen from each
partner, and the audit head a partner last witnessed in its feed.

Existing events keep version 1 (plain SHA-256); `passerelle db upgrade` seals them and the
next events are keyed. Columns are added in place (no table copy): the append-only triggers
of audit_events stay.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column(
        "audit_events",
        sa.Column("mac_version", sa.Integer, nullable=False, server_default="1"),
    )
    op.create_table(
        "audit_keys",
        sa.Column("epoch", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("from_seq", sa.Integer, nullable=False),
        sa.Column("sealed", sa.Text, nullable=False),
    )
    op.create_table(
        "exchange_nonces",
        sa.Column("agency_id", sa.String(36), primary_key=True),
        sa.Column("partner_id", sa.String(36), primary_key=True),
        sa.Column("nonce", sa.String(64), primary_key=True),
        sa.Column("seen_at", _TZ, nullable=False, index=True),
    )
    op.add_column("partners", sa.Column("witnessed_head", sa.String(90)))
    op.add_column("partners", sa.Column("witnessed_at", _TZ))


def downgrade() -> None:
    op.drop_column("partners", "witnessed_at")
    op.drop_column("partners", "witnessed_head")
    op.drop_table("exchange_nonces")
    op.drop_table("audit_keys")
    op.drop_column("audit_events", "mac_version")
