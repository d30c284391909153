"""Fault tests: a real `passerelle` subprocess killed with SIGKILL at a random point of its
work, then run again to the end. After it: no half-written case, no duplicate, no stored file
that no item refers to (and none missing), the audit chain intact, and the work done once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from passerelle.core.bank import EntryInput
from passerelle.core.ports import UnitOfWork
from passerelle.core.signals.pdq import PDQ
from passerelle.core.taxonomy import Category, Labels, Tier
from passerelle.db.engine import make_engine
from passerelle.db.migrate import upgrade
from passerelle.db.session import Database
from passerelle.services.banks import add_entries, create_bank
from passerelle.storage.content_store import EncryptedContentStore, derive_content_key
from tests.cli_runner import Cli
from tests.conftest import TEST_SECRET
from tests.factories import make_agency
from tests.shared import shared

IMAGE = shared("pdq", "images", "aaa-orig.jpg").read_bytes()
FILES = 40
KILLS = 2
SEED = int.from_bytes(os.urandom(4), "big")


@pytest.fixture
def instance(tmp_path: Path, database_url: str) -> Iterator[tuple[Database, dict[str, str]]]:
    """A migrated instance with one agency and a bank holding IMAGE; the environment of its
    commands."""
    database = Database(make_engine(database_url), secret=TEST_SECRET)
    upgrade(database.engine)
    labels = Labels(category=Category.INCITES, tier=Tier.PROMOTIONAL, tags=frozenset({"stand-in"}))
    with database.unit_of_work(write=True) as uow:
        make_agency(uow, code="unite")
        create_bank(uow, agency_code="unite", name="connu", actor="test")
        add_entries(
            uow,
            agency_code="unite",
            bank_name="connu",
            entries=[EntryInput("pdq", PDQ.compute(IMAGE).value, labels)],
            actor="test",
        )
        uow.commit()
    env = {
        "PASSERELLE_ENV": "test",
        "PASSERELLE_SECRET_KEY": TEST_SECRET,
        "PASSERELLE_DATA_DIR": str(tmp_path / "var"),
        "PASSERELLE_DATABASE_URL": database_url,
        "PASSERELLE_CONTENT_GRACE_SECONDS": "0",
    }
    yield database, env
    database.dispose()


def images(folder: Path) -> Path:
    """FILES different files that all match the bank (the same picture, bytes appended)."""
    folder.mkdir()
    for number in range(FILES):
        (folder / f"image-{number:03}.jpg").write_bytes(IMAGE + number.to_bytes(2, "big"))
    return folder


def count(database: Database, sql: str) -> int:
    with database.engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


def run_killed(
    args: list[str],
    env: dict[str, str],
    database: Database,
    rng: random.Random,
    cwd: Path,
    started: str = "SELECT count(*) FROM cases",
) -> None:
    """Start `passerelle ARGS`, wait until it has begun writing (`started` counts more than
    before) or ended, let it go on for a random moment, and kill it with SIGKILL."""
    before = count(database, started)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PASSERELLE_")}
    environment.update(env)
    process = subprocess.Popen(
        [sys.executable, "-m", "passerelle.cli.main", *args],
        env=environment,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline:
            if count(database, started) > before:
                break
            time.sleep(0.05)
        time.sleep(rng.uniform(0, 0.5))
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def assert_consistent(database: Database, env: dict[str, str], sources: int) -> None:
    """One case per item, every case with its item, sightings and audit event; every stored
    file referred to and every item's content stored; the audit chain intact."""
    assert count(database, "SELECT count(*) FROM items") == FILES
    assert count(database, "SELECT count(*) FROM cases") == FILES
    assert count(database, "SELECT count(DISTINCT item_id) FROM cases") == FILES
    assert count(database, "SELECT count(*) FROM sightings") == sources
    assert count(database, "SELECT count(*) FROM audit_events WHERE action = 'case.opened'") == (
        FILES
    )
    with database.engine.connect() as conn:
        shas = {r[0] for r in conn.execute(text("SELECT sha256 FROM items"))}
    content = Path(env["PASSERELLE_DATA_DIR"]) / "content"
    stored = {p.name for p in content.glob("??/??/*") if p.is_file()}
    assert stored == shas  # no orphan, none missing
    assert not [p for p in (content / "staging").glob("*")]
    store = EncryptedContentStore(content, derive_content_key(TEST_SECRET))
    assert all(store.get(sha).startswith(IMAGE) for sha in shas)
    verify = Cli(env)("audit", "verify")
    assert verify.exit_code == 0, verify.output


def test_scan_into_queue_killed_at_random_points(
    instance: tuple[Database, dict[str, str]], tmp_path: Path
) -> None:
    database, env = instance
    folder = images(tmp_path / "images")
    args = ["scan", "--into-queue", "--agency", "unite", "--batch", "5", str(folder)]
    rng = random.Random(SEED)
    for _ in range(KILLS):
        run_killed(args, env, database, rng, tmp_path)
    finished = Cli(env)(*args)
    assert finished.exit_code == 0, f"seed {SEED}: {finished.output}"
    assert_consistent(database, env, sources=FILES)
    again = Cli(env)(*args)
    assert "queue: 0 cases opened, 0 seen again, 40 already recorded" in again.output
    assert_consistent(database, env, sources=FILES)


def test_import_into_queue_killed_at_random_points(
    instance: tuple[Database, dict[str, str]], tmp_path: Path
) -> None:
    pyarrow = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    from passerelle.core.content import Content
    from passerelle.exchange.candidates import candidate_row
    from passerelle.scan import ScanOptions, scan
    from passerelle.services.banks import load_matcher

    database, env = instance
    with database.unit_of_work() as uow:
        matcher = load_matcher(uow, agency_code="unite")
    rows = []
    for number in range(FILES):
        data = IMAGE + number.to_bytes(2, "big")
        content = Content(
            source=f"crawl.warc.gz#{number}", data=data, url=f"https://e.test/{number}"
        )
        rows.append(candidate_row(scan(content, matcher, ScanOptions(keep_matched_content=True))))
    candidates = tmp_path / "candidates.parquet"
    pq.write_table(pyarrow.Table.from_pylist(rows), candidates)
    args = ["import", str(candidates), "--into-queue", "--agency", "unite", "--batch", "5"]
    rng = random.Random(SEED)
    for _ in range(KILLS):
        run_killed(args, env, database, rng, tmp_path)
    finished = Cli(env)(*args)
    assert finished.exit_code == 0, f"seed {SEED}: {finished.output}"
    assert_consistent(database, env, sources=FILES)


def test_the_purge_job_killed_runs_again_and_purges_each_item_once(
    instance: tuple[Database, dict[str, str]], tmp_path: Path
) -> None:
    from passerelle.services import refer
    from passerelle.services.jobs import run_due_jobs
    from tests.factories import make_cases, make_referral, make_user

    database, env = instance
    store = EncryptedContentStore(
        Path(env["PASSERELLE_DATA_DIR"]) / "content", derive_content_key(TEST_SECRET)
    )
    with database.unit_of_work(write=True) as uow:
        make_agency(uow, code="retention")
        author = make_user(uow, agency_code="retention", roles=("analyst",))
        pictures = [IMAGE + n.to_bytes(2, "big") for n in range(10)]
        cases = make_cases(uow, agency_code="retention", images=pictures, store=store)
        for case_id in cases:
            referral = make_referral(
                uow,
                agency_code="retention",
                case_id=case_id,
                author=author,
                # the pictures differ by two bytes: the same content for the second measure
                again="Chaque copie est hébergée à une autre adresse.",
            )
            refer.mark_sent(uow, viewer=author, referral_id=referral)
        # Offline long ago; a loopback address the fetcher refuses before any socket.
        uow.session.execute(
            text("UPDATE referrals SET offline_at = :t, url = 'http://127.0.0.1:9/retire'"),
            {"t": datetime.now(UTC) - timedelta(days=200)},
        )
        uow.commit()
    rng = random.Random(SEED)
    run_killed(
        ["jobs", "run", "--every", "5"],
        env,
        database,
        rng,
        tmp_path,
        started="SELECT count(*) FROM audit_events",
    )

    # The job runs again (once the lease of the killed runner has run out), to the end.
    @contextmanager
    def open_uow() -> Iterator[UnitOfWork]:
        with database.unit_of_work(write=True) as uow:
            yield uow

    later = datetime.now(UTC) + timedelta(hours=2)
    list(run_due_jobs(open_uow, worker="w", fetch=lambda url: None, store=store, now=later))
    # Killed before or after it finished its purge, the job is done now, held by no one...
    purge_runs = count(database, "SELECT min(runs) FROM jobs WHERE kind = 'purge'")
    assert purge_runs >= 1
    # ...and it runs again when next due.
    next_day = later + timedelta(days=2)
    runs = list(
        run_due_jobs(open_uow, worker="w", fetch=lambda url: None, store=store, now=next_day)
    )
    assert {r.detail for r in runs if r.kind == "purge"} == {"0 purged"}
    # (the instance's own agency has no items)
    assert count(database, "SELECT count(*) FROM items WHERE purged_at IS NULL") == 0
    purged = count(database, "SELECT count(*) FROM audit_events WHERE action = 'content.purged'")
    assert purged == len(cases)  # each item purged once, each purge audited
    assert not store_files(env)
    verify = Cli(env)("audit", "verify")
    assert verify.exit_code == 0, verify.output


def store_files(env: dict[str, str]) -> list[Path]:
    content = Path(env["PASSERELLE_DATA_DIR"]) / "content"
    return [p for p in content.rglob("*") if p.is_file()]
