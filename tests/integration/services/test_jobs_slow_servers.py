"""A slow outside server never blocks writes: while the jobs runner waits on a server of
127.0.0.1 that sends its headers one line at a time, logins and public reports are written on
the same SQLite file by writers that wait at most one second for the write lock; two job
loops run at once and both survive; a page that keeps failing is tried again later and later.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from passerelle.core.errors import DatabaseUnavailable
from passerelle.core.ports import UnitOfWork
from passerelle.db.engine import WRITE_OPTION, make_engine
from passerelle.db.migrate import upgrade
from passerelle.db.session import Database
from passerelle.fetch.fetcher import FetchLimits, SafeFetcher
from passerelle.fetch.guard import AddressGuard, parse_allow_list
from passerelle.jobs.runner import run_once
from passerelle.services.auth import LoginPolicy, log_in
from passerelle.services.matchers import MatcherCache
from passerelle.services.public import fetch_reported_pages, submit_public_report
from tests.factories import DEFAULT_PASSWORD, make_agency, make_user

POLICY = LoginPolicy(5, timedelta(minutes=15), timedelta(hours=1))


class SlowServer(ThreadingHTTPServer):
    """Answers with one header line every 0.2 s until `release` is set; `arrived` is set when
    a request comes in."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), SlowHandler)
        self.arrived = threading.Event()
        self.release = threading.Event()
        self.requests = 0


class SlowHandler(BaseHTTPRequestHandler):
    server: SlowServer

    def log_message(self, *_: object) -> None:
        return

    def do_GET(self) -> None:
        self.server.requests += 1
        try:
            self.wfile.write(b"HTTP/1.1 503 Busy\r\n")
            self.server.arrived.set()
            number = 0
            while not self.server.release.wait(0.2):
                self.wfile.write(f"X-Slow-{number}: yes\r\n".encode())
                self.wfile.flush()
                number += 1
            self.wfile.write(b"Content-Length: 0\r\nConnection: close\r\n\r\n")
        except OSError:
            return  # the fetcher gave up at its deadline


@pytest.fixture
def slow_server() -> Iterator[SlowServer]:
    server = SlowServer()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'passerelle.db'}"
    database = Database(make_engine(url))
    upgrade(database.engine)
    with database.unit_of_work(write=True) as uow:
        make_agency(uow, code="unite")
        make_user(uow, agency_code="unite", username="analyste", roles=("analyst",))
        uow.commit()
    database.dispose()
    yield url


def report(database: Database, url: str, number: int) -> str:
    with database.unit_of_work(write=True) as uow:
        reference = submit_public_report(
            uow,
            agency_code="unite",
            url=url,
            category="",
            description=f"Signalement {number}",
            source_hash=f"source-{number}",
            per_hour=100,
            allowed=parse_allow_list(["127.0.0.1/32"]),
        )
        uow.commit()
    return reference


def fetcher(timeout: float) -> SafeFetcher:
    guard = AddressGuard(parse_allow_list(["127.0.0.1/32"]))
    return SafeFetcher(guard, FetchLimits(timeout_seconds=timeout))


def test_logins_and_reports_are_written_while_a_job_waits_on_a_slow_server(
    sqlite_file: str, slow_server: SlowServer
) -> None:
    jobs_db = Database(make_engine(sqlite_file))
    # Writers that give up after one second waiting for the write lock.
    writers = Database(make_engine(sqlite_file, busy_timeout=1.0))
    slow_url = f"http://127.0.0.1:{slow_server.server_address[1]}/slow"
    report(writers, slow_url, 0)
    outcome: list[object] = []
    with fetcher(timeout=60) as client:
        job = threading.Thread(target=lambda: outcome.append(run_once(jobs_db, client)))
        job.start()
        try:
            assert slow_server.arrived.wait(30), "the job never fetched the reported page"
            # The job is now inside the fetch, as long as the server is held.
            references = [report(writers, f"https://exemple.test/{n}", n) for n in range(1, 6)]
            for _ in range(3):
                login = log_in(
                    writers.unit_of_work,
                    username="analyste",
                    password=DEFAULT_PASSWORD,
                    source="test",
                    policy=POLICY,
                )
                assert login.user.username == "analyste"
        finally:
            slow_server.release.set()
            job.join(60)
    assert len(references) == 5
    (runs,) = outcome
    assert {r.kind: r.detail for r in runs}["fetch_reports"] == (  # type: ignore[attr-defined]
        "0 fetched, 0 unavailable, 1 not reachable"
    )
    jobs_db.dispose()
    writers.dispose()


def test_two_job_loops_at_once_both_survive(sqlite_file: str, slow_server: SlowServer) -> None:
    slow_url = f"http://127.0.0.1:{slow_server.server_address[1]}/slow"
    setup = Database(make_engine(sqlite_file))
    for number in range(3):
        report(setup, f"{slow_url}/{number}", number)
    setup.dispose()
    failures: list[BaseException] = []
    finished: list[str] = []

    def loop(name: str) -> None:
        # Each loop on its own engine, waiting at most one second for the write lock.
        database = Database(make_engine(sqlite_file, busy_timeout=1.0))
        try:
            with fetcher(timeout=1.5) as client:
                for round_number in range(2):
                    with database.unit_of_work(write=True) as uow:  # everything due again
                        uow.session.execute(text("UPDATE jobs SET run_at = :t"), {"t": past()})
                        uow.session.execute(text("UPDATE items SET fetch_retry_at = NULL"))
                        uow.commit()
                    run_once(database, client, worker=f"{name}-{round_number}")
            finished.append(name)
        except BaseException as exc:
            failures.append(exc)
        finally:
            database.dispose()

    slow_server.release.clear()
    loops = [threading.Thread(target=loop, args=(f"loop{i}",)) for i in range(2)]
    for thread in loops:
        thread.start()
    for thread in loops:
        thread.join(120)
    assert failures == []
    assert sorted(finished) == ["loop0", "loop1"]
    assert slow_server.requests >= 3


def past() -> datetime:
    return datetime.now(UTC) - timedelta(minutes=1)


def test_a_locked_database_is_a_clean_message_not_a_traceback(sqlite_file: str) -> None:
    database = Database(make_engine(sqlite_file, busy_timeout=0.2))
    holder = sqlite3.connect(sqlite_file.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer keeps the lock
    try:
        with fetcher(timeout=1) as client, pytest.raises(DatabaseUnavailable) as caught:
            run_once(database, client)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        database.dispose()
    assert str(caught.value) == (
        "the database stayed busy with another writer past the wait limit;"
        " the due jobs are left for the next round"
    )


def test_a_page_that_keeps_failing_is_tried_again_later_and_later(
    sqlite_file: str, slow_server: SlowServer
) -> None:
    database = Database(make_engine(sqlite_file))
    slow_server.release.set()  # answers 503 at once
    report(database, f"http://127.0.0.1:{slow_server.server_address[1]}/busy", 0)
    start = datetime.now(UTC)
    retries = []
    with fetcher(timeout=5) as client:
        for step in range(3):
            with database.unit_of_work(write=True) as uow:
                uow.session.execute(text("UPDATE jobs SET run_at = :t"), {"t": past()})
                uow.commit()
            if step:  # due again only at its retry time
                with database.unit_of_work(write=True) as uow:
                    uow.session.execute(text("UPDATE items SET fetch_retry_at = :t"), {"t": past()})
                    uow.commit()
            runs = {r.kind: r.detail for r in run_once(database, client)}
            assert runs["fetch_reports"] == "0 fetched, 0 unavailable, 1 not reachable"
            with database.unit_of_work() as uow:
                failures, retry_at = uow.session.execute(
                    text("SELECT fetch_failures, fetch_retry_at FROM items WHERE url LIKE '%/busy'")
                ).one()
            retries.append((failures, retry_at))
        # Not due before its retry time: the next run leaves it alone.
        with database.unit_of_work(write=True) as uow:
            uow.session.execute(text("UPDATE jobs SET run_at = :t"), {"t": past()})
            uow.commit()
        runs = {r.kind: r.detail for r in run_once(database, client)}
    assert runs["fetch_reports"] == "0 fetched, 0 unavailable, 0 not reachable"
    assert [failures for failures, _ in retries] == [1, 2, 3]
    delays = [(datetime.fromisoformat(str(at)).replace(tzinfo=UTC) - start) for _, at in retries]
    assert [round(d / timedelta(minutes=10)) for d in delays] == [1, 2, 4]
    database.dispose()


def test_a_failed_fetch_is_recorded_with_only_its_write_under_the_lock(
    sqlite_file: str, tmp_path: Path
) -> None:
    """The transaction that records a failed fetch holds SQLite's write lock for one UPDATE:
    what it must read (which case, which item, of which agency) is not read while every
    other writer waits."""
    database = Database(make_engine(sqlite_file))
    report(database, "http://127.0.0.1:9/never", 0)
    with database.unit_of_work() as uow:
        agency_id = uow.agencies.get_by_code("unite").id
    under_lock: list[str] = []

    @event.listens_for(database.engine, "before_cursor_execute")
    def _seen(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if conn.get_execution_options().get(WRITE_OPTION) and statement != "BEGIN IMMEDIATE":
            under_lock.append(statement.split()[0] + " " + _table_of(statement))

    @contextmanager
    def writing() -> Iterator[UnitOfWork]:
        with database.unit_of_work(write=True) as uow:
            yield uow

    @contextmanager
    def reading() -> Iterator[UnitOfWork]:
        with database.unit_of_work() as uow:
            yield uow

    detail = fetch_reported_pages(
        writing,
        agency_id=agency_id,
        fetch=lambda url: None,  # no answer: a failure to record
        store=None,
        now=datetime.now(UTC),
        open_read=reading,
        matchers=MatcherCache(tmp_path / "indexes"),
    )
    assert detail.english() == "0 fetched, 0 unavailable, 1 not reachable"
    assert under_lock == ["UPDATE items"]
    with database.unit_of_work() as uow:
        assert uow.queue.reports_to_fetch(agency_id) != []  # still to fetch, later
        assert uow.queue.reports_to_fetch(agency_id, datetime.now(UTC)) == []  # backing off
    database.dispose()


def _table_of(statement: str) -> str:
    words = statement.split()
    keyword = {"UPDATE": "UPDATE", "INSERT": "INTO"}.get(words[0], "FROM")
    return words[words.index(keyword) + 1] if keyword in words else "?"
