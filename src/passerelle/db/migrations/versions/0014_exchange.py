"""Cooperation between agencies: signing keys, partners, agreements, the outbox of shared
changes, the sync log, observation holds, and what partners told us (holds, referrals).
Partner bank entries get their provenance and an expiry.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "agency_keys",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "agency_id", sa.String(36), sa.ForeignKey("agencies.id"), nullable=False, index=True
        ),
        sa.Column("public_key", sa.String(64), nullable=False),
        sa.Column("private_key", sa.Text, nullable=False),
        sa.Column("created_at", _TZ, nullable=False),
        sa.Column("retired_at", _TZ),
    )
    op.create_table(
        "partners",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "agency_id", sa.String(36), sa.ForeignKey("agencies.id"), nullable=False, index=True
        ),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("base_url", sa.Text),
        sa.Column("public_key", sa.String(64), nullable=False),
        sa.Column("contact", sa.Text, nullable=False),
        sa.Column("created_at", _TZ, nullable=False),
        sa.Column("cursor", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_sync_at", _TZ),
        sa.Column("last_ok_at", _TZ),
        sa.Column("last_error", sa.Text),
        sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_sync_at", _TZ),
        sa.UniqueConstraint("agency_id", "code", name="uq_partners_agency_code"),
    )
    op.create_table(
        "agreements",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("agency_id", sa.String(36), sa.ForeignKey("agencies.id"), primary_key=True),
        sa.Column(
            "partner_id", sa.String(36), sa.ForeignKey("partners.id"), nullable=False, index=True
        ),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("terms_json", sa.Text, nullable=False),
        sa.Column("created_at", _TZ, nullable=False),
        sa.Column("changed_at", _TZ, nullable=False),
    )
    op.create_table(
        "exchange_events",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "agency_id", sa.String(36), sa.ForeignKey("agencies.id"), nullable=False, index=True
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("signal_type", sa.String(16), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("labels_json", sa.Text, nullable=False),
        sa.Column("decision_json", sa.Text),
        sa.Column("created_at", _TZ, nullable=False),
    )
    op.create_table(
        "sync_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "partner_id", sa.String(36), sa.ForeignKey("partners.id"), nullable=False, index=True
        ),
        sa.Column("at", _TZ, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("imported", sa.Integer, nullable=False, server_default="0"),
        sa.Column("retracted", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_table(
        "observation_holds",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "agency_id", sa.String(36), sa.ForeignKey("agencies.id"), nullable=False, index=True
        ),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id"), nullable=False, index=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("set_by", sa.String(64), nullable=False),
        sa.Column("set_at", _TZ, nullable=False),
        sa.Column("lifted_at", _TZ),
    )
    op.create_table(
        "partner_signals",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "agency_id", sa.String(36), sa.ForeignKey("agencies.id"), nullable=False, index=True
        ),
        sa.Column("partner_id", sa.String(36), sa.ForeignKey("partners.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("signal_type", sa.String(16), nullable=False),
        sa.Column("value", sa.Text, nullable=False, index=True),
        sa.Column("at", _TZ, nullable=False),
        sa.Column("lifted_at", _TZ),
    )
    with op.batch_alter_table("bank_entries") as batch:
        batch.add_column(sa.Column("expires_at", _TZ))
        batch.add_column(sa.Column("provenance", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("bank_entries") as batch:
        batch.drop_column("provenance")
        batch.drop_column("expires_at")
    for table in (
        "partner_signals",
        "observation_holds",
        "sync_log",
        "exchange_events",
        "agreements",
        "partners",
        "agency_keys",
    ):
        op.drop_table(table)
