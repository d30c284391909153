"""Persisted jobs on both engines: URL re-checks against a real server on 127.0.0.1, a job
that survives a restart, and one that never runs twice at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from sqlalchemy import text

from passerelle.core.case import QueueFilters
from passerelle.core.ports import Fetched
from passerelle.db.engine import STATISTICS_RELOAD_SECONDS, make_engine
from passerelle.db.session import Database
from passerelle.fetch.fetcher import SafeFetcher
from passerelle.fetch.guard import AddressGuard, parse_allow_list
from passerelle.jobs.runner import run_once
from passerelle.services import refer
from passerelle.services.jobs import run_due_jobs, schedule_defaults
from passerelle.services.public import submit_public_report
from passerelle.storage.content_store import EncryptedContentStore
from tests.factories import make_agency, make_cases, make_referral, make_user
from tests.servers import serving
from tests.shared import shared

ORIGINAL = shared("pdq", "images", "aaa-orig.jpg").read_bytes()
NOTICE = (
    "<html><body><h1>Contenu indisponible</h1><p>Ce contenu a été retiré par notre équipe de"
    " modération conformément à nos conditions d'utilisation du service.</p></body></html>"
).encode()
# What the test server answers at each path: (status, body, redirect target).
PAGES: dict[str, tuple[int, bytes, str | None]] = {
    "/gone/page": (404, b"not found", None),
    "/alive": (200, ORIGINAL, None),
    "/copy": (200, shared("pdq", "images", "shrink-a-lot.jpg").read_bytes(), None),
    "/notice": (200, NOTICE, None),
    "/moved": (302, b"", "/"),
    "/": (200, NOTICE, None),
    "/broken": (503, b"busy", None),
}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *_: object) -> None:
        return

    def do_GET(self) -> None:
        status, body, target = PAGES.get(self.path, (404, b"", None))
        self.send_response(status)
        if target:
            self.send_header("Location", target)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with serving(Handler) as url:
        yield url


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
    runs = {run.kind: run for run in run_once(database, fetcher)}
    assert set(runs) == {"recheck", "purge", "fetch_reports", "sync"}
    run = runs["recheck"]
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


@pytest.mark.parametrize(
    ("path", "offline", "detail"),
    [
        ("/alive", False, "HTTP 200, the same content"),
        ("/copy", False, "HTTP 200, the same image (distance 14)"),
        ("/notice", True, "HTTP 200, the content is no longer there (soft removal)"),
        ("/moved", True, "soft removal, redirected to {server}/)"),
        ("/gone/page", True, "HTTP 404"),
    ],
)
def test_a_recheck_looks_at_the_content_not_only_the_status(
    sqlite_database: Database, server: str, path: str, offline: bool, detail: str
) -> None:
    referral = sent_referral(sqlite_database, server + path)
    fetcher = SafeFetcher(AddressGuard(parse_allow_list(["127.0.0.1/32"])))
    runs = {run.kind: run for run in run_once(sqlite_database, fetcher)}
    assert runs["recheck"].detail == f"1 checked, {int(offline)} newly offline, 0 not reachable"
    with sqlite_database.unit_of_work() as uow:
        seen = uow.session.execute(
            text("SELECT online, detail FROM rechecks WHERE referral_id = :i"), {"i": referral}
        ).one()
        offline_at = uow.session.execute(
            text("SELECT offline_at FROM referrals WHERE id = :i"), {"i": referral}
        ).scalar_one()
    assert bool(seen.online) is not offline
    assert seen.detail.endswith(detail.format(server=server))
    assert (offline_at is not None) is offline


def test_a_server_error_tells_nothing(sqlite_database: Database, server: str) -> None:
    sent_referral(sqlite_database, server + "/broken")
    fetcher = SafeFetcher(AddressGuard(parse_allow_list(["127.0.0.1/32"])))
    runs = {run.kind: run for run in run_once(sqlite_database, fetcher)}
    assert runs["recheck"].detail == "1 checked, 0 newly offline, 1 not reachable"


def test_a_job_survives_a_restart_and_runs_once_at_a_time(
    database: Database, server: str, request: pytest.FixtureRequest
) -> None:
    sent_referral(database, server + "/alive")
    with database.unit_of_work(write=True) as uow:
        schedule_defaults(uow)
        uow.commit()
    url = database.engine.url.render_as_string(hide_password=False)
    database.dispose()
    restarted = Database(make_engine(url))  # a new process would see the same job
    request.addfinalizer(restarted.dispose)
    calls: list[str] = []

    def slow_fetch(address: str) -> Fetched:
        calls.append(address)
        time.sleep(0.5)
        return Fetched(200, address, b"ok")

    open_uow = partial(restarted.unit_of_work, write=True)

    now = datetime.now(UTC) + timedelta(seconds=1)
    results: list[int] = []

    def worker(name: str) -> None:
        results.append(len(list(run_due_jobs(open_uow, worker=name, fetch=slow_fetch, now=now))))

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(results) == 4  # each of the four jobs ran once, by whichever worker claimed it
    assert len(calls) == 1
    with restarted.unit_of_work() as uow:
        jobs = uow.jobs.all_jobs()
    assert [(j.kind, j.runs) for j in jobs] == [
        ("fetch_reports", 1),
        ("purge", 1),
        ("recheck", 1),
        ("sync", 1),
    ]
    assert all(j.run_at > now for j in jobs)


@pytest.mark.parametrize("held", [False, True])
def test_preserved_content_is_purged_after_retention_unless_held(
    database: Database,
    server: str,
    tmp_path,
    held: bool,  # type: ignore[no-untyped-def]
) -> None:
    from passerelle.services.jobs import set_legal_hold
    from passerelle.storage.content_store import EncryptedContentStore, derive_content_key

    store = EncryptedContentStore(tmp_path / "content", derive_content_key("k" * 40))
    referral = sent_referral(database, server + "/gone")
    image = shared("pdq", "images", "aaa-orig.jpg").read_bytes()
    sha256 = store.put(image)
    long_ago = datetime.now(UTC) - timedelta(days=200)
    with database.unit_of_work(write=True) as uow:
        uow.session.execute(text("UPDATE referrals SET offline_at = :t"), {"t": long_ago})
        if held:
            approver = make_user(
                uow, agency_code="unite", username="approbateur", roles=("approver",)
            )
            case_id = uow.referrals.get(approver.agency_id, referral).case_id
            set_legal_hold(
                uow,
                viewer=approver,
                case_id=case_id,
                until=datetime.now(UTC) + timedelta(days=30),
                reason="enquête judiciaire en cours",
            )
        schedule_defaults(uow)
        uow.commit()

    open_uow = partial(database.unit_of_work, write=True)

    runs = {
        r.kind: r
        for r in run_due_jobs(
            open_uow,
            worker="w",
            fetch=lambda url: None,
            store=store,
            retention=timedelta(days=183),
        )
    }
    assert runs["purge"].detail == ("0 purged" if held else "1 purged")
    assert store.has(sha256) is held
    with database.unit_of_work() as uow:
        actions = [e.action for e in uow.audit.iter_all()]
    assert ("content.purged" in actions) is not held
    assert ("case.hold_set" in actions) is held


def report(database: Database, url: str) -> str:
    with database.unit_of_work(write=True) as uow:
        make_agency(uow, code="unite")
        submit_public_report(
            uow,
            agency_code="unite",
            url=url,
            category="",
            description="Une page signalée par le public.",
            source_hash="h",
            per_hour=10,
            allowed=parse_allow_list(["127.0.0.1/32"]),
        )
        uow.commit()
        (case,) = uow.queue.list_cases(
            uow.agencies.get_by_code("unite").id, QueueFilters(), limit=5
        )
    return case.id


def test_the_page_of_a_public_report_is_fetched_once_and_shown_on_its_case(
    database: Database, server: str, store: EncryptedContentStore
) -> None:
    case_id = report(database, server + "/notice")
    fetcher = SafeFetcher(AddressGuard(parse_allow_list(["127.0.0.1/32"])))
    runs = {run.kind: run for run in run_once(database, fetcher, store=store)}
    assert runs["fetch_reports"].detail == "1 fetched, 0 unavailable, 0 not reachable"
    with database.unit_of_work() as uow:
        agency_id = uow.agencies.get_by_code("unite").id
        detail = uow.queue.get_case(agency_id, case_id)
        actions = [e.action for e in uow.audit.list_for_object(agency_id, "case", case_id)]
    assert detail.summary.media_type == "text/html"
    assert detail.summary.source == "public"
    assert detail.summary.language == "fr"
    assert store.get(detail.sha256) == NOTICE
    assert "text" in detail.signals
    assert actions[-1] == "case.page_fetched"
    with database.unit_of_work(write=True) as uow:
        uow.session.execute(text("UPDATE jobs SET run_at = :t"), {"t": datetime.now(UTC)})
        uow.commit()
    again = {run.kind: run for run in run_once(database, fetcher, store=store)}
    assert again["fetch_reports"].detail == "0 fetched, 0 unavailable, 0 not reachable"


def test_a_reported_page_that_is_gone_is_recorded_and_one_that_fails_is_retried(
    sqlite_database: Database, server: str
) -> None:
    gone = report(sqlite_database, server + "/gone/page")
    fetcher = SafeFetcher(AddressGuard(parse_allow_list(["127.0.0.1/32"])))
    with sqlite_database.unit_of_work(write=True) as uow:
        submit_public_report(
            uow,
            agency_code="unite",
            url=server + "/broken",
            category="",
            description="",
            source_hash="h",
            per_hour=10,
            allowed=parse_allow_list(["127.0.0.1/32"]),
        )
        uow.commit()
    runs = {run.kind: run for run in run_once(sqlite_database, fetcher)}
    assert runs["fetch_reports"].detail == "0 fetched, 1 unavailable, 1 not reachable"
    with sqlite_database.unit_of_work() as uow:
        agency_id = uow.agencies.get_by_code("unite").id
        assert [url for _, url, _ in uow.queue.reports_to_fetch(agency_id)] == [server + "/broken"]
        actions = [e.action for e in uow.audit.list_for_object(agency_id, "case", gone)]
        assert uow.queue.get_case(agency_id, gone).summary.media_type == "text/uri-list"
    assert actions[-1] == "case.page_unavailable"


def test_two_runners_scheduling_at_once_make_each_job_once(database: Database) -> None:
    """Both runners find the job missing before either has written it (PostgreSQL lets both
    read): the second insert waits for the first, then adds nothing instead of failing."""
    with database.unit_of_work(write=True) as uow:
        make_agency(uow)
        uow.commit()
    failures: list[BaseException] = []
    first_has_written = threading.Event()

    def second_runner() -> None:
        first_has_written.wait()
        try:
            with database.unit_of_work(write=True) as uow:
                schedule_defaults(uow)
                uow.commit()
        except BaseException as exc:  # reported by the assertion below
            failures.append(exc)

    thread = threading.Thread(target=second_runner)
    thread.start()
    with database.unit_of_work(write=True) as uow:
        schedule_defaults(uow)
        first_has_written.set()
        time.sleep(0.5)  # the second runner reads, finds nothing, and waits on the insert
        uow.commit()
    thread.join()
    assert failures == []
    with database.unit_of_work() as uow:
        jobs = uow.jobs.all_jobs()
    assert len(jobs) == len({(job.kind, job.agency_id) for job in jobs}) == 4


def test_the_daily_purge_tells_sqlites_planner_how_large_the_tables_have_grown(
    sqlite_database: Database,
) -> None:
    """Rows written one at a time (public reports, through the console) reach the planner's
    statistics with the next daily purge once a table has doubled since they were taken:
    exact figures (no sample), and no work for a table that has grown less."""
    open_uow = partial(sqlite_database.unit_of_work, write=True)

    def reports(first: int, count: int) -> None:
        with open_uow() as uow:
            if first == 0:
                make_agency(uow, code="unite")
            for number in range(first, first + count):
                submit_public_report(
                    uow,
                    agency_code="unite",
                    url=f"http://exemple.test/page/{number}",
                    category="",
                    description="Une page signalée par le public.",
                    source_hash=f"source-{number}",
                    per_hour=10,
                )
            schedule_defaults(uow)
            uow.session.execute(text("UPDATE jobs SET run_at = :t"), {"t": datetime.now(UTC)})
            uow.commit()

    def purge_and_read_statistics() -> set[int]:
        runs = {r.kind: r for r in run_due_jobs(open_uow, worker="w", fetch=lambda url: None)}
        assert runs["purge"].failure is None
        with sqlite_database.unit_of_work() as uow:
            rows = uow.session.execute(
                text("SELECT stat FROM sqlite_stat1 WHERE tbl IN ('items', 'cases')")
            ).scalars()
            return {int(stat.split()[0]) for stat in rows}

    reports(0, 40)
    assert purge_and_read_statistics() == {40}
    reports(40, 30)  # 70 rows: less than twice 40
    assert purge_and_read_statistics() == {40}
    reports(70, 10)
    assert purge_and_read_statistics() == {80}
    with open_uow() as uow:
        assert uow.jobs.tables_to_analyse() == []
        with pytest.raises(ValueError, match="no table"):
            uow.jobs.analyse('items"; DROP TABLE cases; --')


def test_pooled_sqlite_connections_are_renewed_to_read_fresh_statistics(tmp_path: Path) -> None:
    """A SQLite connection reads the planner's statistics when it opens: a server's pooled
    connections are replaced after STATISTICS_RELOAD_SECONDS, so that an ANALYZE run by
    another process (the daily purge, a bulk ingest) reaches them."""
    engine = make_engine(f"sqlite:///{tmp_path / 'p.db'}")
    with engine.connect() as connection:
        first = connection.connection.dbapi_connection
    with engine.connect() as connection:
        assert connection.connection.dbapi_connection is first  # pooled
        connection.connection._connection_record.starttime -= STATISTICS_RELOAD_SECONDS + 1
    with engine.connect() as connection:
        assert connection.connection.dbapi_connection is not first
    engine.dispose()
