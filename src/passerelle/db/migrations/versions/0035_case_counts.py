"""Cases and decisions counted as they change: the queue's count and the transparency report
no longer grow with the number of cases.

The queue counted its open cases on every page (every index entry of them), and the report
grouped every case and every decision of its period (1.6 s for a year at 100,000 cases).
`case_counts` holds how many cases an agency has per status, day opened (UTC), source, most
urgent tier and language; `decision_counts` how many decisions per day decided (UTC),
verdict, category and reason ('' stands for none). Triggers keep both in the same transaction
as every insert, delete and change of a case or a decision, whichever code path makes it.
On PostgreSQL they run once a statement, adding up its rows and writing the counts in the
order of their keys (a bulk insert writes each count once; concurrent writers take the
counts' locks in one order).

A case decided twice in a report's period counts by its last decision: `superseded_at` on a
decision is the time of the case's next decision (NULL for the last one), kept by a trigger
on insert, so that the report takes the superseded ones off its counts through a small
partial index instead of ranking every decision of the period.

`passerelle bank recount` rebuilds these counts from the rows should they ever drift.

Two indexes the measured pages lacked: a case page read every public report of the agency to
list those of its case (`ix_public_reports_case`), and the report every referral of the
agency to count those of its period (`ix_referrals_report`).

Revision ID: 0035
Revises: 0034
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0035"
down_revision = "0034"
branch_labels = None
depends_on = None

CASE_KEYS = ("agency_id", "status", "day", "source", "tier", "language")
DECISION_KEYS = ("agency_id", "day", "verdict", "category", "reason")


def case_values(row: str, postgres: bool) -> str:
    """The key of a case's count, from the case row named `row`, in the order of CASE_KEYS."""
    return (
        f"{row}.agency_id, {row}.status, {_day(row + '.created_at', postgres)}, {row}.source, "
        f"COALESCE({row}.top_tier, ''), COALESCE({row}.language, '')"
    )


def decision_values(row: str, postgres: bool) -> str:
    return (
        f"{row}.agency_id, {_day(row + '.decided_at', postgres)}, {row}.verdict, "
        f"COALESCE({row}.category, ''), COALESCE({row}.reason, '')"
    )


def _day(column: str, postgres: bool) -> str:
    return f"(({column}) AT TIME ZONE 'UTC')::date" if postgres else f"date({column})"


def _sqlite_add(table: str, keys: tuple[str, ...], values: str) -> str:
    names = ", ".join(keys)
    return (
        f"INSERT INTO {table} ({names}, n) VALUES ({values}, 1) "  # noqa: S608 (constants)
        f"ON CONFLICT ({names}) DO UPDATE SET n = {table}.n + 1;"
    )


def _sqlite_take(table: str, keys: tuple[str, ...], values: str) -> str:
    # Row values: the key of the row to take from equals the key computed from the case.
    return f"UPDATE {table} SET n = n - 1 WHERE ({', '.join(keys)}) = ({values});"  # noqa: S608


def _sqlite_triggers(table: str, source: str, keys: tuple[str, ...], watched: str) -> None:
    values = case_values if table == "case_counts" else decision_values
    new, old = values("NEW", False), values("OLD", False)
    op.execute(
        f"CREATE TRIGGER {table}_insert AFTER INSERT ON {source} "
        f"BEGIN\n{_sqlite_add(table, keys, new)}\nEND"
    )
    op.execute(
        f"CREATE TRIGGER {table}_delete AFTER DELETE ON {source} "
        f"BEGIN\n{_sqlite_take(table, keys, old)}\nEND"
    )
    op.execute(
        f"CREATE TRIGGER {table}_update AFTER UPDATE OF {watched} ON {source} "
        f"BEGIN\n{_sqlite_take(table, keys, old)}\n{_sqlite_add(table, keys, new)}\nEND"
    )


def _postgres_triggers(table: str, source: str, keys: tuple[str, ...]) -> None:
    """Statement triggers with transition tables: the statement's rows added up by key, then
    written in key order (one upsert a key, whatever the number of rows)."""
    values = case_values if table == "case_counts" else decision_values
    names = ", ".join(keys)

    def upsert(parts: str) -> str:
        return (
            f"INSERT INTO {table} ({names}, n) SELECT {names}, sum(n) "  # noqa: S608 (constants)
            f"FROM ({parts}) AS delta ({names}, n) GROUP BY {names} HAVING sum(n) <> 0 "
            f"ORDER BY {names} ON CONFLICT ({names}) DO UPDATE SET n = {table}.n + EXCLUDED.n;"
        )

    added = "SELECT " + values("a", True) + ", 1 FROM added AS a"  # noqa: S608 (constants)
    removed = "SELECT " + values("r", True) + ", -1 FROM removed AS r"  # noqa: S608
    op.execute(
        f"CREATE FUNCTION {table}_kept() RETURNS trigger AS $$\nBEGIN\n"
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
            f"CREATE TRIGGER {table}_{event.lower()} AFTER {event} ON {source} "
            f"REFERENCING {tables} FOR EACH STATEMENT EXECUTE FUNCTION {table}_kept()"
        )


def supersede(cases: str) -> str:
    """Set `superseded_at` of the decisions `cases` chooses (SQL) to the time of their case's
    next decision (by time, then id): a case has a decision or two."""
    following = (
        "SELECT d.decided_at FROM decisions AS d WHERE d.case_id = decisions.case_id "
        "AND (d.decided_at, d.id) > (decisions.decided_at, decisions.id) "
        "ORDER BY d.decided_at, d.id LIMIT 1"
    )
    return f"UPDATE decisions SET superseded_at = ({following}) WHERE {cases};"  # noqa: S608


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "case_counts",
        sa.Column("agency_id", sa.String(36), primary_key=True),
        sa.Column("status", sa.String(16), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("source", sa.String(16), primary_key=True),
        sa.Column("tier", sa.String(32), primary_key=True),
        sa.Column("language", sa.String(8), primary_key=True),
        sa.Column("n", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_case_counts_day", "case_counts", ["agency_id", "day"])
    op.create_index(
        "ix_public_reports_case", "public_reports", ["case_id", "created_at", "reference"]
    )
    op.create_index("ix_referrals_report", "referrals", ["agency_id", "created_at"])
    op.create_table(
        "decision_counts",
        sa.Column("agency_id", sa.String(36), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("verdict", sa.String(16), primary_key=True),
        sa.Column("category", sa.String(1), primary_key=True),
        sa.Column("reason", sa.String(16), primary_key=True),
        sa.Column("n", sa.BigInteger(), nullable=False),
    )
    op.add_column("decisions", sa.Column("superseded_at", sa.DateTime(timezone=True)))
    op.create_index(
        "ix_decisions_superseded",
        "decisions",
        ["agency_id", "superseded_at"],
        sqlite_where=sa.text("superseded_at IS NOT NULL"),
        postgresql_where=sa.text("superseded_at IS NOT NULL"),
    )
    # Fill before the triggers exist: what is there now, counted once.
    op.execute(
        supersede("case_id IN (SELECT case_id FROM decisions GROUP BY case_id HAVING count(*) > 1)")
    )
    op.execute(
        f"INSERT INTO case_counts ({', '.join(CASE_KEYS)}, n) "  # noqa: S608 (constants)
        f"SELECT {case_values('cases', postgres)}, count(*) FROM cases "
        f"GROUP BY {case_values('cases', postgres)}"
    )
    op.execute(
        f"INSERT INTO decision_counts ({', '.join(DECISION_KEYS)}, n) "  # noqa: S608
        f"SELECT {decision_values('decisions', postgres)}, count(*) FROM decisions "
        f"GROUP BY {decision_values('decisions', postgres)}"
    )
    if postgres:
        _postgres_triggers("case_counts", "cases", CASE_KEYS)
        _postgres_triggers("decision_counts", "decisions", DECISION_KEYS)
        old, new = supersede("case_id = OLD.case_id"), supersede("case_id = NEW.case_id")
        op.execute(
            "CREATE FUNCTION decisions_superseded() RETURNS trigger AS $$\nBEGIN\n"
            f"IF TG_OP IN ('DELETE', 'UPDATE') THEN\n{old}\nEND IF;\n"
            f"IF TG_OP IN ('INSERT', 'UPDATE') THEN\n{new}\nEND IF;\n"
            "RETURN NULL;\nEND;\n$$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER decisions_superseded AFTER INSERT OR DELETE OR UPDATE OF "
            "case_id, decided_at ON decisions FOR EACH ROW EXECUTE FUNCTION decisions_superseded()"
        )
    else:
        _sqlite_triggers(
            "case_counts",
            "cases",
            CASE_KEYS,
            "agency_id, status, created_at, source, top_tier, language",
        )
        _sqlite_triggers(
            "decision_counts",
            "decisions",
            DECISION_KEYS,
            "agency_id, decided_at, verdict, category, reason",
        )
        for event, cases in (
            ("INSERT", ("NEW",)),
            ("DELETE", ("OLD",)),
            ("UPDATE OF case_id, decided_at", ("OLD", "NEW")),
        ):
            name = "decisions_superseded_" + event.split()[0].lower()
            body = "\n".join(supersede(f"case_id = {row}.case_id") for row in cases)
            op.execute(f"CREATE TRIGGER {name} AFTER {event} ON decisions BEGIN\n{body}\nEND")


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table, source in (("case_counts", "cases"), ("decision_counts", "decisions")):
        for event in ("insert", "delete", "update"):
            op.execute(
                f"DROP TRIGGER {table}_{event} ON {source}"
                if postgres
                else f"DROP TRIGGER {table}_{event}"
            )
        if postgres:
            op.execute(f"DROP FUNCTION {table}_kept()")
    if postgres:
        op.execute("DROP TRIGGER decisions_superseded ON decisions")
        op.execute("DROP FUNCTION decisions_superseded()")
    else:
        for event in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER decisions_superseded_{event}")
    op.drop_index("ix_decisions_superseded", table_name="decisions")
    op.drop_column("decisions", "superseded_at")
    op.drop_table("decision_counts")
    op.drop_index("ix_referrals_report", table_name="referrals")
    op.drop_index("ix_public_reports_case", table_name="public_reports")
    op.drop_index("ix_case_counts_day", table_name="case_counts")
    op.drop_table("case_counts")
