"""Writing into the queue by batches on both engines: a batch run again adds no sighting,
every item lookup uses an index, and a crash at any point leaves no content that no item
refers to (what committed is published by the next run's sweep)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text

from passerelle.core.ports import Candidate, ItemFindings, StagedContent, UnitOfWork
from passerelle.db.session import Database
from passerelle.services.audit import verify_log
from passerelle.services.ingest import (
    Queued,
    UnitOfWorkFactory,
    queue_batch,
    queue_candidate,
    sweep_content,
)
from passerelle.storage.content_store import EncryptedContentStore, derive_content_key
from tests.factories import make_agency
from tests.plans import is_sqlite, query_plan, recorded_statements

MATCHES = '[{"bank": "connu", "labels": {"tier": "promotional"}}]'


def candidate(
    number: int, *, source: str | None = None, url_number: int | None = None
) -> Candidate:
    data = f"contenu neutre numéro {number}".encode()
    url = f"https://exemple.test/{url_number if url_number is not None else number}"
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
        source=source or f"crawl.warc#{number}",
        content=data,
    )


@pytest.fixture
def store(tmp_path: Path) -> EncryptedContentStore:
    return EncryptedContentStore(tmp_path / "content", derive_content_key("k" * 40))


@pytest.fixture
def open_uow(database: Database) -> UnitOfWorkFactory:
    with database.unit_of_work(write=True) as uow:
        make_agency(uow, code="unite")
        uow.commit()

    @contextmanager
    def opener() -> Iterator[UnitOfWork]:
        with database.unit_of_work(write=True) as uow:
            yield uow

    return opener


COUNTS = {
    "items": "SELECT count(*) FROM items",
    "cases": "SELECT count(*) FROM cases",
    "sightings": "SELECT count(*) FROM sightings",
}


def _count(database: Database, table: str) -> int:
    with database.engine.connect() as conn:
        return int(conn.execute(text(COUNTS[table])).scalar_one())


def _stored(root: Path) -> set[str]:
    return {p.name for p in root.glob("??/??/*") if p.is_file()}


def test_a_batch_run_again_adds_no_sighting_and_no_case(
    database: Database, open_uow: UnitOfWorkFactory, store: EncryptedContentStore, tmp_path: Path
) -> None:
    opener = open_uow
    batch = [candidate(n) for n in range(5)] + [candidate(0, source="autre.warc#9")]
    first = queue_batch(opener, agency_code="unite", candidates=batch, actor="t", store=store)
    assert first == [Queued.OPENED] * 5 + [Queued.SEEN_AGAIN]
    again = queue_batch(opener, agency_code="unite", candidates=batch, actor="t", store=store)
    assert again == [Queued.ALREADY_RECORDED] * 6
    assert (_count(database, "cases"), _count(database, "sightings")) == (5, 6)
    # Same bytes at a new address, or new bytes at a known address: the same item, seen again.
    other = queue_batch(
        opener,
        agency_code="unite",
        candidates=[candidate(1, url_number=77), candidate(88, url_number=2)],
        actor="t",
        store=store,
    )
    assert other == [Queued.SEEN_AGAIN, Queued.SEEN_AGAIN]
    assert (_count(database, "cases"), _count(database, "sightings")) == (5, 8)
    assert _stored(tmp_path / "content") == {c.findings.sha256 for c in batch}
    assert not list((tmp_path / "content" / "staging").iterdir())


def _written(database: Database, agency_code: str) -> list[tuple[object, ...]]:
    """What the queue holds for an agency, without the ids and times each run makes."""
    query = text(
        "SELECT i.sha256, i.url, c.status, c.score, c.top_tier,"
        " (SELECT count(*) FROM sightings s WHERE s.item_id = i.id),"
        " (SELECT count(*) FROM item_keys k WHERE k.item_id = i.id)"
        " FROM items i JOIN cases c ON c.item_id = i.id JOIN agencies a ON a.id = i.agency_id"
        " WHERE a.code = :code ORDER BY i.sha256"
    )
    with database.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(query, {"code": agency_code})]


def test_a_batch_writes_what_the_candidates_one_by_one_write(
    database: Database, open_uow: UnitOfWorkFactory, store: EncryptedContentStore
) -> None:
    """Written at once, a batch gives each candidate the outcome it has one at a time: the
    same bytes twice in the batch, a new address of bytes earlier in it, new bytes at an
    address earlier in it, an item known before the batch, the same sighting twice."""
    with open_uow() as uow:
        make_agency(uow, code="seule")
        uow.commit()
    known = [candidate(1)]
    batch = [
        candidate(2),
        candidate(3),
        candidate(2, source="autre.warc#1"),  # same bytes, another source
        candidate(2, url_number=40),  # same bytes, another address
        candidate(50, url_number=3),  # other bytes at the address of the second
        candidate(1, source="encore.warc#1"),  # known before the batch
        candidate(3),  # the very same sighting again
        candidate(6),
    ]
    queue_batch(open_uow, agency_code="unite", candidates=known, actor="t", store=store)
    together = queue_batch(open_uow, agency_code="unite", candidates=batch, actor="t", store=store)
    one_by_one = []
    for each in known + batch:
        with open_uow() as uow:
            one_by_one.append(
                queue_candidate(uow, agency_code="seule", candidate=each, actor="t", store=store)
            )
            uow.commit()
    assert together == one_by_one[1:]
    assert together == [
        Queued.OPENED,
        Queued.OPENED,
        Queued.SEEN_AGAIN,
        Queued.SEEN_AGAIN,
        Queued.SEEN_AGAIN,
        Queued.SEEN_AGAIN,
        Queued.ALREADY_RECORDED,
        Queued.OPENED,
    ]
    assert _written(database, "unite") == _written(database, "seule")
    assert len(_written(database, "unite")) == 4
    with open_uow() as uow:
        report = verify_log(uow)
    assert report.is_intact and report.checked >= 5, report


def _selects_from(*tables: str) -> Callable[[str], bool]:
    """Keeps the SELECT statements that name one of `tables`."""

    def wanted(statement: str) -> bool:
        return statement.lstrip().upper().startswith("SELECT") and any(
            f" {table}" in statement for table in tables
        )

    return wanted


def test_item_lookups_use_an_index(database: Database, open_uow: UnitOfWorkFactory) -> None:
    """The lookups of an item by SHA-256 or by address, and of its case, never scan the
    agency's items nor the cases, on both engines."""
    batch = [candidate(n) for n in range(400)]
    for first in range(0, len(batch), 200):
        queue_batch(open_uow, agency_code="unite", candidates=batch[first : first + 200], actor="t")
    reads = _selects_from("items", "cases")
    with database.unit_of_work() as uow, recorded_statements(database, reads) as statements:
        agency = uow.agencies.get_by_code("unite")
        uow.queue.find_item(agency.id, "a" * 64, "b" * 64)
        known = (batch[0].findings.sha256, batch[0].url_hash)
        uow.queue.find_items(agency.id, [known, ("a" * 64, "b" * 64), ("c" * 64, None)])
    assert statements
    for statement, parameters in statements:
        plan = query_plan(database, statement, parameters, analyze=["items", "cases"])
        # An index on the agency alone still reads every item of the agency: the key
        # looked up must be in the index's condition.
        if is_sqlite(database):
            assert "SCAN" not in plan, plan
            keys = ("sha256=?", "url_hash=?", "item_id=?")
            assert any(key in plan for key in keys), plan
        else:
            assert "Seq Scan" not in plan, plan
            conditions = [part for part in plan.split(" | ") if "Index Cond" in part]
            keys = ("sha256)::text =", "url_hash)::text =", "item_id)::text =")
            assert any(key in part for part in conditions for key in keys), plan


class _Crash(Exception):
    pass


def test_a_crash_leaves_no_unreferred_content_and_loses_none_that_committed(
    database: Database, open_uow: UnitOfWorkFactory, store: EncryptedContentStore, tmp_path: Path
) -> None:
    opener = open_uow

    # A crash inside the transaction: nothing committed, nothing stored.
    @contextmanager
    def crashing() -> Iterator[UnitOfWork]:
        with opener() as uow:
            original = uow.commit
            uow.commit = lambda: (_ for _ in ()).throw(_Crash())  # type: ignore[method-assign]
            yield uow
            uow.commit = original  # type: ignore[method-assign]

    with pytest.raises(_Crash):
        queue_batch(
            crashing, agency_code="unite", candidates=[candidate(1)], actor="t", store=store
        )
    assert _count(database, "items") == 0
    assert not _stored(tmp_path / "content") and not list(
        (tmp_path / "content" / "staging").iterdir()
    )

    # A crash after the commit, before the content is published: the next run's sweep
    # publishes it; an unrelated staged leftover older than the grace period goes.
    class StopsBeforePublishing(EncryptedContentStore):
        def publish(self, staged: StagedContent) -> None:
            raise _Crash()

    stopping = StopsBeforePublishing(tmp_path / "content", derive_content_key("k" * 40))
    with pytest.raises(_Crash):
        queue_batch(
            opener, agency_code="unite", candidates=[candidate(2)], actor="t", store=stopping
        )
    leftover = store.stage(b"jamais enregistre")
    assert _count(database, "items") == 1 and not _stored(tmp_path / "content")
    swept = sweep_content(opener, store, grace_seconds=0, staged_only=True)
    assert (swept.published, swept.deleted) == (1, 1)
    assert store.get(candidate(2).findings.sha256) == b"contenu neutre num\xc3\xa9ro 2"
    assert not store.has(leftover.sha256)


def test_the_migration_keeps_one_sighting_of_those_recorded_twice(database_url: str) -> None:
    from passerelle.db.engine import make_engine
    from passerelle.db.migrate import upgrade

    engine = make_engine(database_url)
    try:
        upgrade(engine, "0024")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO agencies (id, code, name, jurisdiction, created_at)"
                    " VALUES ('a', 'unite', 'Unité', 'FR', CURRENT_TIMESTAMP)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO items (id, agency_id, sha256, media_type, signals_json,"
                    " first_seen_at) VALUES ('i', 'a', :sha, 'text/plain', '{}', CURRENT_TIMESTAMP)"
                ),
                {"sha": "a" * 64},
            )
            for source, url in [("x.warc#1", "https://e.test/1")] * 3 + [("x.warc#1", None)] * 2:
                conn.execute(
                    text(
                        "INSERT INTO sightings (item_id, source, url, origin, seen_at)"
                        " VALUES ('i', :s, :u, 'scan', CURRENT_TIMESTAMP)"
                    ),
                    {"s": source, "u": url},
                )
        upgrade(engine)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT url FROM sightings ORDER BY id")).all()
        assert [r[0] for r in rows] == ["https://e.test/1", None]
    finally:
        engine.dispose()


def test_a_batch_of_new_cases_runs_as_many_statements_whatever_its_size(
    database: Database, open_uow: UnitOfWorkFactory, store: EncryptedContentStore
) -> None:
    """Ingest at volume: the statements of a batch do not grow with its candidates (looked
    up, written and audited at once), so that writing cases is not one round trip each."""

    def statements_for(batch: list[Candidate]) -> int:
        with recorded_statements(database, lambda _statement: True) as ran:
            outcomes = queue_batch(
                open_uow, agency_code="unite", candidates=batch, actor="t", store=store
            )
        assert outcomes == [Queued.OPENED] * len(batch)
        return len(ran)

    small = statements_for([candidate(n) for n in range(5)])
    large = statements_for([candidate(n) for n in range(100, 160)])
    assert large == small


def test_the_content_stores_lookups_by_sha256_alone_use_an_index(
    database: Database, open_uow: UnitOfWorkFactory
) -> None:
    """Whether any agency still keeps some bytes is read from the index on SHA-256 (the
    items' key starts with it), never by reading every item."""
    batch = [candidate(n) for n in range(300)]
    queue_batch(open_uow, agency_code="unite", candidates=batch, actor="t")
    reads = _selects_from("items")
    with database.unit_of_work() as uow, recorded_statements(database, reads) as statements:
        assert uow.jobs.is_content_kept(batch[0].findings.sha256)
        kept = uow.jobs.kept_content({batch[1].findings.sha256, "f" * 64})
    assert kept == {batch[1].findings.sha256}
    assert len(statements) == 2
    for statement, parameters in statements:
        plan = query_plan(database, statement, parameters, analyze=["items", "agencies"])
        if is_sqlite(database):
            assert "SCAN items" not in plan and "sha256" in plan, plan
        else:
            # Not the whole key read for its second column: a range per agency.
            conditions = [part for part in plan.split(" | ") if "Index Cond" in part]
            assert any("(agency_id)::text = " in c and "sha256" in c for c in conditions), plan
