"""Engines for SQLite (WAL, foreign keys, immediate write transactions) and PostgreSQL."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.exc import ArgumentError, OperationalError

from passerelle.core.errors import DatabaseUnavailable, InvalidInput
from passerelle.db.write_turns import FairLock, ProcessTurn, TurnTakingConnection

WRITE_OPTION = "passerelle_write"


BUSY_TIMEOUT_SECONDS = 30.0
CACHE_KIB = 65536
# A SQLite connection reads the planner's statistics when it opens (another connection's
# ANALYZE does not reach it): pooled connections are renewed this often, so that the
# statistics refreshed by bulk ingest and by the daily purge reach a long-running server.
STATISTICS_RELOAD_SECONDS = 3600


def make_engine(url: str, *, busy_timeout: float = BUSY_TIMEOUT_SECONDS) -> Engine:
    """Create the engine for `url`; SQLite gets WAL and a folder, PostgreSQL psycopg 3.
    `busy_timeout`: how long a SQLite writer waits for another one's write lock."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise InvalidInput(
            "PASSERELLE_DATABASE_URL is not a database URL: %(url)s", url=repr(url)
        ) from None
    if parsed.get_backend_name() == "sqlite":
        return _make_sqlite_engine(parsed.database, busy_timeout)
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, pool_pre_ping=True)
    raise InvalidInput(
        "PASSERELLE_DATABASE_URL: unsupported database %(backend)s (use sqlite or postgresql)",
        backend=repr(parsed.get_backend_name()),
    )


def _make_sqlite_engine(database: str | None, busy_timeout: float) -> Engine:
    path = Path(database) if database and database != ":memory:" else None  # None: in memory
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        f"sqlite:///{database or ':memory:'}",
        connect_args={"timeout": busy_timeout, "factory": TurnTakingConnection},
        # (A database in memory lives only as long as its connection.)
        pool_recycle=STATISTICS_RELOAD_SECONDS if path is not None else -1,
    )
    turns = FairLock()  # this process's writers, in order (see write_turns)
    # ... and this process among the processes writing to the same file (none in memory)
    process_turn = ProcessTurn(path) if path is not None else None

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.turns = turns
        dbapi_connection.process_turn = process_turn
        # Let SQLAlchemy, not the driver, decide when transactions begin (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        # A page cache of 64 MiB (the default 2 MiB holds a sliver of a million cases'
        # indexes: every batch re-read its index pages from the file). Pages are taken as
        # they are used: a small database stays small.
        cursor.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A write transaction takes SQLite's write lock at once, so that two writers queue
        # instead of failing when the second one tries to upgrade a stale read snapshot.
        if connection.get_execution_options().get(WRITE_OPTION):
            dbapi_connection = connection.connection.dbapi_connection
            if not dbapi_connection.take_write_turn(busy_timeout):
                raise OperationalError(
                    "BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked")
                )
            try:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                dbapi_connection.give_write_turn_back()
                raise
        else:
            connection.exec_driver_sql("BEGIN")

    return engine


def describe_url(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<invalid URL>"


def check_connection(engine: Engine) -> None:
    """Raise `DatabaseUnavailable` with one clear line when the database cannot be reached."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "no answer"
        raise DatabaseUnavailable(
            "cannot reach the database at %(url)s: %(reason)s",
            url=describe_url(str(engine.url)),
            reason=reason,
        ) from None
