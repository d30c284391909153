"""Upgrading to 0040 computes again the `url` signals stored under the old canonical form
(which decoded `%2B` in a path, so that `C%2B%2B` and `C++` were one address): a banked
address matches its own spelling after the upgrade, a withdrawn one keeps the hash it would
be reinstated with, an item's hash follows its address, a bare hash is left alone, and the
agency's match index on disk is rebuilt rather than caught up."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from passerelle.core.bank import EntryInput
from passerelle.core.content import Content
from passerelle.core.signals.url import URL
from passerelle.db.engine import make_engine
from passerelle.db.migrate import upgrade
from passerelle.db.session import Database
from passerelle.scan import scan
from passerelle.services import banks
from passerelle.services.matchers import open_matcher
from tests.factories import make_agency

BEFORE = "0039"
GIVEN = "https://exemple.test/C%2B%2B"  # as an analyst typed it
OLD_FORM = "https://exemple.test/C++"  # what the canonical form made of it before 0040
BARE = "ab" * 32  # banked as a hash: its address is not known


def old_hash(address: str) -> str:
    return hashlib.sha256(address.encode()).hexdigest()


@pytest.fixture
def old_database(database_url: str) -> Iterator[Database]:
    database = Database(make_engine(database_url))
    upgrade(database.engine, BEFORE)
    with database.unit_of_work(write=True) as uow:
        make_agency(uow, code="agency-a")
        banks.create_bank(uow, agency_code="agency-a", name="adresses", actor="test")
        banks.add_entries(
            uow,
            agency_code="agency-a",
            bank_name="adresses",
            entries=[
                EntryInput("url", GIVEN),
                EntryInput("url", "https://exemple.test/a%2Fb"),
                EntryInput("url", BARE),
            ],
            actor="test",
        )
        uow.commit()
    with database.engine.begin() as conn:  # as the code before 0040 stored them
        conn.execute(
            text("UPDATE bank_entries SET value = :old WHERE source_value = :given"),
            {"old": old_hash(OLD_FORM), "given": GIVEN},
        )
        conn.execute(
            text("UPDATE bank_entries SET value = :old WHERE source_value = :given"),
            {"old": old_hash("https://exemple.test/a/b"), "given": "https://exemple.test/a%2Fb"},
        )
    yield database
    database.dispose()


def _values(database: Database) -> dict[str | None, str]:
    with database.engine.connect() as conn:
        rows = conn.execute(text("SELECT source_value, value FROM bank_entries")).all()
    return {source: value for source, value in rows}


def _agency_id(database: Database) -> str:
    with database.unit_of_work() as uow:
        return uow.agencies.get_by_code("agency-a").id


def test_banked_addresses_match_their_own_spelling_after_the_upgrade(
    old_database: Database, tmp_path: Path
) -> None:
    agency_id = _agency_id(old_database)
    with old_database.unit_of_work(write=True) as uow:  # an index on disk, before the upgrade
        before = open_matcher(uow, agency_id=agency_id, index_root=tmp_path)
        uow.commit()
    page = Content(source="page", data=b"<html></html>", url=GIVEN)
    assert not scan(page, before).matches  # the old hash: the address's own spelling misses
    upgrade(old_database.engine)
    values = _values(old_database)
    assert values[GIVEN] == URL.compute(GIVEN).value
    assert values["https://exemple.test/a%2Fb"] == URL.compute("https://exemple.test/a%2Fb").value
    assert values[None] == URL.parse(BARE).value  # a bare hash is left as it is
    with old_database.unit_of_work(write=True) as uow:
        after = open_matcher(uow, agency_id=agency_id, index_root=tmp_path)
        uow.commit()
    assert [m.signal_type for m in scan(page, after).matches] == ["url"]


def test_an_item_and_a_withdrawn_entry_follow_their_address(old_database: Database) -> None:
    agency_id = _agency_id(old_database)
    withdrawn_address = "https://exemple.test/x%2Fy"
    item_address = "http://1572395042/page"  # kept as it was typed before 0040
    with old_database.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO bank_withdrawals (id, bank_id, entry_id, signal_type, value,"
                " source_value, tags_json, note, added_at, withdrawn_at, withdrawn_by, reason)"
                " SELECT 'w1', bank_id, 'gone', 'url', :old, :given, '[]', '', added_at,"
                " added_at, 'test', 'reason' FROM bank_entries WHERE source_value = :entry"
            ),
            {
                "old": old_hash("https://exemple.test/x/y"),
                "given": withdrawn_address,
                "entry": GIVEN,
            },
        )
        conn.execute(
            text(
                "INSERT INTO items (id, agency_id, sha256, media_type, signals_json, url,"
                " url_hash, first_seen_at) SELECT 'i1', :agency, :sha, 'text/html', '{}',"
                " :url, :old, added_at FROM bank_entries WHERE source_value = :entry"
            ),
            {
                "agency": agency_id,
                "sha": "cd" * 32,
                "url": item_address,
                "old": old_hash(item_address),
                "entry": GIVEN,
            },
        )
    upgrade(old_database.engine)
    with old_database.engine.connect() as conn:
        withdrawn = conn.execute(text("SELECT value FROM bank_withdrawals WHERE id='w1'")).scalar()
        item = conn.execute(text("SELECT url_hash FROM items WHERE id = 'i1'")).scalar()
    assert withdrawn == URL.compute(withdrawn_address).value
    assert item == URL.compute("http://93.184.216.34/page").value
