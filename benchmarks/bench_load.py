"""Load: writers and readers against a real `passerelle serve` while `passerelle jobs run`
fetches pages from a slow server on 127.0.0.1 (one header line every half second, never
done). Prints writes per second, the 95th percentile of each kind of request and the number
of errors, the server's CPU time per request (all its processes) and the load average,
beside the same load with no jobs runner (the peer), measured in the same run.

    .venv/bin/python -m benchmarks.bench_load [SECONDS] [--writers N] [--readers N]
        [--concurrency N] [--workers N]   (the server's PASSERELLE_WEB_CONCURRENCY, _WEB_WORKERS)

SQLite always; PostgreSQL too when PASSERELLE_TEST_POSTGRES_URL is set (a fresh database is
created and dropped). Every address used is on 127.0.0.1: the reports point at the slow
server, the cases decided and referred carry addresses the jobs never fetch.
Aim: no error, p95 under 500 ms on SQLite.

Each writer of decisions or referrals takes its cases from a pool seeded beforehand, 40 a
second of load for each kind: with 20 a second, a server that wrote 20 decisions a second
emptied the pools before the end (decision and referral n=600 in a 30 s run), their writers
stopped, and the rest of the run measured a lighter load than 20 writers and 20 readers."""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
from sqlalchemy import create_engine, make_url, text

from passerelle.core.decision import LEGAL_BASES, parse_decision
from passerelle.db.engine import make_engine
from passerelle.db.migrate import upgrade
from passerelle.db.session import Database
from passerelle.fetch.guard import parse_allow_list
from passerelle.services import refer
from passerelle.services.admin import create_agency, create_user
from passerelle.services.public import submit_public_report
from passerelle.services.review import decide_case

AGENCY, ANALYST, PASSWORD = "bench", "bench.analyste", "mot de passe du banc d'essai"
SECRET = "bench-secret-" + "0123456789abcdef" * 3
LOOPBACK = parse_allow_list(["127.0.0.1/32"])
WRITE_KINDS = ("public_report", "decision", "referral")
READ_KINDS = ("queue", "case")


# --- the slow outside server ------------------------------------------------------------------


FETCHING = threading.Event()  # set when the jobs runner is inside a slow fetch


class SlowHandler(BaseHTTPRequestHandler):
    """Headers one line every half second, for as long as the client listens."""

    def log_message(self, *_: object) -> None:
        return

    def do_GET(self) -> None:
        FETCHING.set()
        try:
            self.wfile.write(b"HTTP/1.1 200 OK\r\n")
            for number in range(10_000):
                self.wfile.write(f"X-Slow-{number}: yes\r\n".encode())
                self.wfile.flush()
                time.sleep(0.5)
        except OSError:
            return


@contextmanager
def slow_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# --- the instance -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """User and system CPU time used so far by a process and every process under it (the
    server's workers), read from /proc (Linux)."""
    parents: dict[int, int] = {}
    used: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        parents[int(entry.name)] = int(fields[1])
        used[int(entry.name)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    family, grew = {pid}, True
    while grew:  # children, then their children
        grew = False
        for process, parent in parents.items():
            if parent in family and process not in family:
                family.add(process)
                grew = True
    return sum(used.get(process, 0.0) for process in family)


def load() -> str:
    return "load {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


@contextmanager
def passerelle(
    folder: Path, log_name: str, *args: str, env: dict[str, str]
) -> Iterator[subprocess.Popen[bytes]]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PASSERELLE_")}
    environment.update(env)
    with (folder / log_name).open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "passerelle.cli.main", *args],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=folder,
        )
        try:
            yield process
        finally:
            process.terminate()
            process.wait(timeout=30)


def wait_ready(url: str, folder: Path) -> None:
    deadline = time.monotonic() + 300  # a busy machine starts Python slowly
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit("the server did not start:\n" + (folder / "server.log").read_text())


@dataclass
class Seeded:
    open_cases: list[str]
    decided_cases: list[str]


def seed(url: str, slow: str, count: int, slow_reports: int) -> Seeded:
    """The agency, its analyst, the host of the referred addresses, `count` cases to decide,
    `count` decided cases to refer, and reports pointing at the slow server for the jobs."""
    database = Database(make_engine(url), secret=SECRET)
    upgrade(database.engine)
    with database.unit_of_work(write=True) as uow:
        agency = create_agency(uow, code=AGENCY, name="Unité du banc d'essai", jurisdiction="FR")
        analyst = create_user(
            uow, agency_code=AGENCY, username=ANALYST, password=PASSWORD, roles=["analyst"]
        )
        refer.add_host(
            uow,
            agency_code=AGENCY,
            actor="bench",
            domain="exemple.test",
            name="Hébergeur",
            email="abuse@exemple.test",
            language="fr",
        )

        def report(address: str, number: int) -> None:
            submit_public_report(
                uow,
                agency_code=AGENCY,
                url=address,
                category="",
                description="",
                source_hash=f"seed-{number % 997}",
                per_hour=1000,
                allowed=LOOPBACK,
            )

        for number in range(slow_reports):
            report(f"{slow}/seeded/{number}", number)
        for number in range(2 * count):
            report(f"https://exemple.test/{number}", number)
        # Addresses off loopback are never fetched by the jobs: marked fetched already.
        uow.session.execute(
            text("UPDATE items SET fetched_at = :t WHERE url LIKE 'https://exemple.test/%'"),
            {"t": datetime.now(UTC)},
        )
        rows = uow.session.execute(
            text(
                "SELECT cases.id FROM cases JOIN items ON items.id = cases.item_id"
                " WHERE items.url LIKE 'https://exemple.test/%' ORDER BY cases.created_at"
            )
        ).scalars()
        cases = list(rows)
        decision = parse_decision(
            verdict="terrorist",
            category="a",
            reason="",
            exemption_checked=True,
            rationale="Appel explicite à commettre des attentats (banc d'essai).",
            legal_basis=LEGAL_BASES[agency.jurisdiction][0],
            add_to_bank="",
            jurisdiction=agency.jurisdiction,
        )
        for case_id in cases[count:]:
            decide_case(uow, viewer=analyst, case_id=case_id, decision=decision)
        uow.commit()
    database.dispose()
    return Seeded(open_cases=cases[:count], decided_cases=cases[count:])


# --- the load ---------------------------------------------------------------------------------


@dataclass
class Tally:
    times: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind: str, seconds: float, problem: str | None) -> None:
        with self.lock:
            self.times[kind].append(seconds)
            if problem:
                self.errors[kind].append(problem)


def csrf(client: httpx.Client, path: str) -> str:
    page = client.get(path).text
    marker = 'name="csrf_token" value="'
    start = page.index(marker) + len(marker)
    return page[start : page.index('"', start)]


def client_for(base: str, source: int) -> httpx.Client:
    # Each worker from its own loopback address: the public form limits reports per address.
    transport = httpx.HTTPTransport(local_address=f"127.0.0.{10 + source}")
    return httpx.Client(base_url=base, transport=transport, timeout=60)


def logged_in(base: str, source: int) -> httpx.Client:
    client = client_for(base, source)
    token = csrf(client, "/login")
    answer = client.post(
        "/login", data={"username": ANALYST, "password": PASSWORD, "csrf_token": token, "next": "/"}
    )
    if answer.status_code not in (200, 303):
        raise SystemExit(f"login failed: {answer.status_code}")
    return client


def timed(tally: Tally, kind: str, expected: int, call: object) -> None:
    start = time.perf_counter()
    try:
        response = call()  # type: ignore[operator]
        problem = None if response.status_code == expected else f"HTTP {response.status_code}"
    except httpx.HTTPError as exc:
        problem = type(exc).__name__
    tally.record(kind, time.perf_counter() - start, problem)


def writer(
    base: str,
    number: int,
    start: threading.Barrier,
    stop: list[float],
    tally: Tally,
    cases: dict[str, list[str]],
    slow: str,
) -> None:
    kind = WRITE_KINDS[number % len(WRITE_KINDS)]
    client = logged_in(base, number) if kind != "public_report" else client_for(base, number)
    token = csrf(client, "/signaler" if kind == "public_report" else "/")
    start.wait()  # logins (slow by design: Argon2) are not part of the measure
    sent = 0
    while time.monotonic() < stop[0]:
        if kind == "public_report":
            data = {
                "csrf_token": token,
                "url": f"{slow}/new/{number}/{sent}",
                "category": "",
                "description": "Signalement du banc d'essai.",
            }
            timed(tally, kind, 200, lambda d=data: client.post("/signaler", data=d))
        else:
            with tally.lock:
                pool = cases[kind]
                if not pool:
                    return  # nothing left to decide or refer
                case_id = pool.pop()
            if kind == "decision":
                data = {
                    "csrf_token": token,
                    "verdict": "terrorist",
                    "category": "a",
                    "legal_basis": "fr_code_penal_421_2_5",
                    "exemption_checked": "true",
                    "rationale": "Appel explicite à commettre des attentats (banc d'essai).",
                }
                path = f"/cases/{case_id}/decision"
            else:
                data = {"csrf_token": token, "kind": "referral", "language": "fr"}
                path = f"/cases/{case_id}/referrals"
            timed(tally, kind, 303, lambda p=path, d=data: client.post(p, data=d))
        sent += 1
    client.close()


def reader(
    base: str,
    number: int,
    start: threading.Barrier,
    stop: list[float],
    tally: Tally,
    case_ids: list[str],
) -> None:
    client = logged_in(base, 100 + number)
    start.wait()
    turn = 0
    while time.monotonic() < stop[0]:
        if turn % 2:
            case_id = case_ids[turn % len(case_ids)]
            timed(tally, "case", 200, lambda c=case_id: client.get(f"/cases/{c}"))
        else:
            timed(tally, "queue", 200, lambda: client.get("/queue"))
        turn += 1
    client.close()


def p95(values: list[float]) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=20)[-1]


@dataclass(frozen=True)
class Outcome:
    label: str
    seconds: float
    tally: Tally
    server_cpu: float  # CPU seconds the server (all its processes) used during the load
    load: str  # the load average when the load ended

    @property
    def cpu_ms_per_request(self) -> float:
        requests = sum(len(self.tally.times[k]) for k in (*WRITE_KINDS, *READ_KINDS))
        return 1000 * self.server_cpu / requests if requests else 0.0

    @property
    def writes_per_second(self) -> float:
        done = sum(len(self.tally.times[k]) - len(self.tally.errors[k]) for k in WRITE_KINDS)
        return done / self.seconds

    @property
    def error_count(self) -> int:
        return sum(len(v) for v in self.tally.errors.values())


def run_load(
    database_url: str,
    seconds: float,
    writers: int,
    readers: int,
    with_jobs: bool,
    concurrency: int | None = None,
    workers: int | None = None,
) -> Outcome:
    FETCHING.clear()
    with tempfile.TemporaryDirectory(prefix="bench-load-") as name, slow_server() as slow:
        folder = Path(name)
        # Enough cases that no writer runs out before the end: at 20 a second, decisions and
        # referrals used up 20 cases a second of load, and their writers stopped early (the
        # others then waited less than under the full load).
        per_kind = max(20, int(seconds * 40))
        seeded = seed(database_url, slow, per_kind, slow_reports=200)
        port = free_port()
        env = {
            "PASSERELLE_ENV": "dev",
            "PASSERELLE_SECRET_KEY": SECRET,
            "PASSERELLE_DATABASE_URL": database_url,
            "PASSERELLE_DATA_DIR": str(folder / "var"),
            "PASSERELLE_PUBLIC_AGENCY": AGENCY,
            "PASSERELLE_PUBLIC_REPORTS_PER_HOUR": "1000",
            "PASSERELLE_FETCH_ALLOW": "127.0.0.1/32",
            "PASSERELLE_FETCH_TIMEOUT_SECONDS": "20",
            "PASSERELLE_LOGIN_MAX_FAILURES": "100",
        }
        if concurrency is not None:
            env["PASSERELLE_WEB_CONCURRENCY"] = str(concurrency)
        if workers is not None:
            env["PASSERELLE_WEB_WORKERS"] = str(workers)
        base = f"http://127.0.0.1:{port}"
        with ExitStack() as stack:
            server = stack.enter_context(
                passerelle(folder, "server.log", "serve", "--port", str(port), env=env)
            )
            wait_ready(base, folder)
            if with_jobs:
                stack.enter_context(
                    passerelle(folder, "jobs.log", "jobs", "run", "--every", "5", env=env)
                )
                # The load starts once the runner has started up and is inside a slow fetch.
                if not FETCHING.wait(300):
                    raise SystemExit(
                        "the jobs runner never fetched:\n" + (folder / "jobs.log").read_text()
                    )
            tally = Tally()
            pools = {"decision": seeded.open_cases[:], "referral": seeded.decided_cases[:]}
            stop = [0.0]
            begin: list[float] = []

            cpu_at_start: list[float] = []

            def go() -> None:  # runs once, when every worker is logged in
                cpu_at_start.append(cpu_seconds(server.pid))
                begin.append(time.monotonic())
                stop[0] = begin[0] + seconds

            start = threading.Barrier(writers + readers, action=go)
            threads = [
                threading.Thread(target=writer, args=(base, n, start, stop, tally, pools, slow))
                for n in range(writers)
            ] + [
                threading.Thread(
                    target=reader, args=(base, n, start, stop, tally, seeded.decided_cases)
                )
                for n in range(readers)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.monotonic() - begin[0]
            server_cpu = cpu_seconds(server.pid) - cpu_at_start[0]
            load_then = load()
            if with_jobs:
                jobs_log = (folder / "jobs.log").read_text()
                if "Traceback" in jobs_log or "database is locked" in jobs_log:
                    tally.record("jobs_runner", 0.0, "the jobs runner failed: see its log")
        label = "with the jobs runner on a slow server" if with_jobs else "no jobs runner"
        return Outcome(label, elapsed, tally, server_cpu, load_then)


def report(engine_name: str, ours: Outcome, peer: Outcome | None) -> None:
    print(f"{engine_name}: {ours.label}, {ours.seconds:.0f} s")
    print(
        f"  writes/s {ours.writes_per_second:.1f}   errors {ours.error_count}"
        f"   server CPU {ours.cpu_ms_per_request:.1f} ms/request   ({ours.load})"
    )
    for kind in (*WRITE_KINDS, *READ_KINDS):
        times = ours.tally.times[kind]
        peer_times = peer.tally.times[kind] if peer else []
        line = f"  {kind:<14} n={len(times):<5} p95 {p95(times) * 1000:7.0f} ms"
        if peer:
            line += f"   (no jobs: n={len(peer_times):<5} p95 {p95(peer_times) * 1000:7.0f} ms)"
        print(line)
    for kind, problems in ours.tally.errors.items():
        if problems:
            print(f"  errors in {kind}: {sorted(set(problems))}")
    if peer:
        print(
            f"  peer ({peer.label}): writes/s {peer.writes_per_second:.1f},"
            f" errors {peer.error_count}, server CPU {peer.cpu_ms_per_request:.1f} ms/request"
            f" ({peer.load})"
        )


@contextmanager
def postgres_database(admin: str) -> Iterator[str]:
    admin_url = make_url(admin)
    name = "passerelle_bench_" + secrets.token_hex(6)
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("seconds", nargs="?", type=float, default=60.0)
    parser.add_argument("--writers", type=int, default=20)
    parser.add_argument("--readers", type=int, default=20)
    parser.add_argument("--no-peer", action="store_true", help="Skip the run without jobs.")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="The server's PASSERELLE_WEB_CONCURRENCY (default: the setting's default).",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="The server's PASSERELLE_WEB_WORKERS (default: the setting's default).",
    )
    options = parser.parse_args()
    engines: list[tuple[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="bench-load-db-") as folder:
        engines.append(
            ("sqlite", lambda: nullcontext(f"sqlite:///{folder}/{secrets.token_hex(4)}.db"))
        )
        postgres = os.environ.get("PASSERELLE_TEST_POSTGRES_URL")
        if postgres:
            engines.append(("postgresql", lambda: postgres_database(postgres)))
        for engine_name, make in engines:
            with make() as url:  # type: ignore[operator]
                ours = run_load(
                    url,
                    options.seconds,
                    options.writers,
                    options.readers,
                    True,
                    options.concurrency,
                    options.workers,
                )
            peer = None
            if not options.no_peer:
                with make() as url:  # type: ignore[operator]
                    peer = run_load(
                        url,
                        options.seconds,
                        options.writers,
                        options.readers,
                        False,
                        options.concurrency,
                        options.workers,
                    )
            report(engine_name, ours, peer)
            if peer is not None and peer.writes_per_second:
                ratio = ours.writes_per_second / peer.writes_per_second
                print(f"load_{engine_name}: {ratio:.2f}x writes/s vs no jobs runner")


@contextmanager
def nullcontext(value: str) -> Iterator[str]:
    yield value


if __name__ == "__main__":
    main()
