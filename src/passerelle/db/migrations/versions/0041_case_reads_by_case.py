"""The case page reads what belongs to the case through indexes keyed by the case.

The page read a case's history from the index of the agency's audit events (every event of
the agency, filtered: linear in the audit log), and on SQLite, with no statistics yet (a
new unit's), the planner read a case's decisions, referrals and observation holds, and the
partners' notices on its hashes, from indexes of the agency alone, of which one column said
nothing more than the agency's wider indexes already did. Each of these reads now has an
index whose columns are its conditions, the case (or the object) first, so that no planner
can take the agency's range for the case's; the agency-only indexes that another index
begins with are dropped. PostgreSQL keeps its index of partner notices on the MD5 of their
values (migration 0020), which its planner reads.

Revision ID: 0041
Revises: 0040
"""

from __future__ import annotations

from alembic import op

revision = "0041"
down_revision = "0040"
branch_labels = None
depends_on = None

# (index, table, columns) created, and the indexes they replace.
CREATED = (
    ("ix_audit_events_object", "audit_events", ["agency_id", "object_type", "object_id", "seq"]),
    ("ix_decisions_case", "decisions", ["case_id", "agency_id", "decided_at"]),
    ("ix_referrals_case", "referrals", ["case_id", "agency_id", "created_at"]),
    ("ix_observation_holds_case", "observation_holds", ["case_id", "agency_id"]),
)
DROPPED = (
    ("ix_decisions_case_id", "decisions", ["case_id"]),
    ("ix_decisions_agency_id", "decisions", ["agency_id"]),  # ix_decisions_report begins so
    ("ix_referrals_case_id", "referrals", ["case_id"]),
    ("ix_referrals_agency_id", "referrals", ["agency_id"]),  # ix_referrals_report begins so
    ("ix_observation_holds_case_id", "observation_holds", ["case_id"]),
)
SQLITE_CREATED = (("ix_partner_signals_agency_value", "partner_signals", ["agency_id", "value"]),)
SQLITE_DROPPED = (
    ("ix_partner_signals_value", "partner_signals", ["value"]),
    ("ix_partner_signals_agency_id", "partner_signals", ["agency_id"]),
)


def _indexes() -> tuple[tuple[tuple[str, str, list[str]], ...], ...]:
    if op.get_bind().dialect.name == "sqlite":
        return CREATED + SQLITE_CREATED, DROPPED + SQLITE_DROPPED
    return CREATED, DROPPED


def upgrade() -> None:
    created, dropped = _indexes()
    for name, table, columns in created:
        op.create_index(name, table, columns)
    for name, table, _ in dropped:
        op.drop_index(name, table_name=table)


def downgrade() -> None:
    created, dropped = _indexes()
    for name, table, columns in dropped:
        op.create_index(name, table, columns)
    for name, table, _ in created:
        op.drop_index(name, table_name=table)
