"""The job runner: wires the safe fetcher into the jobs and runs the due ones."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from sqlalchemy.exc import OperationalError

from passerelle.core.errors import DatabaseUnavailable, ExternalServiceError, InvalidInput
from passerelle.core.ports import ContentStore, Fetch, Fetched, UnitOfWork
from passerelle.db.session import Database
from passerelle.exchange.client import make_pull
from passerelle.fetch.fetcher import SafeFetcher
from passerelle.fetch.guard import AddressGuard
from passerelle.services.jobs import JobRun, run_due_jobs, schedule_defaults
from passerelle.services.matchers import MatcherCache
from passerelle.services.sync import no_pull


def make_fetch(fetcher: SafeFetcher) -> Fetch:
    """The jobs' way to the web: the safe fetcher (every address and redirect checked, sizes
    and times capped); None for refused addresses and network failures."""

    def fetch(url: str) -> Fetched | None:
        try:
            result = fetcher.fetch(url)
        except (ExternalServiceError, InvalidInput):
            return None
        return Fetched(result.status, result.final_url, result.content.data)

    return fetch


def run_once(
    database: Database,
    fetcher: SafeFetcher,
    worker: str | None = None,
    store: ContentStore | None = None,
    retention: timedelta = timedelta(days=183),
    secret: str | None = None,
    partner_guard: AddressGuard | None = None,
    matchers: MatcherCache | None = None,
    index_root: Path | None = None,
) -> list[JobRun]:
    """Schedule and run the due jobs once. Partners are reached through `partner_guard`
        (public addresses only unless its allow-list opens a network). `matchers`, kept by the
        caller from round to round, opens the agencies' indexes on disk (in `index_root`, where the
    daily purge also prunes the withdrawals they have folded in) and follows them."""
    name = worker or f"{socket.gethostname()}:{time.monotonic_ns()}"

    @contextmanager
    def open_uow() -> Iterator[UnitOfWork]:
        with database.unit_of_work(write=True) as uow:
            yield uow

    @contextmanager
    def open_read() -> Iterator[UnitOfWork]:
        with database.unit_of_work() as uow:
            yield uow

    try:
        with database.unit_of_work(write=True) as uow:
            schedule_defaults(uow)
            uow.commit()
        return list(
            run_due_jobs(
                open_uow,
                worker=name,
                fetch=make_fetch(fetcher),
                store=store,
                retention=retention,
                pull=make_pull(secret, partner_guard) if secret else no_pull,
                open_read=open_read,
                matchers=matchers,
                index_root=index_root,
            )
        )
    except OperationalError as exc:
        if not is_busy(exc):
            raise
        raise DatabaseUnavailable(
            "the database stayed busy with another writer past the wait limit;"
            " the due jobs are left for the next round"
        ) from None


def is_busy(exc: OperationalError) -> bool:
    """Whether SQLite refused because another connection held the write lock too long."""
    return "database is locked" in str(exc.orig) or "database is busy" in str(exc.orig)
