"""The dashboard's work lists and the referrals list read through indexes of their own.

Every person's landing page counts and lists the removal orders awaiting approval, the
sendings that failed, the deadlines passing, the complaints to answer and the holds set.
On SQLite, with no statistics yet (a new unit's), the planner read each of these from the
range of the agency's referrals or complaints (all of them, sorted in a temporary tree):
the landing page grew with every referral ever made. Each list now has an index holding its
own conditions and order; the deadlines, the open complaints and the active holds are partial
indexes of the few rows still waiting. The index of the referrals' status alone is replaced
by one that begins with the agency.

On PostgreSQL, the partners' notices were indexed by the MD5 of their values (migration 0020,
for values longer than a B-tree entry), which no query asks for: a case page read every
notice of the agency. A hash index of the values themselves serves the equalities the case
page and the deconfliction ask, whatever the values' length.

Revision ID: 0042
Revises: 0041
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0042"
down_revision = "0041"
branch_labels = None
depends_on = None

PENDING = "offline_at IS NULL AND removal_declared_at IS NULL"


def upgrade() -> None:
    op.create_index(
        "ix_referrals_agency_status", "referrals", ["agency_id", "status", "created_at", "id"]
    )
    op.drop_index("ix_referrals_status", table_name="referrals")
    _partial(
        "ix_referrals_pending_deadline", "referrals", ["agency_id", "deadline_at", "id"], PENDING
    )
    _partial(
        "ix_complaints_open", "complaints", ["agency_id", "deadline_at", "id"], "outcome IS NULL"
    )
    _partial(
        "ix_observation_holds_active",
        "observation_holds",
        ["agency_id", "set_at", "id"],
        "lifted_at IS NULL",
    )
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_partner_signals_value", table_name="partner_signals")
        op.execute("CREATE INDEX ix_partner_signals_value ON partner_signals USING hash (value)")


def _partial(name: str, table: str, columns: list[str], where: str) -> None:
    op.create_index(
        name,
        table,
        columns,
        sqlite_where=sa.text(where),
        postgresql_where=sa.text(where),
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_partner_signals_value", table_name="partner_signals")
        op.execute("CREATE INDEX ix_partner_signals_value ON partner_signals (md5(value))")
    op.drop_index("ix_observation_holds_active", table_name="observation_holds")
    op.drop_index("ix_complaints_open", table_name="complaints")
    op.drop_index("ix_referrals_pending_deadline", table_name="referrals")
    op.create_index("ix_referrals_status", "referrals", ["status"])
    op.drop_index("ix_referrals_agency_status", table_name="referrals")
