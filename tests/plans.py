"""The statements a piece of code runs, and the plan each engine makes for one: the tests that
hold a read to an index on SQLite and on PostgreSQL."""

from __future__ import annotations

import re
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


def agency_wide_reads(
    plan: str, tables: Sequence[str], *, sqlite: bool, partial: Sequence[str] = ()
) -> list[str]:
    """The parts of a plan that read one of `tables` whole or over the agency's range alone
    (an index searched by `agency_id` and nothing more): reads that grow with all the
    agency's work, where the question was about one case or one short list. The `partial`
    indexes hold only the rows of a list (the pending ones): the agency's range of those is
    the list itself."""
    names = "|".join(tables)
    if sqlite:
        found = re.findall(rf"\bSCAN ({names})\b", plan)
        for table, index in re.findall(
            rf"\bSEARCH ({names}) USING (?:COVERING )?INDEX (\w+) \(agency_id=\?\)", plan
        ):
            if index not in partial:
                found.append(f"{table} by {index}")
        return found
    found = re.findall(rf"Seq Scan on ({names})\b", plan)
    index = ""
    for line in plan.split(" | "):
        used = re.search(
            r"(?:Index Scan|Index Only Scan) using (\w+)|Bitmap Index Scan on (\w+)", line
        )
        if used:
            index = used.group(1) or used.group(2)
        condition = re.search(r"Index Cond: (.*)", line)
        if condition and index not in partial:
            columns = {
                a or b for a, b in re.findall(r"\((\w+)\)(?:::\w+)? =|\b(\w+) = ", condition[1])
            }
            if columns == {"agency_id"}:
                found.append(f"{index}: {condition[1]}")
    return found


def reads_from(tables: Sequence[str]) -> Callable[[str], bool]:
    """A filter of `recorded_statements`: the SELECTs from one of `tables`."""
    pattern = re.compile(r"\bFROM (" + "|".join(tables) + r")\b")
    return lambda statement: (
        statement.lstrip().upper().startswith("SELECT") and bool(pattern.search(statement))
    )
