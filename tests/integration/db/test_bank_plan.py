"""What the banks console reads at volume is read from indexes on both engines (issue: one
bank of 100,000 entries, a prefix search 371 ms reading every entry, the list of banks
1.4 s a view counting every entry): the prefix search is a range on (bank_id, value), and
the list of banks reads no entry beyond the newest one."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

from passerelle.core.bank import EntryInput, EntryQuery
from passerelle.core.signals.digests import MD5, SHA256
from passerelle.core.taxonomy import Labels
from passerelle.db.session import Database
from passerelle.services.banks import add_entries, create_bank
from tests.factories import make_agency
from tests.plans import query_plan, recorded_statements


def _reads_entries(statement: str) -> bool:
    return "FROM bank_entries" in statement


def _bank(database: Database) -> tuple[str, str]:
    with database.unit_of_work(write=True) as uow:
        make_agency(uow, code="unite-a")
        agency = make_agency(uow, code="unite-b")
        # The bank looked at and a bigger one beside it: its entries are found by bank.
        bank = create_bank(uow, agency_code="unite-b", name="connu", actor="test")
        create_bank(uow, agency_code="unite-b", name="autre", actor="test")
        for name, size in (("connu", 300), ("autre", 3000)):
            add_entries(
                uow,
                agency_code="unite-b",
                bank_name=name,
                entries=[
                    EntryInput("md5", MD5.compute(f"{name} {n}".encode()).value, Labels())
                    for n in range(size)
                ],
                actor="test",
            )
        uow.commit()
    return agency.id, bank.id


def test_a_prefix_search_is_a_range_read_from_the_value_index(database: Database) -> None:
    _agency_id, bank_id = _bank(database)
    with database.unit_of_work() as uow, recorded_statements(database, _reads_entries) as kept:
        found = uow.banks.find_entries(
            bank_id, EntryQuery(prefix="ab"), now=datetime.now(UTC), limit=26
        )
    assert found and all(f.entry.signal.value.startswith("ab") for f in found)
    (statement, parameters), *_ = kept
    assert "LIKE" not in statement.upper()
    plan = query_plan(database, statement, parameters, analyze=["bank_entries"])
    if database.engine.dialect.name == "sqlite":
        # The bank's unique key (bank, type, value), one range a type (0039).
        assert "sqlite_autoindex_bank_entries_2" in plan, plan
        assert "signal_type=? AND value>? AND value<?" in plan, plan
    else:
        assert "ix_bank_entries_bank_value" in plan, plan


def test_a_prefix_search_finds_every_value_that_begins_so_and_no_other(
    database: Database,
) -> None:
    _agency_id, bank_id = _bank(database)
    with database.unit_of_work() as uow:
        every = [e.signal.value for e in uow.banks.entries([bank_id])]
        for prefix in ("0", "9", "a", "f", "ff", every[0][:5], every[7]):
            found = uow.banks.find_entries(
                bank_id, EntryQuery(prefix=prefix), now=datetime.now(UTC), limit=400
            )
            assert sorted(f.entry.signal.value for f in found) == sorted(
                v for v in every if v.startswith(prefix)
            ), prefix


def test_a_bank_holds_a_long_video_value_and_finds_hashes_by_their_whole_length(
    database: Database,
) -> None:
    # A vPDQ value of 300 frames is some 24 kB, more than a PostgreSQL B-tree row holds: the
    # prefix index must take it all the same, and a prefix of a whole SHA-256 (64 characters,
    # all the index holds on PostgreSQL) or longer still finds exactly what begins with it.
    rng = random.Random(5)
    video = json.dumps([f"{rng.getrandbits(256):064x},100,{t:.3f}" for t in range(300)])
    digest = SHA256.compute(b"un texte neutre").value
    with database.unit_of_work(write=True) as uow:
        make_agency(uow, code="unite-v")
        bank = create_bank(uow, agency_code="unite-v", name="videos", actor="test")
        added = add_entries(
            uow,
            agency_code="unite-v",
            bank_name="videos",
            entries=[
                EntryInput("vpdq", video, Labels()),
                EntryInput("sha256", digest, Labels()),
            ],
            actor="test",
        )
        uow.commit()
    assert (added.added, added.errors) == (2, [])
    with database.unit_of_work() as uow:
        for prefix, expected in ((digest, [digest]), (digest[:40], [digest]), (digest + "0", [])):
            found = uow.banks.find_entries(
                bank.id, EntryQuery(prefix=prefix), now=datetime.now(UTC), limit=10
            )
            assert [f.entry.signal.value for f in found] == expected, prefix


def test_the_list_of_banks_reads_no_entry_beyond_the_newest(database: Database) -> None:
    agency_id, _bank_id = _bank(database)
    with database.unit_of_work() as uow, recorded_statements(database, _reads_entries) as kept:
        summaries = {s.bank.name: s for s in uow.banks.summaries(agency_id)}
    assert summaries["connu"].counts == {"md5": 300}
    assert summaries["autre"].markings == {None: 3000}
    assert kept
    for statement, parameters in kept:
        assert "GROUP BY" not in statement.upper() and "LIMIT" in statement.upper(), statement
        plan = query_plan(database, statement, parameters, analyze=["bank_entries"])
        if database.engine.dialect.name == "sqlite":
            assert "SEARCH bank_entries USING COVERING INDEX ix_bank_entries_bank_" in plan, plan
            assert "TEMP B-TREE" not in plan, plan
        else:
            # From the end of an index on (bank_id, …), or of the one on the generation
            # when the bank holds most entries: either way the newest first, then stop.
            assert plan.startswith("Limit") and "Scan Backward using" in plan, plan
            assert "Sort" not in plan and "Seq Scan" not in plan, plan


def test_entries_held_already_are_looked_up_on_the_banks_unique_index(
    database: Database,
) -> None:
    """An import looks up which of its entries the bank holds by the whole key of the bank's
    unique index (on PostgreSQL the MD5 of the value): never a read of all the bank's entries
    (quadratic over an import of a million)."""
    _agency_id, _bank_id = _bank(database)
    again = [MD5.compute(f"connu {n}".encode()).value for n in range(5)]
    with (
        database.unit_of_work(write=True) as uow,
        recorded_statements(database, _reads_entries) as kept,
    ):
        report = add_entries(
            uow,
            agency_code="unite-b",
            bank_name="connu",
            entries=[EntryInput("md5", value, Labels()) for value in again],
            actor="test",
        )
        uow.commit()
    assert (report.added, report.duplicates) == (0, 5)
    (statement, parameters), *_ = [k for k in kept if k[0].lstrip().startswith("SELECT")]
    plan = query_plan(database, statement, parameters, analyze=["bank_entries"])
    assert "uq_bank_entries_signal" in plan or "sqlite_autoindex_bank_entries" in plan, plan
    assert "Filter: ((bank_entries.value" not in plan.split("Index Cond")[0], plan
    assert "SCAN bank_entries" not in plan, plan


def test_a_prefix_search_over_several_signal_types_is_still_a_range(database: Database) -> None:
    _agency_id, bank_id = _bank(database)
    with database.unit_of_work(write=True) as uow:
        add_entries(
            uow,
            agency_code="unite-b",
            bank_name="connu",
            entries=[
                EntryInput("sha256", SHA256.compute(f"connu {n}".encode()).value, Labels())
                for n in range(300)
            ],
            actor="test",
        )
        uow.commit()
    with database.unit_of_work() as uow, recorded_statements(database, _reads_entries) as kept:
        found = uow.banks.find_entries(
            bank_id, EntryQuery(prefix="ab"), now=datetime.now(UTC), limit=26
        )
        every = [e.signal for e in uow.banks.entries([bank_id])]
    assert sorted(f.entry.signal.value for f in found) == sorted(
        s.value for s in every if s.value.startswith("ab")
    )
    assert {f.entry.signal.type for f in found} == {"md5", "sha256"}
    searches = kept[:-1]  # the last one read every entry, for the check above
    assert len(searches) == (2 if database.engine.dialect.name == "sqlite" else 1)
    for statement, parameters in searches:
        plan = query_plan(database, statement, parameters, analyze=["bank_entries"])
        if database.engine.dialect.name == "sqlite":
            assert "sqlite_autoindex_bank_entries_2" in plan, plan
            assert "signal_type=? AND value>? AND value<?" in plan, plan
        else:
            assert "ix_bank_entries_bank_value" in plan, plan
