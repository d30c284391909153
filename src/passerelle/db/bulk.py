"""Many rows written at once: by COPY on PostgreSQL, one prepared statement on SQLite.

psycopg runs an executemany as one statement a row (pipelined, yet each parsed, planned and
run by the server, and each row's parameters built by SQLAlchemy); COPY streams the rows in
one command. SQLite has no round trip: its executemany of one prepared statement is the
fastest it has. Both run inside the session's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.orm import DeclarativeBase, Session


def insert_rows(
    session: Session, model: type[DeclarativeBase] | Table, rows: Sequence[dict[str, Any]]
) -> None:
    """INSERT `rows` (dicts of the same keys, values as the columns take them) into the
    table of `model`."""
    if not rows:
        return
    table: Table = model if isinstance(model, Table) else model.__table__  # type: ignore[assignment]
    if session.get_bind().dialect.name != "postgresql":
        session.execute(insert(table), list(rows))
        return
    names = list(rows[0])
    columns = ", ".join(f'"{table.c[name].name}"' for name in names)  # known columns only
    cursor = session.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row([row[name] for name in names])
