"""Persisted jobs on both engines: URL re-checks against a real server on 127.0.0.1, a job
that survives a restart, and one that never runs twice at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import text

from passerelle.core.ports import UnitOfWork
from passerelle.db.engine import make_engine
from passerelle.db.session import Database
from passerelle.fetch.fetcher import SafeFetcher
from passerelle.fetch.guard import AddressGuard, parse_allow_list
from passerelle.jobs.runner import run_once
from passerelle.services import refer
from passerelle.services.jobs import run_due_jobs, schedule_defaults
from tests.factories import make_agency, make_cases, make_referral, make_user
from tests.shared import shared


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *_: object) -> None:
        return

    def do_GET(self) -> None:
        status = 404 if self.path.startswith("/gone") else 200
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def sent_referral(database: Database, url: str) -> str:
    with database.unit_of_work(write=True) as uow:
        make_agency(uow, code="unite")
        author = make_user(uow, agency_code="unite", username="analyste", roles=("analyst",))
        image = shared("pdq", "images", "aaa-orig.jpg").read_bytes()
        (case,) = make_cases(uow, agency_code="unite", images=[image])
        refer.add_host(
            uow,
            agency_code="unite",
            actor="test",
            domain="exemple.test",
            name="H",
            email="abuse@exemple.test",
            language="fr",
        )
        uow.session.execute(
            text("UPDATE items SET url = :u"),
            {"u": "https://exemple.test/x"},
        )
        referral = make_referral(uow, agency_code="unite", case_id=case, author=author)
        refer.mark_sent(uow, viewer=author, referral_id=referral)
        uow.session.execute(text("UPDATE referrals SET url = :u"), {"u": url})
        uow.commit()
    return referral


def test_a_removed_page_is_seen_offline_and_a_live_one_is_not(
    database: Database, server: str
) -> None:
    referral = sent_referral(database, server + "/gone/page")
    fetcher = SafeFetcher(AddressGuard(parse_allow_list(["127.0.0.1/32"])))
    (run,) = run_once(database, fetcher)
    assert run.error is None and run.detail == "1 checked, 1 newly offline, 0 not reachable"
    with database.unit_of_work() as uow:
        offline = uow.session.execute(
            text("SELECT offline_at FROM referrals WHERE id = :i"),
            {"i": referral},
        ).scalar_one()
        actions = [e.action for e in uow.audit.iter_all()]
    assert offline is not None and "referral.offline_seen" in actions
    # Not due again for an hour: a second run now does nothing.
    assert run_once(database, fetcher) == []


def test_a_job_survives_a_restart_and_runs_once_at_a_time(database: Database, server: str) -> None:
    sent_referral(database, server + "/alive")
    with database.unit_of_work(write=True) as uow:
        schedule_defaults(uow)
        uow.commit()
    url = database.engine.url.render_as_string(hide_password=False)
    database.dispose()
    restarted = Database(make_engine(url))  # a new process would see the same job
    calls: list[str] = []

    def slow_checker(address: str) -> tuple[bool, str]:
        calls.append(address)
        time.sleep(0.5)
        return True, "HTTP 200"

    @contextmanager
    def open_uow() -> Iterator[UnitOfWork]:
        with restarted.unit_of_work(write=True) as uow:
            yield uow

    now = datetime.now(UTC) + timedelta(seconds=1)
    results: list[int] = []

    def worker(name: str) -> None:
        results.append(
            len(list(run_due_jobs(open_uow, worker=name, checker=slow_checker, now=now)))
        )

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [0, 0, 1]  # one worker ran it; the others saw it claimed
    assert len(calls) == 1
    with restarted.unit_of_work() as uow:
        (job,) = uow.jobs.all_jobs()
    assert job.runs == 1 and job.run_at > now
    restarted.dispose()
