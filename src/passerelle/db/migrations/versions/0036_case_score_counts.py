"""Cases counted per status and score, so that a page deep in the queue knows where it
stands without counting every case ahead of it.

A queue page shows its place ("40,001–40,050 of 80,000"): the cases ahead of its first one
were counted on the index of the queue's order, as many index entries as the page is deep.
In the queue's own order (score, then time opened) those ahead are the cases of a higher
score, read from `case_score_counts` (a hundred rows at most a status), and those of the same
score opened before, a short range of the index. Triggers keep the counts in the same
transaction as every insert, delete and change of a case (on PostgreSQL once a statement,
written in key order), as for `case_counts` (migration 0035); `passerelle bank recount`
rebuilds them.

Revision ID: 0036
Revises: 0035
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0036"
down_revision = "0035"
branch_labels = None
depends_on = None

KEYS = "agency_id, status, score"


def _values(row: str) -> str:
    return f"{row}.agency_id, {row}.status, {row}.score"


def upgrade() -> None:
    op.create_table(
        "case_score_counts",
        sa.Column("agency_id", sa.String(36), primary_key=True),
        sa.Column("status", sa.String(16), primary_key=True),
        sa.Column("score", sa.Integer(), primary_key=True),
        sa.Column("n", sa.BigInteger(), nullable=False),
    )
    op.execute(
        f"INSERT INTO case_score_counts ({KEYS}, n) "  # noqa: S608 (constants)
        f"SELECT {KEYS}, count(*) FROM cases GROUP BY {KEYS}"
    )
    if op.get_bind().dialect.name == "postgresql":

        def upsert(parts: str) -> str:
            return (
                f"INSERT INTO case_score_counts ({KEYS}, n) SELECT {KEYS}, sum(n) "  # noqa: S608
                f"FROM ({parts}) AS delta ({KEYS}, n) GROUP BY {KEYS} HAVING sum(n) <> 0 "
                f"ORDER BY {KEYS} ON CONFLICT ({KEYS}) "
                "DO UPDATE SET n = case_score_counts.n + EXCLUDED.n;"
            )

        added = f"SELECT {_values('a')}, 1 FROM added AS a"  # noqa: S608 (constants)
        removed = f"SELECT {_values('r')}, -1 FROM removed AS r"  # noqa: S608
        op.execute(
            "CREATE FUNCTION case_score_counts_kept() RETURNS trigger AS $$\nBEGIN\n"
            f"IF TG_OP = 'INSERT' THEN\n{upsert(added)}\n"
            f"ELSIF TG_OP = 'DELETE' THEN\n{upsert(removed)}\n"
            f"ELSE\n{upsert(added + ' UNION ALL ' + removed)}\nEND IF;\n"
            "RETURN NULL;\nEND;\n$$ LANGUAGE plpgsql"
        )
        for event, tables in (
            ("INSERT", "NEW TABLE AS added"),
            ("DELETE", "OLD TABLE AS removed"),
            ("UPDATE", "OLD TABLE AS removed NEW TABLE AS added"),
        ):
            op.execute(
                f"CREATE TRIGGER case_score_counts_{event.lower()} AFTER {event} ON cases "
                f"REFERENCING {tables} FOR EACH STATEMENT "
                "EXECUTE FUNCTION case_score_counts_kept()"
            )
        return
    add = (
        f"INSERT INTO case_score_counts ({KEYS}, n) VALUES ({_values('NEW')}, 1) "  # noqa: S608
        f"ON CONFLICT ({KEYS}) DO UPDATE SET n = case_score_counts.n + 1;"
    )
    take = f"UPDATE case_score_counts SET n = n - 1 WHERE ({KEYS}) = ({_values('OLD')});"  # noqa: S608
    op.execute(f"CREATE TRIGGER case_score_counts_insert AFTER INSERT ON cases BEGIN\n{add}\nEND")
    op.execute(f"CREATE TRIGGER case_score_counts_delete AFTER DELETE ON cases BEGIN\n{take}\nEND")
    op.execute(
        "CREATE TRIGGER case_score_counts_update AFTER UPDATE OF agency_id, status, score "
        f"ON cases BEGIN\n{take}\n{add}\nEND"
    )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for event in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER case_score_counts_{event}" + (" ON cases" if postgres else ""))
    if postgres:
        op.execute("DROP FUNCTION case_score_counts_kept()")
    op.drop_table("case_score_counts")
