"""Fault test of the server: a real `passerelle serve` on 127.0.0.1 takes public reports,
decisions and referrals from concurrent clients and is killed with SIGKILL at a random moment,
several times; restarted each time. Afterwards: every write the server acknowledged is there,
once; no case half-written (each with its item, its audit event, at most one decision and one
referral); the jobs runner runs again and fetches the reported pages, leaving no stored file
that no item refers to; the audit chain is intact."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from passerelle.core.decision import LEGAL_BASES, parse_decision
from passerelle.db.engine import make_engine
from passerelle.db.migrate import upgrade
from passerelle.db.session import Database
from passerelle.fetch.guard import parse_allow_list
from passerelle.services import refer
from passerelle.services.public import submit_public_report
from passerelle.services.review import decide_case
from passerelle.storage.content_store import EncryptedContentStore, derive_content_key
from tests.cli_runner import Cli
from tests.conftest import TEST_SECRET
from tests.factories import DEFAULT_PASSWORD, make_agency, make_user
from tests.servers import free_port, serving

ROUNDS = 3
CASES = 30  # open cases to decide, and as many decided ones to refer
SEED = int.from_bytes(os.urandom(4), "big")
LOOPBACK = parse_allow_list(["127.0.0.1/32"])
KINDS = ("report", "decision", "referral")
RATIONALE = "Appel explicite à commettre des attentats (test de panne)."


class PageHandler(BaseHTTPRequestHandler):
    """A neutral page of text, different for each path: what the public reported."""

    def log_message(self, *_: object) -> None:
        return

    def do_GET(self) -> None:
        body = f"<html><body><p>Page de test neutre {self.path}</p></body></html>".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def pages() -> Iterator[str]:
    with serving(PageHandler) as url:
        yield url


@dataclass
class Seeded:
    open_cases: list[str]
    decided_cases: list[str]


def seed(url: str) -> Seeded:
    """One agency and its analyst, the host of the cases' addresses, CASES open cases and
    CASES decided ones (their pages marked fetched: the jobs leave them alone)."""
    database = Database(make_engine(url), secret=TEST_SECRET)
    upgrade(database.engine)
    with database.unit_of_work(write=True) as uow:
        agency = make_agency(uow, code="unite")
        analyst = make_user(uow, agency_code="unite", username="analyste")
        refer.add_host(
            uow,
            agency_code="unite",
            actor="test",
            domain="exemple.test",
            name="Hébergeur",
            email="abuse@exemple.test",
            language="fr",
        )
        for number in range(2 * CASES):
            submit_public_report(
                uow,
                agency_code="unite",
                url=f"https://exemple.test/{number}",
                category="",
                description="",
                source_hash="seed",
                per_hour=10_000,
                allowed=LOOPBACK,
            )
        uow.session.execute(text("UPDATE items SET fetched_at = :t"), {"t": datetime.now(UTC)})
        cases = list(
            uow.session.execute(text("SELECT id FROM cases ORDER BY created_at, id")).scalars()
        )
        decision = parse_decision(
            verdict="terrorist",
            category="a",
            reason="",
            exemption_checked=True,
            rationale=RATIONALE,
            legal_basis=LEGAL_BASES[agency.jurisdiction][0],
            add_to_bank="",
            jurisdiction=agency.jurisdiction,
        )
        for case_id in cases[CASES:]:
            decide_case(uow, viewer=analyst, case_id=case_id, decision=decision)
        uow.commit()
    database.dispose()
    return Seeded(open_cases=cases[:CASES], decided_cases=cases[CASES:])


@dataclass
class Acknowledged:
    """What the server answered 2xx/303 for, and what it was asked."""

    reports: list[str] = field(default_factory=list)
    decisions: list[str] = field(default_factory=list)
    referrals: list[str] = field(default_factory=list)
    asked: Counter[str] = field(default_factory=Counter)
    answers: Counter[tuple[str, int]] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


def csrf(client: httpx.Client, path: str) -> str:
    page = client.get(path).text
    marker = 'name="csrf_token" value="'
    start = page.index(marker) + len(marker)
    return page[start : page.index('"', start)]


def write_until_gone(
    base: str, kind: str, pool: list[str], pages: str, where: str, done: Acknowledged
) -> None:
    """Post writes of one kind until the server stops answering (it was killed)."""
    with httpx.Client(base_url=base, timeout=30) as client:
        try:
            if kind != "report":
                token = csrf(client, "/login")
                client.post(
                    "/login",
                    data={
                        "username": "analyste",
                        "password": DEFAULT_PASSWORD,
                        "csrf_token": token,
                        "next": "/",
                    },
                )
            token = csrf(client, "/signaler" if kind == "report" else "/")
            for number in range(10_000):
                with done.lock:
                    done.asked[kind] += 1
                if kind == "report":
                    address = f"{pages}/{where}/{number}"
                    data = {"csrf_token": token, "url": address, "category": "", "description": ""}
                    status = client.post("/signaler", data=data).status_code
                    with done.lock:
                        done.answers[kind, status] += 1
                        if status == 200:
                            done.reports.append(address)
                    continue
                with done.lock:
                    if not pool:
                        return
                    case_id = pool.pop()
                if kind == "decision":
                    path, expected = f"/cases/{case_id}/decision", done.decisions
                    data = {
                        "csrf_token": token,
                        "verdict": "terrorist",
                        "category": "a",
                        "legal_basis": "fr_code_penal_421_2_5",
                        "exemption_checked": "true",
                        "rationale": RATIONALE,
                    }
                else:
                    path, expected = f"/cases/{case_id}/referrals", done.referrals
                    data = {"csrf_token": token, "kind": "referral", "language": "fr"}
                status = client.post(path, data=data, follow_redirects=False).status_code
                with done.lock:
                    done.answers[kind, status] += 1
                    if status == 303:
                        expected.append(case_id)
        except httpx.TransportError:
            return  # killed


def start_server(folder: Path, env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PASSERELLE_")}
    environment.update(env)
    with (folder / "server.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "passerelle.cli.main", "serve", "--port", str(port)],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=folder,
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    pytest.fail("the server did not start: " + (folder / "server.log").read_text())


def count(database: Database, sql: str, **params: object) -> int:
    with database.engine.connect() as conn:
        return int(conn.execute(text(sql), params).scalar_one())


def test_the_server_killed_under_writes_loses_nothing_it_acknowledged(
    tmp_path: Path, database_url: str, pages: str
) -> None:
    seeded = seed(database_url)
    env = {
        "PASSERELLE_ENV": "dev",
        "PASSERELLE_SECRET_KEY": TEST_SECRET,
        "PASSERELLE_DATA_DIR": str(tmp_path / "var"),
        "PASSERELLE_DATABASE_URL": database_url,
        "PASSERELLE_PUBLIC_AGENCY": "unite",
        "PASSERELLE_PUBLIC_REPORTS_PER_HOUR": "1000",
        "PASSERELLE_FETCH_ALLOW": "127.0.0.1/32",
        "PASSERELLE_CONTENT_GRACE_SECONDS": "0",
    }
    rng = random.Random(SEED)
    done = Acknowledged()
    pools = {"decision": seeded.open_cases[:], "referral": seeded.decided_cases[:]}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    for round_number in range(ROUNDS):
        server = start_server(tmp_path, env, port)
        asked_before = dict(done.asked)
        writers = [
            threading.Thread(
                target=write_until_gone,
                args=(base, kind, pools.get(kind, []), pages, f"r{round_number}w{n}", done),
            )
            for n, kind in enumerate(("report", *KINDS))
        ]
        for thread in writers:
            thread.start()
        # Kill once the writers are busy, at a random moment of their work.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(
            done.asked[kind] < asked_before.get(kind, 0) + 3 and pools.get(kind, True)
            for kind in KINDS
        ):
            time.sleep(0.02)
        time.sleep(rng.uniform(0.1, 1.5))
        os.kill(server.pid, signal.SIGKILL)
        server.wait(timeout=30)
        for thread in writers:
            thread.join(60)
    assert done.reports and done.decisions and done.referrals, f"seed {SEED}: {done}"
    # Every request answered was answered as a success (none failed for the load).
    assert set(done.answers) <= {("report", 200), ("decision", 303), ("referral", 303)}

    # Restarted, the server serves again; the jobs runner fetches every reported page.
    server = start_server(tmp_path, env, port)
    server.terminate()
    server.wait(timeout=30)
    jobs = Cli(env)("jobs", "run", "--once")
    assert jobs.exit_code == 0, jobs.output
    database = Database(make_engine(database_url), secret=TEST_SECRET)
    try:
        assert_nothing_lost_nor_doubled(database, done)
        assert_no_stray_content(database, tmp_path / "var" / "content")
    finally:
        database.dispose()
    verify = Cli(env)("audit", "verify")
    assert verify.exit_code == 0, verify.output


def assert_nothing_lost_nor_doubled(database: Database, done: Acknowledged) -> None:
    for address in done.reports:  # each acknowledged report: its one item, fetched
        assert count(database, "SELECT count(*) FROM items WHERE url = :u", u=address) == 1
        assert (
            count(database, "SELECT count(*) FROM public_reports WHERE url = :u", u=address) == 1
        ), address
    for case_id in done.decisions:
        assert count(database, "SELECT count(*) FROM decisions WHERE case_id = :c", c=case_id) == 1
    for case_id in done.referrals:
        assert count(database, "SELECT count(*) FROM referrals WHERE case_id = :c", c=case_id) == 1
    # Nothing doubled, nothing half-written, acknowledged or not.
    assert count(database, "SELECT count(DISTINCT url) FROM items") == count(
        database, "SELECT count(*) FROM items"
    )
    assert count(database, "SELECT count(DISTINCT item_id) FROM cases") == count(
        database, "SELECT count(*) FROM items"
    )
    cases = count(database, "SELECT count(*) FROM cases")
    assert cases == count(database, "SELECT count(*) FROM audit_events WHERE action='case.opened'")
    assert count(database, "SELECT count(*) FROM public_reports") == count(
        database, "SELECT count(*) FROM audit_events WHERE action = 'public_report.received'"
    )
    decisions = count(database, "SELECT count(*) FROM decisions")
    assert decisions == count(database, "SELECT count(DISTINCT case_id) FROM decisions")
    assert decisions == count(
        database, "SELECT count(*) FROM audit_events WHERE action = 'case.decided'"
    )
    referrals = count(database, "SELECT count(*) FROM referrals")
    assert referrals == count(database, "SELECT count(DISTINCT case_id) FROM referrals")
    assert referrals == count(
        database, "SELECT count(*) FROM audit_events WHERE action = 'referral.prepared'"
    )
    # The jobs runner ran again: every page reported to the server fetched, once.
    unfetched = "SELECT count(*) FROM items WHERE fetched_at IS NULL"
    assert count(database, unfetched) == 0
    reported = count(database, "SELECT count(*) FROM items WHERE url LIKE 'http://127.0.0.1:%'")
    assert reported >= len(done.reports)
    fetched = "SELECT count(*) FROM audit_events WHERE action = 'case.page_fetched'"
    assert count(database, fetched) == reported


def assert_no_stray_content(database: Database, content: Path) -> None:
    """Every stored file is the content of an item, every fetched page is stored."""
    with database.engine.connect() as conn:
        shas = set(
            conn.execute(
                text("SELECT sha256 FROM items WHERE url LIKE 'http://127.0.0.1:%'")
            ).scalars()
        )
    stored = {p.name for p in content.glob("??/??/*") if p.is_file()}
    assert stored == shas
    assert not list((content / "staging").glob("*"))
    store = EncryptedContentStore(content, derive_content_key(TEST_SECRET))
    assert all(store.get(sha).startswith(b"<html>") for sha in shas)
