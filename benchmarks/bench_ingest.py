"""Ingest: cases per second written into the review queue (`queue_batch`, as `scan
--into-queue` and `import --into-queue` write them: batches of 200, one transaction each,
content encrypted and published after the commit) when the agency already has 10k, 100k and
1M cases, on SQLite and on PostgreSQL (when PASSERELLE_TEST_POSTGRES_URL is set).

Beside each rate, the peer measured in the same run: the item lookup as it was before (one
query an item, `sha256 = ? OR url_hash = ?`), timed on the same database beside the lookup
as ingest makes it now (a batch's items by a few indexed queries).

    .venv/bin/python -m benchmarks.bench_ingest [--sizes 10000,100000,1000000] [--measure 2000]

The existing cases are bulk-inserted first (not timed), then settled as on a running
instance (statistics, and on PostgreSQL the first vacuum and a checkpoint); 1M takes a
while: run it by hand. PostgreSQL's settings that the figures depend on are printed.
The last line is `ingest_1m_vs_10k: N`, the rate at the largest size over the rate at the
smallest (1.00 means linear ingest).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import secrets
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, bindparam, create_engine, make_url, text

from passerelle.core.ports import Candidate, ItemFindings, UnitOfWork
from passerelle.db.engine import make_engine
from passerelle.db.migrate import upgrade
from passerelle.db.queue_repo import sighting_key
from passerelle.db.session import Database
from passerelle.services.admin import create_agency
from passerelle.services.ingest import queue_batch
from passerelle.storage.content_store import EncryptedContentStore, derive_content_key

BATCH = 200
FILL_CHUNK = 50_000
MATCHES = '[{"bank": "connu", "labels": {"tier": "promotional"}, "signal_type": "pdq"}]'
POSTGRES_ENV = "PASSERELLE_TEST_POSTGRES_URL"


def _hex(n: int, salt: str) -> str:
    return hashlib.sha256(f"{salt}:{n}".encode()).hexdigest()


def candidate(n: int, salt: str) -> Candidate:
    data = f"contenu neutre de test {salt} {n} ".encode() * 20
    url = f"https://exemple.test/{salt}/{n}"
    return Candidate(
        findings=ItemFindings(
            sha256=hashlib.sha256(data).hexdigest(),
            media_type="text/plain",
            signals_json="{}",
            score=50,
            reasons_json="[]",
            matches_json=MATCHES,
            language="fr",
            title=None,
        ),
        url_hash=hashlib.sha256(url.encode()).hexdigest(),
        url=url,
        source=f"crawl.warc.gz#{n}",
        content=data,
    )


ITEM_COLUMNS = ("id", "agency_id", "sha256", "url_hash", "url", "media_type", "signals_json")
SIGHTING_COLUMNS = ("item_id", "source", "url", "origin", "seen_at", "seen_key")
CASE_COLUMNS = ("id", "agency_id", "item_id", "status", "source", "score")
CASE_TEXTS = ("reasons_json", "matches_json", "language", "created_at")


def _bulk(conn: Any, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """Rows written the fastest way each engine has: COPY for PostgreSQL, one prepared
    INSERT run over every row for SQLite (no ORM, no statement built per row)."""
    names = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        cursor = conn.connection.dbapi_connection.cursor()
        with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join("?" * len(columns))
    conn.connection.dbapi_connection.executemany(
        f"INSERT INTO {table} ({names}) VALUES ({marks})",  # noqa: S608 (names are constants)
        rows,
    )


def fill(engine: Engine, agency_id: str, start: int, stop: int) -> None:
    """Existing cases, bulk-inserted (not through the service: only the sizes matter)."""
    now = datetime.now(UTC)
    stamp = now if engine.dialect.name == "postgresql" else now.strftime("%Y-%m-%d %H:%M:%S.%f")
    for first in range(start, stop, FILL_CHUNK):
        items, sightings, cases = [], [], []
        for n in range(first, min(first + FILL_CHUNK, stop)):
            item_id = str(uuid.uuid4())
            url = f"https://exemple.test/existant/{n}"
            items.append(
                (item_id, agency_id, _hex(n, "sha"), _hex(n, "url"), url, "text/plain", "{}", stamp)
            )
            source = f"ancien.warc.gz#{n}"
            sightings.append((item_id, source, url, "scan", stamp, sighting_key(source, url)))
            case = (str(uuid.uuid4()), agency_id, item_id, "open", "scan", n % 100)
            cases.append((*case, "[]", MATCHES, "fr", stamp))
        with engine.begin() as conn:
            _bulk(conn, "items", (*ITEM_COLUMNS, "first_seen_at"), items)
            _bulk(conn, "sightings", SIGHTING_COLUMNS, sightings)
            _bulk(conn, "cases", CASE_COLUMNS + CASE_TEXTS, cases)
    # The state of a running instance that took these cases over time: the planner's
    # statistics up to date (autovacuum on PostgreSQL; `refresh_statistics` after an ingest
    # on SQLite), and the bulk writes settled. On PostgreSQL that is also the first vacuum
    # of the rows just written and the checkpoint of their log: left to the server, both run
    # during the measure (autovacuum wakes up on a million new rows) and the measure counts
    # them instead of ingest.
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM (ANALYZE)")
            conn.exec_driver_sql("CHECKPOINT")
        return
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    with engine.connect() as conn:  # the bulk writes folded back from the log
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def measure_ingest(
    database: Database, store: EncryptedContentStore, count: int, salt: str
) -> float:
    @contextmanager
    def open_uow() -> Iterator[UnitOfWork]:
        with database.unit_of_work(write=True) as uow:
            yield uow

    batch = [candidate(n, salt) for n in range(count)]
    start = time.perf_counter()
    for first in range(0, count, BATCH):
        queue_batch(
            open_uow,
            agency_code="bench",
            candidates=batch[first : first + BATCH],
            actor="bench",
            store=store,
        )
    return count / (time.perf_counter() - start)


def measure_or_lookup(engine: Engine, agency_id: str, count: int) -> float:
    """The lookup as it was: one query with `sha256 = ? OR url_hash = ?` (lookups/s)."""
    query = text(
        "SELECT id FROM items WHERE agency_id = :a AND (sha256 = :s OR url_hash = :u)"
        " ORDER BY first_seen_at LIMIT 1"
    )
    start = time.perf_counter()
    with engine.connect() as conn:
        for n in range(count):
            conn.execute(query, {"a": agency_id, "s": _hex(n, "absent"), "u": _hex(n, "nope")})
    return count / (time.perf_counter() - start)


def measure_lookup(database: Database, agency_id: str, count: int) -> float:
    """The lookup as ingest makes it: a batch's items at once (`find_items`, a few indexed
    queries a batch), for the same absent items (lookups/s)."""
    keys = [(_hex(n, "absent"), _hex(n, "nope")) for n in range(count)]
    start = time.perf_counter()
    with database.unit_of_work() as uow:
        for first in range(0, count, BATCH):
            uow.queue.find_items(agency_id, keys[first : first + BATCH])
    return count / (time.perf_counter() - start)


SERVER_SETTINGS = (
    "server_version",
    "shared_buffers",
    "effective_cache_size",
    "work_mem",
    "fsync",
    "synchronous_commit",
    "full_page_writes",
    "max_wal_size",
    "autovacuum",
)


def server_settings(engine: Engine) -> str:
    """What the figures depend on beyond the product: the PostgreSQL server's settings."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT name, current_setting(name) FROM pg_settings WHERE name IN :names"
            ).bindparams(bindparam("names", expanding=True)),
            {"names": list(SERVER_SETTINGS)},
        ).all()
    found = {name: value for name, value in rows}
    return ", ".join(f"{name}={found[name]}" for name in SERVER_SETTINGS if name in found)


def run(name: str, url: str, sizes: list[int], measure: int, folder: Path) -> list[float]:
    database = Database(make_engine(url))
    upgrade(database.engine)
    if database.engine.dialect.name == "postgresql":
        print(f"{name}: {server_settings(database.engine)}", flush=True)
    store = EncryptedContentStore(folder / f"content-{name}", derive_content_key("b" * 40))
    with database.unit_of_work(write=True) as uow:
        agency_id = create_agency(uow, code="bench", name="Banc", jurisdiction="FR").id
        uow.commit()
    rates = []
    have = filled = 0  # cases in the database; of them, bulk-inserted
    try:
        for size in sizes:
            extra = max(0, size - have)
            fill(database.engine, agency_id, filled, filled + extra)
            filled, have = filled + extra, have + extra
            rate = measure_ingest(database, store, measure, salt=f"{name}-{size}")
            have += measure
            lookups = min(measure, 500)
            ours = measure_lookup(database, agency_id, lookups)
            peer = measure_or_lookup(database.engine, agency_id, lookups)
            print(
                f"{name:<10} {size:>9,} existing cases: {rate:8.0f} cases/s written;"
                f" item lookup {ours:8.0f}/s (by batch, indexed)"
                f" vs {peer:8.0f}/s (the former OR query): {ours / peer:.2f}x;"
                " load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()),
                flush=True,
            )
            rates.append(rate)
    finally:
        database.dispose()
    return rates


@contextmanager
def postgres_database() -> Iterator[str]:
    admin_url = make_url(os.environ[POSTGRES_ENV])
    name = "passerelle_bench_" + secrets.token_hex(4)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="existing cases")
    parser.add_argument("--measure", type=int, default=2000, help="cases written per size")
    parser.add_argument("--engines", default="sqlite,postgres", help="sqlite and/or postgres")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    engines = [e.strip() for e in args.engines.split(",")]
    print(f"ingest: batches of {BATCH}, {args.measure} cases measured at each size")
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if "sqlite" in engines:
            url = f"sqlite:///{folder / 'bench.db'}"
            results["sqlite"] = run("sqlite", url, sizes, args.measure, folder)
        if "postgres" in engines and os.environ.get(POSTGRES_ENV):
            with postgres_database() as url:
                results["postgresql"] = run("postgresql", url, sizes, args.measure, folder)
        elif "postgres" in engines:
            print(f"postgresql: not measured ({POSTGRES_ENV} is not set)")
    for name, rates in results.items():
        print(
            f"{name}: {rates[-1]:.0f} cases/s at {sizes[-1]:,} vs {rates[0]:.0f} at {sizes[0]:,}:"
            f" {rates[-1] / rates[0]:.2f}"
        )
    # The aim holds on every engine: the last line is the lowest of their ratios.
    print(f"ingest_1m_vs_10k: {min(rates[-1] / rates[0] for rates in results.values()):.2f}")


if __name__ == "__main__":
    main()
