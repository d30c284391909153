"""Opening units of work on an engine: one per request, command or job."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from passerelle.db.engine import CACHE_KIB, WRITE_OPTION
from passerelle.db.repos import SqlUnitOfWork
from passerelle.settings import DEFAULT_SECRET_KEY

# The page cache of a bulk session on SQLite (a ceiling: pages are taken as they are used). An
# import of a million entries writes two indexes keyed by random values (some 250 MB at that
# size); with the common 64 MiB each chunk read most of their pages back from the file.
BULK_CACHE_KIB = 1024 * 1024

# The connection of the bulk session this context is in, if any.
_bulk: ContextVar[Connection | None] = ContextVar("passerelle_bulk_connection", default=None)


class Database:
    """The engine and the way to open a unit of work on it; built at the entry points."""

    def __init__(self, engine: Engine, *, secret: str = DEFAULT_SECRET_KEY) -> None:
        """`secret` (PASSERELLE_SECRET_KEY) opens the audit chain's MAC keys; the entry points
        pass the settings' one (the default is the public dev key, for tests and tools)."""
        self.engine = engine
        self.secret = secret

    @contextmanager
    def unit_of_work(self, *, write: bool = False) -> Iterator[SqlUnitOfWork]:
        """Open a transaction; rolled back unless the caller commits. `write=True` takes the
        write lock at once on SQLite."""
        pinned = _bulk.get()
        if pinned is not None and pinned.in_transaction():
            pinned = None  # a unit opened inside another one has a connection of its own
        with nullcontext(pinned) if pinned is not None else self.engine.connect() as connection:
            # In place (SQLAlchemy 2): a bulk session's connection is set for each unit.
            connection.execution_options(**{WRITE_OPTION: write})
            with Session(bind=connection, expire_on_commit=False) as session:
                uow = SqlUnitOfWork(session, self.secret)
                try:
                    yield uow
                finally:
                    session.rollback()

    @contextmanager
    def bulk(self) -> Iterator[None]:
        """A bulk session (an import): the units of work opened inside it, in this context,
        run on one connection whose SQLite page cache is BULK_CACHE_KIB, so that what one
        transaction read stays in memory for the next. Each still commits as it did:
        durability is that of any transaction. The cache goes back to its size after."""
        if _bulk.get() is not None:
            yield
            return
        with self.engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            if sqlite:
                connection.exec_driver_sql(f"PRAGMA cache_size=-{BULK_CACHE_KIB}")
                connection.commit()
            token = _bulk.set(connection)
            try:
                yield
            finally:
                _bulk.reset(token)
                connection.rollback()
                if sqlite:
                    connection.exec_driver_sql(f"PRAGMA cache_size=-{CACHE_KIB}")
                    connection.commit()

    def dispose(self) -> None:
        self.engine.dispose()
