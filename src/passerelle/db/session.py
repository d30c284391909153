"""Opening units of work on an engine: one per request, command or job."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from passerelle.db.engine import WRITE_OPTION
from passerelle.db.repos import SqlUnitOfWork
from passerelle.settings import DEFAULT_SECRET_KEY


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
        with self.engine.connect() as connection:
            if write:
                connection = connection.execution_options(**{WRITE_OPTION: True})
            with Session(bind=connection, expire_on_commit=False) as session:
                uow = SqlUnitOfWork(session, self.secret)
                try:
                    yield uow
                finally:
                    session.rollback()

    def dispose(self) -> None:
        self.engine.dispose()
