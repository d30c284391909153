"""What jobs and services record for people to read is kept as a message id and its values.

A partner's sync log, its last error, a referral's last sending error, a job's last error
and what a re-check saw were stored as English sentences, which the console showed as they
were on French pages. Each gets a `*_json` column holding `{"message": id, "values": {...}}`,
put into words in the reader's language when shown. The English sentence columns stay: they
are still written (the operator's command line and logs read them), and a row recorded before
this revision has no JSON, so it is shown as it was recorded, marked as recorded before
translation.

Revision ID: 0033
Revises: 0032
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None

COLUMNS = (
    ("sync_log", "detail_json"),
    ("rechecks", "detail_json"),
    ("partners", "last_error_json"),
    ("referrals", "last_error_json"),
    ("jobs", "last_error_json"),
)


def upgrade() -> None:
    for table, column in COLUMNS:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column(column, sa.Text()))


def downgrade() -> None:
    for table, column in reversed(COLUMNS):
        with op.batch_alter_table(table) as batch:
            batch.drop_column(column)
