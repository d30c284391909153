"""Two `passerelle jobs run` processes at once on one database (a SQLite file, PostgreSQL):
both have work to claim (reported pages on a slow server of 127.0.0.1, for two agencies),
neither dies of a locked database, both exit cleanly, and each page is fetched once: a claimed
job is held by its lease."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import text

from passerelle.db.engine import make_engine
from passerelle.db.migrate import upgrade
from passerelle.db.session import Database
from passerelle.fetch.guard import parse_allow_list
from passerelle.services.public import submit_public_report
from tests.conftest import TEST_SECRET
from tests.factories import make_agency

AGENCIES = ("unite-a", "unite-b")
REPORTS = 8  # per agency


class CountingServer(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), SlowPage)
        self.daemon_threads = True
        self.paths: Counter[str] = Counter()
        self.lock = threading.Lock()


class SlowPage(BaseHTTPRequestHandler):
    """A neutral page, after a pause: each fetch takes a while."""

    server: CountingServer

    def log_message(self, *_: object) -> None:
        return

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.paths[self.path] += 1
        time.sleep(0.4)
        body = f"<html><body><p>Page de test neutre {self.path}</p></body></html>".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def slow_pages() -> Iterator[CountingServer]:
    server = CountingServer()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_two_job_runner_processes_at_once_share_the_work_and_both_exit_cleanly(
    tmp_path: Path, database_url: str, slow_pages: CountingServer, request: pytest.FixtureRequest
) -> None:
    base = f"http://127.0.0.1:{slow_pages.server_address[1]}"
    database = Database(make_engine(database_url), secret=TEST_SECRET)
    request.addfinalizer(database.dispose)  # closed even when an assertion fails
    upgrade(database.engine)
    with database.unit_of_work(write=True) as uow:
        for code in AGENCIES:
            make_agency(uow, code=code)
            for number in range(REPORTS):
                submit_public_report(
                    uow,
                    agency_code=code,
                    url=f"{base}/{code}/{number}",
                    category="",
                    description="",
                    source_hash="test",
                    per_hour=1000,
                    allowed=parse_allow_list(["127.0.0.1/32"]),
                )
        uow.commit()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PASSERELLE_")}
    environment.update(
        {
            "PASSERELLE_ENV": "test",
            "PASSERELLE_SECRET_KEY": TEST_SECRET,
            "PASSERELLE_DATA_DIR": str(tmp_path / "var"),
            "PASSERELLE_DATABASE_URL": database_url,
            "PASSERELLE_FETCH_ALLOW": "127.0.0.1/32",
        }
    )
    runners = [
        subprocess.Popen(
            [sys.executable, "-m", "passerelle.cli.main", "jobs", "run", "--once"],
            env=environment,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [runner.communicate(timeout=240) for runner in runners]
    for runner, (out, err) in zip(runners, outputs, strict=True):
        assert runner.returncode == 0, out + err
        assert "Traceback" not in err and "locked" not in err, err
    # Each page fetched once, by one runner or the other; each recorded once.
    expected = {f"/{code}/{n}" for code in AGENCIES for n in range(REPORTS)}
    assert set(slow_pages.paths) == expected
    assert set(slow_pages.paths.values()) == {1}
    with database.engine.connect() as conn:
        fetched = conn.execute(
            text("SELECT count(*) FROM audit_events WHERE action = 'case.page_fetched'")
        ).scalar_one()
        unfetched = conn.execute(
            text("SELECT count(*) FROM items WHERE fetched_at IS NULL")
        ).scalar_one()
    assert (fetched, unfetched) == (len(expected), 0)
    # Each agency's fetch job was run by one runner only.
    lines = [line for out, _ in outputs for line in out.splitlines()]
    assert sum(line.startswith("fetch_reports\t") for line in lines) == len(AGENCIES)
