"""Case notes name who of the unit wrote them `written_by`: the schema keeps no column named
for a person behind content (red line 1), and `author` reads as one.

Revision ID: 0028
Revises: 0027
"""

from __future__ import annotations

from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("case_notes") as batch:
        batch.alter_column("author", new_column_name="written_by")


def downgrade() -> None:
    with op.batch_alter_table("case_notes") as batch:
        batch.alter_column("written_by", new_column_name="author")
