"""The statements a piece of code runs, and the plan each engine makes for one: the tests that
hold a read to an index on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import event, text

from passerelle.db.session import Database

Statement = tuple[str, object]  # the SQL and its parameters, as the driver received them


@contextmanager
def recorded_statements(
    database: Database, wanted: Callable[[str], bool]
) -> Iterator[list[Statement]]:
    """The statements run on `database` while the block runs that `wanted` keeps."""
    kept: list[Statement] = []

    def keep(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if wanted(statement):
            kept.append((statement, parameters))

    event.listen(database.engine, "before_cursor_execute", keep)
    try:
        yield kept
    finally:
        event.remove(database.engine, "before_cursor_execute", keep)


def is_sqlite(database: Database) -> bool:
    return database.engine.dialect.name == "sqlite"


def query_plan(
    database: Database,
    statement: str,
    parameters: object,
    *,
    analyze: Sequence[str] = (),
    forbid: Sequence[str] = ("seqscan",),
) -> str:
    """The engine's plan of a statement, its lines joined by " | ". On PostgreSQL the tables
    of `analyze` get their statistics first (autovacuum keeps them so), and the plans of
    `forbid` are turned off (a small table is read whole whatever its indexes: forbid what can
    be avoided)."""
    with database.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)  # type: ignore[arg-type]
            return " | ".join(str(row[-1]) for row in rows)
        for table in analyze:
            conn.execute(text(f"ANALYZE {table}"))
        for kind in forbid:
            conn.execute(text(f"SET enable_{kind} = off"))
        rows = conn.exec_driver_sql("EXPLAIN " + statement, parameters)  # type: ignore[arg-type]
        return " | ".join(str(row[0]) for row in rows)
