"""The console at volume: a SQLite database (and PostgreSQL when PASSERELLE_TEST_POSTGRES_URL
is set) filled with N cases (100,000 by default: 70 % images, a PDQ hash each, near copies
among them; public reports; a fifth decided; two or three events of each case's history in
the audit log), then the real HTTP server (`passerelle serve`,
one process, on 127.0.0.1) asked 50 times each for: the queue's first page, a filtered page,
a page deep in the queue (half-way, by keyset), the last page, a search by hash, a search by
address, an image case page (near duplicates through the PDQ band keys) and the year's
transparency report, and the dashboard. Prints p50 and p95 of each, the server's CPU time
per request (what the request costs, whatever else the machine runs) and the load average.

The database is brought to the head revision of the code the server runs (`passerelle db
upgrade`, by the server's own interpreter) just before the server starts: a migration that
lands while the cases are written does not stop the run.

The peers, measured in the same run on the same database: the queue's page read the old way,
by OFFSET, half-way down the queue (what the console did before keyset paging); and the year's
report figures read the old way, grouping every case and ranking every decision of the year
(what the report did before the counts kept by migration 0035); and a case's history read
through the agency's events (what the case page did before migration 0041).

    .venv/bin/python -m benchmarks.bench_queue [CASES] [REQUESTS] [--keep FOLDER]

Defaults 100000 50. Filling 100,000 cases takes minutes: with `--keep FOLDER` the filled
SQLite file (and the PostgreSQL database, by name) stays in FOLDER after the run, and a later
run with the same FOLDER and the same number of cases measures it again without filling
(migrations landed in between are applied to it first, as to any database in service).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import create_engine, func, insert, make_url, select, text

from passerelle.core.case import PageRequest, QueueFilters, QueueSort
from passerelle.core.search import pdq_band_keys
from passerelle.core.signals.url import URL
from passerelle.db.engine import make_engine
from passerelle.db.migrate import upgrade
from passerelle.db.models import (
    AuditEventRow,
    AuditHeadRow,
    CaseCountRow,
    CaseRow,
    DecisionCountRow,
    DecisionRow,
    ItemKeyRow,
    ItemRow,
)
from passerelle.db.session import Database
from passerelle.services.admin import create_agency, create_user

SECRET = "bench-secret-key-that-is-long-enough-0123456789"  # noqa: S105 (a throw-away database)
PASSWORD = "bench-password-123"  # noqa: S105 (a throw-away database)
TIERS = ["promotional", "promotional", "promotional", "designated_entity", "crisis"]
CHUNK = 5000
START = datetime(2026, 1, 1, tzinfo=UTC)


def fill(database: Database, cases: int, seed: int = 11) -> dict[str, str]:
    """Bulk inserts (not the service one case at a time); returns what the requests ask."""
    with database.unit_of_work(write=True) as uow:
        agency = create_agency(uow, code="bench", name="Unité de mesure", jurisdiction="FR")
        create_user(
            uow,
            agency_code="bench",
            username="analyste",
            password=PASSWORD,
            roles=("analyst",),
            locale="fr",
        )
        uow.commit()
    rng = random.Random(seed)
    images: list[str] = []
    probe: dict[str, str] = {}
    with database.engine.begin() as conn:
        seq = conn.scalar(select(func.max(AuditEventRow.seq))) or 0
        items, rows, keys, decisions, events = [], [], [], [], []

        def audited(action: str, case_id: str, moment: datetime) -> None:
            """An event of the case's history (written as is, not chained: the run reads
            histories, it never verifies the chain)."""
            nonlocal seq
            seq += 1
            events.append(
                {
                    "seq": seq,
                    "occurred_at": moment.isoformat(),
                    "action": action,
                    "actor": "analyste",
                    "agency_id": agency.id,
                    "object_type": "case",
                    "object_id": case_id,
                    "details_json": "{}",
                    "prev_hash": f"{seq - 1:064x}",
                    "hash": f"{seq:064x}",
                }
            )

        for number in range(cases):
            item_id, case_id = str(uuid.uuid4()), str(uuid.uuid4())
            url = f"https://exemple.test/contenu/{number}"
            sha256 = hashlib.sha256(url.encode()).hexdigest()
            md5 = hashlib.md5(url.encode(), usedforsecurity=False).hexdigest()
            signals = {"sha256": sha256, "md5": md5, "url": URL.compute(url).value}
            is_image = number % 10 < 7
            if is_image:
                if images and rng.random() < 0.1:  # a near copy of an earlier image
                    near = int(rng.choice(images), 16)
                    for bit in rng.sample(range(256), rng.randint(1, 20)):
                        near ^= 1 << bit
                    pdq = f"{near:064x}"
                else:
                    pdq = f"{rng.getrandbits(256):064x}"
                images.append(pdq)
                signals["pdq"] = pdq
                keys.extend(
                    {"agency_id": agency.id, "kind": "pdq", "value": key, "item_id": item_id}
                    for key in pdq_band_keys(pdq)
                )
            keys.append({"agency_id": agency.id, "kind": "md5", "value": md5, "item_id": item_id})
            tier = rng.choice(TIERS)
            public = number % 5 == 4
            match = {
                "bank": "connu",
                "distance": 0,
                "labels": {"category": "a", "tags": [], "tier": tier},
                "origin": "own",
                "signal_type": "pdq" if is_image else "url",
                "threshold": 31,
                "value": signals.get("pdq", signals["url"]),
            }
            created = START + timedelta(seconds=rng.randrange(330 * 86400))
            items.append(
                {
                    "id": item_id,
                    "agency_id": agency.id,
                    "sha256": sha256,
                    "url_hash": signals["url"],
                    "url": url,
                    "media_type": "image/jpeg" if is_image else "text/html",
                    "signals_json": json.dumps(signals, sort_keys=True),
                    "first_seen_at": created,
                }
            )
            decided = number % 5 == 1
            audited("case.opened", case_id, created)
            audited("case.assigned", case_id, created + timedelta(minutes=5))
            rows.append(
                {
                    "id": case_id,
                    "agency_id": agency.id,
                    "item_id": item_id,
                    "status": "decided" if decided else "open",
                    "source": "public" if public else "scan",
                    "score": 0 if public else rng.randrange(1, 101),
                    "reasons_json": "[]",
                    "matches_json": "[]" if public else json.dumps([match], sort_keys=True),
                    "language": "fr" if number % 3 else "en",
                    "title": f"Contenu {number}",
                    "created_at": created,
                    "top_tier": None if public else tier,
                }
            )
            if decided:
                audited("case.decided", case_id, created + timedelta(hours=1))
                decisions.append(
                    {
                        "id": str(uuid.uuid4()),
                        "case_id": case_id,
                        "agency_id": agency.id,
                        "decided_by": "analyste",
                        "verdict": "terrorist",
                        "category": "a",
                        "reason": None,
                        "exemption_checked": True,
                        "rationale": "Mesure.",
                        "legal_basis": "fr_code_penal_421_2_5",
                        "decided_at": created + timedelta(hours=1),
                    }
                )
            if number == cases // 2:
                probe.update(sha256=sha256, url=url, image_case=case_id if is_image else "")
            if is_image and not probe.get("image_case") and number > cases // 2:
                probe["image_case"] = case_id
            if len(items) >= CHUNK:
                _flush(conn, items, rows, keys, decisions, events)
        _flush(conn, items, rows, keys, decisions, events)
        # The head follows the events written, so that the run's own events (its logins)
        # come after them.
        conn.execute(
            AuditHeadRow.__table__.update().values(seq=seq, hash=f"{seq:064x}")  # type: ignore[attr-defined]
        )
    if database.engine.dialect.name == "postgresql":
        with database.engine.connect() as conn:
            conn.execute(text("ANALYZE"))
            conn.commit()
    else:
        with database.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
            # The bulk writes leave the whole database in the write-ahead log: fold it back.
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    probe["agency_id"] = agency.id
    return probe


def _flush(conn, items, rows, keys, decisions, events) -> None:  # type: ignore[no-untyped-def]
    for table, batch in (
        (ItemRow, items),
        (CaseRow, rows),
        (ItemKeyRow, keys),
        (DecisionRow, decisions),
        (AuditEventRow, events),
    ):
        if batch:
            conn.execute(insert(table), batch)
            batch.clear()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serving(url: str, folder: Path) -> Iterator[tuple[str, int]]:
    """The server on a free port of 127.0.0.1: its address and its process id."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PASSERELLE_")}
    env.update(
        PASSERELLE_ENV="dev",
        PASSERELLE_SECRET_KEY=SECRET,
        PASSERELLE_DATA_DIR=str(folder / "var"),
        PASSERELLE_DATABASE_URL=url,
    )
    # The schema at the head of the code the server is about to import (which may have
    # gained a migration since this process imported its own).
    subprocess.run(
        [sys.executable, "-m", "passerelle.cli.main", "db", "upgrade"],
        env=env,
        check=True,
        capture_output=True,
    )
    with (folder / "server.log").open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "passerelle.cli.main", "serve", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and process.poll() is None:
                try:
                    if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.3)
            else:
                raise SystemExit("the server did not start: " + (folder / "server.log").read_text())
            yield base, process.pid
        finally:
            process.terminate()
            process.wait(timeout=30)


def log_in(client: httpx.Client) -> None:
    page = client.get("/login").text
    marker = 'name="csrf_token" value="'
    start = page.index(marker) + len(marker)
    token = page[start : page.index('"', start)]
    done = client.post(
        "/login",
        data={"username": "analyste", "password": PASSWORD, "csrf_token": token, "next": "/"},
    )
    if done.status_code not in (200, 303):
        raise SystemExit(f"login refused: {done.status_code}")


def cpu_seconds(pid: int) -> float:
    """User and system CPU time the process has used so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load() -> str:
    return "load {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def measure(client: httpx.Client, path: str, requests: int) -> tuple[float, float]:
    timings = []
    for _ in range(requests):
        began = time.perf_counter()
        response = client.get(path)
        timings.append((time.perf_counter() - began) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{path}: {response.status_code} {response.text[:300]}")
    timings.sort()
    p95 = timings[max(0, round(0.95 * len(timings)) - 1)]
    return statistics.median(timings), p95


def offset_peer(database: Database, agency_id: str, offset: int, requests: int) -> float:
    """p95 of the old queue query: open cases by score, LIMIT 50 OFFSET `offset`."""
    query = (
        select(CaseRow, ItemRow)
        .join(ItemRow, ItemRow.id == CaseRow.item_id)
        .where(CaseRow.agency_id == agency_id, CaseRow.status == "open")
        .order_by(CaseRow.score.desc(), CaseRow.created_at, CaseRow.id)
        .limit(50)
        .offset(offset)
    )
    timings = []
    for _ in range(requests):
        began = time.perf_counter()
        with database.engine.connect() as conn:
            conn.execute(query).all()
        timings.append((time.perf_counter() - began) * 1000)
    timings.sort()
    return timings[max(0, round(0.95 * len(timings)) - 1)]


def run(label: str, url: str, cases: int, requests: int, folder: Path) -> float:
    database = Database(make_engine(url), secret=SECRET)
    kept = folder / "probe.json"
    if kept.exists() and json.loads(kept.read_text()).get("cases") == cases:
        probe = json.loads(kept.read_text())
        print(f"[{label}] {cases:,} cases kept from an earlier run ({load()})", flush=True)
    else:
        upgrade(database.engine)
        began = time.perf_counter()
        probe = fill(database, cases)
        print(
            f"[{label}] filled {cases:,} cases in {time.perf_counter() - began:.1f} s ({load()})",
            flush=True,
        )
        kept.write_text(json.dumps({**probe, "cases": cases}))
    upgrade(database.engine)
    with database.unit_of_work() as uow:
        filters = QueueFilters()
        total = uow.queue.count_filtered(probe["agency_id"], filters)
        # The key of the case half-way down the queue: where a deep page starts.
        page = PageRequest(sort=QueueSort.SCORE, size=200)
        middle = None
        seen = 0
        key = None
        while seen < total // 2:
            _, keys, _ = uow.queue.page_cases(
                probe["agency_id"], filters, PageRequest(page.sort, page.size, after=key)
            )
            if not keys:
                break
            key, seen = keys[-1], seen + len(keys)
        middle = key
    assert middle is not None
    year = "start=2026-01-01&end=2026-12-31"
    paths = {
        "queue_first_page": "/queue",
        "queue_filtered_page": "/queue?source=scan&language=fr&tier=crisis",
        "queue_deep_page": f"/queue?after={middle.dump()}",
        "queue_last_page": "/queue?last=1",
        "search_hash": f"/search?q={probe['sha256']}",
        "search_url": f"/search?q={probe['url']}",
        "case_page_image": f"/cases/{probe['image_case']}",
        "report_year": f"/reports?{year}",
        "dashboard": "/",
    }
    worst = 0.0
    with serving(url, folder) as (base, pid), httpx.Client(base_url=base, timeout=60) as client:
        log_in(client)
        for name, path in paths.items():
            client.get(path)  # warm
            cpu = cpu_seconds(pid)
            p50, p95 = measure(client, path, requests)
            cpu_ms = (cpu_seconds(pid) - cpu) * 1000 / requests
            worst = max(worst, p95)
            print(
                f"[{label}] {name:22s} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms"
                f"   server CPU {cpu_ms:6.1f} ms/request   ({load()})",
                flush=True,
            )
    peer = offset_peer(database, probe["agency_id"], total // 2, requests)
    with database.unit_of_work() as uow:
        began_keyset = []
        for _ in range(requests):
            began = time.perf_counter()
            uow.queue.page_cases(probe["agency_id"], QueueFilters(), PageRequest(after=middle))
            began_keyset.append((time.perf_counter() - began) * 1000)
    began_keyset.sort()
    ours = began_keyset[max(0, round(0.95 * len(began_keyset)) - 1)]
    print(
        f"[{label}] deep page in SQL, p95: keyset {ours:.1f} ms vs OFFSET {total // 2:,} "
        f"{peer:.1f} ms ({peer / ours:.1f}x)",
        flush=True,
    )
    ours, peer = report_peer(database, probe["agency_id"], requests)
    print(
        f"[{label}] year's report in SQL, p95: kept counts {ours:.1f} ms vs GROUP BY over "
        f"the cases {peer:.1f} ms ({peer / ours:.1f}x)",
        flush=True,
    )
    ours, peer = history_peer(database, probe["agency_id"], probe["image_case"], requests)
    print(
        f"[{label}] a case's history in SQL, p95: the object's index {ours:.2f} ms vs the"
        f" agency's events {peer:.1f} ms ({peer / ours:.0f}x)",
        flush=True,
    )
    database.dispose()
    return worst


def history_peer(
    database: Database, agency_id: str, case_id: str, requests: int
) -> tuple[float, float]:
    """p95 of a case's history as the case page reads it, and read the old way: through the
    agency's events (what the page did before migration 0041; the conditions on the object
    are written as expressions, which no index of the object can serve)."""
    ours = (
        select(AuditEventRow)
        .where(
            AuditEventRow.agency_id == agency_id,
            AuditEventRow.object_type == "case",
            AuditEventRow.object_id == case_id,
        )
        .order_by(AuditEventRow.seq)
    )
    old = (
        select(AuditEventRow)
        .where(
            AuditEventRow.agency_id == agency_id,
            AuditEventRow.object_type + "" == "case",
            AuditEventRow.object_id + "" == case_id,
        )
        .order_by(AuditEventRow.seq)
    )
    timings: dict[str, list[float]] = {"new": [], "old": []}
    with database.engine.connect() as conn:
        for _ in range(requests):
            for name, query in (("new", ours), ("old", old)):
                began = time.perf_counter()
                found = conn.execute(query).all()
                timings[name].append((time.perf_counter() - began) * 1000)
                assert found, "the case has a history"
    return p95(timings["new"]), p95(timings["old"])


def p95(timings: list[float]) -> float:
    ordered = sorted(timings)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


def report_peer(database: Database, agency_id: str, requests: int) -> tuple[float, float]:
    """p95 of the year's cases and decisions as the report reads them (the kept counts by
    day, less the decisions a later one replaced) and read the old way (grouping every case
    and ranking every decision of the year), in SQL."""
    start, end = START, START.replace(year=START.year + 1)
    ranked = (
        select(
            DecisionRow.verdict,
            DecisionRow.category,
            DecisionRow.reason,
            func.row_number()
            .over(
                partition_by=DecisionRow.case_id,
                order_by=(DecisionRow.decided_at.desc(), DecisionRow.id.desc()),
            )
            .label("rank"),
        )
        .where(
            DecisionRow.agency_id == agency_id,
            DecisionRow.decided_at >= start,
            DecisionRow.decided_at < end,
        )
        .subquery()
    )
    old = (
        select(CaseRow.source, CaseRow.top_tier, func.count())
        .where(
            CaseRow.agency_id == agency_id, CaseRow.created_at >= start, CaseRow.created_at < end
        )
        .group_by(CaseRow.source, CaseRow.top_tier),
        select(ranked.c.verdict, ranked.c.category, ranked.c.reason, func.count())
        .where(ranked.c.rank == 1)
        .group_by(ranked.c.verdict, ranked.c.category, ranked.c.reason),
    )
    days = (CaseCountRow.day >= start.date(), CaseCountRow.day < end.date())
    decided = (DecisionCountRow.day >= start.date(), DecisionCountRow.day < end.date())
    new = (
        select(CaseCountRow.source, CaseCountRow.tier, func.sum(CaseCountRow.n))
        .where(CaseCountRow.agency_id == agency_id, *days)
        .group_by(CaseCountRow.source, CaseCountRow.tier),
        select(
            DecisionCountRow.verdict,
            DecisionCountRow.category,
            DecisionCountRow.reason,
            func.sum(DecisionCountRow.n),
        )
        .where(DecisionCountRow.agency_id == agency_id, *decided)
        .group_by(DecisionCountRow.verdict, DecisionCountRow.category, DecisionCountRow.reason),
        select(DecisionRow.verdict, DecisionRow.category, DecisionRow.reason, func.count())
        .where(
            DecisionRow.agency_id == agency_id,
            DecisionRow.superseded_at.is_not(None),
            DecisionRow.superseded_at < end,
            DecisionRow.decided_at >= start,
        )
        .group_by(DecisionRow.verdict, DecisionRow.category, DecisionRow.reason),
    )
    timings: dict[str, list[float]] = {"new": [], "old": []}
    with database.engine.connect() as conn:
        for _ in range(requests):
            for name, queries in (("new", new), ("old", old)):
                began = time.perf_counter()
                for query in queries:
                    conn.execute(query).all()
                timings[name].append((time.perf_counter() - began) * 1000)
    return p95(timings["new"]), p95(timings["old"])


def parse_arguments(arguments: list[str]) -> tuple[int, int, Path | None]:
    keep = None
    if "--keep" in arguments:
        at = arguments.index("--keep")
        if at + 1 >= len(arguments):
            raise SystemExit("--keep needs a folder")
        keep = Path(arguments[at + 1]).resolve()
        arguments = arguments[:at] + arguments[at + 2 :]
    cases = int(arguments[0]) if arguments else 100_000
    requests = int(arguments[1]) if len(arguments) > 1 else 50
    return cases, requests, keep


def run_postgres(admin: str, cases: int, requests: int, folder: Path, keep: bool) -> float:
    """The same run on a database of its own on the PostgreSQL server (dropped after the run
    unless kept; a kept one is found again by the name written in its folder)."""
    named = folder / "database.txt"
    reused = keep and named.exists() and (folder / "probe.json").exists()
    name = named.read_text().strip() if reused else "passerelle_bench_" + secrets.token_hex(4)
    server = create_engine(make_url(admin), isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as conn:
            exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            if not exists:
                (folder / "probe.json").unlink(missing_ok=True)
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        named.write_text(name)
        url = make_url(admin).set(database=name).render_as_string(hide_password=False)
        return run("postgres", url, cases, requests, folder)
    finally:
        if not keep:
            with server.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


def main() -> None:
    cases, requests, keep = parse_arguments(sys.argv[1:])
    with tempfile.TemporaryDirectory() as scratch:
        root = keep or Path(scratch)
        (root / "sqlite" / "var").mkdir(parents=True, exist_ok=True)
        (root / "postgres").mkdir(exist_ok=True)
        sqlite = f"sqlite:///{root / 'sqlite' / 'var' / 'passerelle.db'}"
        if not (root / "sqlite" / "var" / "passerelle.db").exists():
            (root / "sqlite" / "probe.json").unlink(missing_ok=True)
        worst = run("sqlite", sqlite, cases, requests, root / "sqlite")
        admin = os.environ.get("PASSERELLE_TEST_POSTGRES_URL")
        if admin:
            run_postgres(admin, cases, requests, root / "postgres", keep is not None)
    print(f"queue_p95_ms: {worst:.0f}")


if __name__ == "__main__":
    main()
