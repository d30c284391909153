"""The job runner: wires the safe fetcher into the re-check job and loops (or runs once)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from passerelle.core.errors import ExternalServiceError, InvalidInput
from passerelle.core.ports import ContentStore, UnitOfWork
from passerelle.db.session import Database
from passerelle.fetch.fetcher import SafeFetcher
from passerelle.services.jobs import Checker, JobRun, run_due_jobs, schedule_defaults

GONE = frozenset({404, 410, 451})


def make_checker(fetcher: SafeFetcher) -> Checker:
    """Offline when the address answers 404, 410 or 451; online for 2xx/3xx and other 4xx;
    unknown (None) for 5xx, refused addresses and network failures."""

    def check(url: str) -> tuple[bool, str] | None:
        try:
            result = fetcher.fetch(url)
        except (ExternalServiceError, InvalidInput):
            return None
        if result.status in GONE:
            return False, f"HTTP {result.status}"
        if result.status >= 500:
            return None
        return True, f"HTTP {result.status}"

    return check


def run_once(
    database: Database,
    fetcher: SafeFetcher,
    worker: str | None = None,
    store: ContentStore | None = None,
    retention: timedelta = timedelta(days=183),
) -> list[JobRun]:
    name = worker or f"{socket.gethostname()}:{time.monotonic_ns()}"

    @contextmanager
    def open_uow() -> Iterator[UnitOfWork]:
        with database.unit_of_work(write=True) as uow:
            yield uow

    with database.unit_of_work(write=True) as uow:
        schedule_defaults(uow)
        uow.commit()
    return list(
        run_due_jobs(
            open_uow, worker=name, checker=make_checker(fetcher), store=store, retention=retention
        )
    )
