"""Many rows written at once: by COPY on PostgreSQL, by one prepared statement on SQLite.

psycopg runs an executemany as one statement a row (pipelined, yet each parsed, planned and
run by the server); COPY streams the rows in one command. SQLite has no round trip: one
prepared INSERT run over every row is the fastest it has. On both, SQLAlchemy's per-row
parameter bookkeeping is skipped: the values go to the driver as the columns' own bind
processors make them (SQLite's date and time texts, for instance). Both run inside the
session's transaction, after what the session has pending."""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from itertools import repeat
from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import DeclarativeBase, Session


def insert_rows(
    session: Session, model: type[DeclarativeBase] | Table, rows: Sequence[dict[str, Any]]
) -> None:
    """INSERT `rows` (dicts of the same keys: column names) into the table of `model`."""
    if rows:
        names = list(rows[0])
        insert_values(session, model, names, [[row[name] for name in names] for row in rows])


def insert_values(
    session: Session,
    model: type[DeclarativeBase] | Table,
    names: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    skip_conflicts: Sequence[str] = (),
) -> int:
    """INSERT `rows`, each the values of the columns `names` in that order, into the table
    of `model` (no dict a row: the caller of a large import builds the values directly).
    `skip_conflicts` (SQLite only: COPY has no such clause) names the columns of a unique
    key: a row the table holds already under that key is left out. Returns how many rows
    went in."""
    if not rows:
        return 0
    table: Table = model if isinstance(model, Table) else model.__table__  # type: ignore[assignment]
    session.flush()  # rows the session holds go first (those of a foreign key, say)
    columns = [table.c[name] for name in names]  # known columns only: a KeyError otherwise
    listed = ", ".join(f'"{column.name}"' for column in columns)
    connection = session.connection()
    dbapi = connection.connection.dbapi_connection
    if connection.dialect.name == "postgresql":
        if skip_conflicts:
            raise ValueError("COPY cannot skip the rows a unique key holds already")
        cursor = dbapi.cursor()  # type: ignore[union-attr]
        with cursor.copy(f'COPY "{table.name}" ({listed}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)
        return len(rows)
    dialect = connection.dialect
    processors: list[tuple[int, Callable[[Any], Any]]] = []
    for place, column in enumerate(columns):
        processor = column.type.dialect_impl(dialect).bind_processor(dialect)
        if processor is not None:
            processors.append((place, processor))
    values: Sequence[Sequence[Any]] = rows
    if processors:
        # Column by column: a column holding one object (the batch's one moment, say) is
        # converted once; the others through `map`, with no Python loop a row.
        by_column = list(zip(*rows, strict=True))
        for place, process in processors:
            given = by_column[place]
            first = given[0]
            if all(map(operator.is_, given, repeat(first))):
                by_column[place] = (process(first),) * len(given)
            else:
                by_column[place] = tuple(map(process, given))
        values = list(zip(*by_column, strict=True))
    marks = ", ".join("?" * len(names))
    statement = f'INSERT INTO "{table.name}" ({listed}) VALUES ({marks})'  # noqa: S608 (columns)
    if skip_conflicts:
        key = ", ".join(f'"{table.c[name].name}"' for name in skip_conflicts)
        statement += f" ON CONFLICT ({key}) DO NOTHING"
    done = dbapi.executemany(statement, values)  # type: ignore[union-attr]
    return int(done.rowcount)
