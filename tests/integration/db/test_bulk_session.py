"""A bulk session (an import) keeps SQLite's pages in a larger cache across its chunks'
transactions, each of which still commits for good; the cache goes back after."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from passerelle.db.engine import CACHE_KIB, make_engine
from passerelle.db.session import BULK_CACHE_KIB, Database


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    database = Database(make_engine(f"sqlite:///{tmp_path / 'bulk.db'}"))
    with database.engine.begin() as conn:
        conn.execute(text("CREATE TABLE written (n INTEGER NOT NULL)"))
    yield database
    database.dispose()


def _cache(database: Database, *, write: bool = False) -> int:
    with database.unit_of_work(write=write) as uow:
        return int(uow.session.execute(text("PRAGMA cache_size")).scalar_one())


def test_the_units_of_a_bulk_session_share_a_larger_cache(database: Database) -> None:
    assert _cache(database) == -CACHE_KIB
    with database.bulk():
        assert _cache(database, write=True) == -BULK_CACHE_KIB
        assert _cache(database) == -BULK_CACHE_KIB
    assert _cache(database, write=True) == -CACHE_KIB


def test_each_chunk_of_a_bulk_session_commits_for_good(database: Database) -> None:
    with database.bulk():
        for n in (1, 2):
            with database.unit_of_work(write=True) as uow:
                uow.session.execute(text("INSERT INTO written (n) VALUES (:n)"), {"n": n})
                uow.commit()
        with database.unit_of_work(write=True) as uow:
            uow.session.execute(text("INSERT INTO written (n) VALUES (3)"))  # not committed
        other = make_engine(str(database.engine.url))
        try:
            with other.connect() as conn:  # another connection sees the committed chunks
                seen = list(conn.execute(text("SELECT n FROM written ORDER BY n")).scalars())
        finally:
            other.dispose()
    assert seen == [1, 2]


def test_a_unit_opened_inside_another_has_its_own_transaction(database: Database) -> None:
    with database.bulk(), database.unit_of_work(write=True) as outer:
        outer.session.execute(text("INSERT INTO written (n) VALUES (1)"))
        with database.unit_of_work() as inner:  # a reader: the outer write is not its own
            assert inner.session.execute(text("SELECT count(*) FROM written")).scalar_one() == 0
        outer.commit()
    assert _cache(database) == -CACHE_KIB
