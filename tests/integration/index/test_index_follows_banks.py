"""The match index on disk follows the banks: after any sequence of additions, withdrawals,
imports, expiries and reinstatements it holds exactly what a fresh rebuild from the database
holds, on SQLite and PostgreSQL; a stale index catches up, a damaged one is rebuilt."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from passerelle.core.bank import EntryInput, NewEntry
from passerelle.core.index.store import MatchIndex, UnusableIndex, open_index, read_header
from passerelle.core.match import Matcher
from passerelle.core.ports import UnitOfWork
from passerelle.core.signals import Signal
from passerelle.core.signals.pdq import PDQ
from passerelle.core.signals.text import TEXT
from passerelle.core.taxonomy import Category, Labels, Tier
from passerelle.db.session import Database
from passerelle.services import banks
from passerelle.services.matchers import current_index, open_matcher
from tests.factories import make_agency

CODE = "unite"
WORDS = [
    "le",
    "pont",
    "de",
    "pierre",
    "traverse",
    "la",
    "riviere",
    "sous",
    "un",
    "ciel",
    "gris",
    "et",
    "calme",
    "ce",
    "matin",
]


def contents(index: MatchIndex) -> set[tuple[str, str, str, str, Labels]]:
    return set(index.entries())


def rebuilt(uow: UnitOfWork, agency_id: str) -> MatchIndex:
    generation = uow.banks.generation()
    return MatchIndex.build(
        uow.banks.list(agency_id),
        uow.banks.index_entries(agency_id, after=-1, upto=generation),
        generation=generation,
    )


def flip(value: str, bits: int, rng: random.Random) -> str:
    number = int(value, 16)
    for bit in rng.sample(range(256), bits):
        number ^= 1 << bit
    return f"{number:064x}"


class Banks:
    """Random changes through the paths the product uses."""

    def __init__(self, database: Database, rng: random.Random) -> None:
        self.db = database
        self.rng = rng
        self.pdq: list[str] = []
        with database.unit_of_work(write=True) as uow:
            self.agency_id = make_agency(uow, code=CODE).id
            banks.create_bank(uow, agency_code=CODE, name="connu", actor="test")
            banks.create_bank(uow, agency_code=CODE, name="benin", kind="negative", actor="test")
            partner = uow.banks.add(
                agency_id=self.agency_id,
                name="partner-qc",
                kind=banks.BankKind.POSITIVE,
                origin=banks.BankOrigin.PARTNER,
                description="",
                thresholds={},
            )
            self.partner_bank = partner.id
            uow.commit()

    def value(self, kind: str) -> str:
        if kind == "pdq":
            if self.pdq and self.rng.random() < 0.3:
                return flip(self.rng.choice(self.pdq), self.rng.randint(0, 20), self.rng)
            value = f"{self.rng.getrandbits(256):064x}"
            self.pdq.append(value)
            return value
        if kind == "text":
            words = [self.rng.choice(WORDS) for _ in range(30)]
            return " ".join(words)
        if kind == "url":
            return f"https://exemple.test/{self.rng.randrange(10**6)}"
        return f"{self.rng.getrandbits(256 if kind == 'sha256' else 128):0{64 if kind == 'sha256' else 32}x}"

    def labels(self) -> Labels:
        return Labels(
            category=self.rng.choice([None, Category.INCITES]),
            tier=self.rng.choice([None, Tier.CRISIS]),
            tags=frozenset(self.rng.sample(["a", "b", "c"], self.rng.randint(0, 2))),
        )

    def add(self) -> None:
        """An analyst's addition or a file import: several entries in one transaction."""
        kinds = ["pdq", "pdq", "sha256", "md5", "url", "text"]
        entries = [
            EntryInput(kind, self.value(kind), self.labels())
            for kind in (self.rng.choice(kinds) for _ in range(self.rng.randint(1, 30)))
        ]
        with self.db.unit_of_work(write=True) as uow:
            banks.add_entries(
                uow,
                agency_code=CODE,
                bank_name=self.rng.choice(["connu", "benin"]),
                entries=entries,
                actor="test",
                source="import",
            )
            uow.commit()

    def remove(self) -> None:
        """A withdrawal by hand or a reinstatement after a complaint (same repository path)."""
        with self.db.unit_of_work(write=True) as uow:
            name = self.rng.choice(["connu", "benin"])
            _, entries, _ = banks.export_entries(uow, agency_code=CODE, bank_name=name)
            if not entries:
                return
            chosen = self.rng.choice(entries)
            banks.remove_entry(
                uow,
                agency_code=CODE,
                bank_name=name,
                signal_type=chosen.signal.type,
                value=chosen.signal.value,
                actor="test",
            )
            uow.commit()

    def partner_feed(self) -> None:
        """Entries from a partner's feed, some already expired."""
        now = datetime.now(UTC)
        with self.db.unit_of_work(write=True) as uow:
            uow.banks.add_entries(
                self.partner_bank,
                [
                    NewEntry(
                        PDQ.parse(self.value("pdq")),
                        self.labels(),
                        expires_at=now + timedelta(days=self.rng.choice([-1, 30])),
                    )
                    for _ in range(self.rng.randint(1, 10))
                ],
            )
            uow.commit()

    def expire(self) -> None:
        with self.db.unit_of_work(write=True) as uow:
            uow.exchange.purge_expired(self.agency_id, datetime.now(UTC))
            uow.commit()

    def step(self) -> None:
        self.rng.choice([self.add, self.add, self.remove, self.partner_feed, self.expire])()


def test_the_index_on_disk_equals_a_rebuild_after_random_changes(
    database: Database, tmp_path: Path
) -> None:
    rng = random.Random(12)
    world = Banks(database, rng)
    path = tmp_path / "index"
    known: MatchIndex | None = None
    for step in range(60):
        world.step()
        if step % 3 == 0 and world.pdq:
            # Now and then a reader (a scan, a server request) brings the index up to date.
            with database.unit_of_work() as uow:
                known = current_index(uow, agency_id=world.agency_id, path=path, known=known)
                fresh = rebuilt(uow, world.agency_id)
            assert contents(known) == contents(fresh)
            assert contents(open_index(path)) == contents(fresh)
            query = [
                PDQ.parse(flip(rng.choice(world.pdq), rng.randint(0, 31), rng)),
                Signal("sha256", "0" * 64),
            ]
            assert Matcher(known).match(query) == Matcher(fresh).match(query)
    with database.unit_of_work() as uow:
        final = current_index(uow, agency_id=world.agency_id, path=path)
        fresh = rebuilt(uow, world.agency_id)
    assert final.generation == fresh.generation
    assert contents(final) == contents(fresh)
    assert len(contents(final)) > 50
    # The index caught up by deltas and tombstones, not by rebuilding each time.
    assert read_header(path)["segments"]


def _setup(database: Database, tmp_path: Path) -> tuple[str, Path, str]:
    rng = random.Random(5)
    stored = [f"{rng.getrandbits(256):064x}" for _ in range(199)]
    with database.unit_of_work(write=True) as uow:
        agency_id = make_agency(uow, code=CODE).id
        banks.create_bank(uow, agency_code=CODE, name="connu", actor="test")
        banks.add_entries(
            uow,
            agency_code=CODE,
            bank_name="connu",
            entries=[EntryInput("pdq", value) for value in stored]
            + [EntryInput("text", " ".join(WORDS))],
            actor="test",
        )
        uow.commit()
    path = tmp_path / "index"
    with database.unit_of_work() as uow:
        current_index(uow, agency_id=agency_id, path=path)
    return agency_id, path, stored[5]


def test_a_new_entry_matches_at_the_next_look_without_a_rebuild(
    database: Database, tmp_path: Path
) -> None:
    agency_id, path, _ = _setup(database, tmp_path)
    base = read_header(path)["segments"][0]["name"]  # type: ignore[index]
    fresh = f"{random.Random(6).getrandbits(256):064x}"
    with database.unit_of_work() as uow:
        before = open_matcher(uow, agency_id=agency_id, index_root=tmp_path / "x")
    assert before.match([PDQ.parse(fresh)]).matches == ()
    with database.unit_of_work(write=True) as uow:
        banks.add_entries(
            uow, agency_code=CODE, bank_name="connu", entries=[EntryInput("pdq", fresh)], actor="t"
        )
        uow.commit()
    with database.unit_of_work() as uow:
        index = current_index(uow, agency_id=agency_id, path=path)
    assert [m.value for m in Matcher(index).match([PDQ.parse(fresh)]).matches] == [fresh]
    segments = [s["name"] for s in read_header(path)["segments"]]  # type: ignore[attr-defined]
    assert segments[0] == base and len(segments) == 2


@pytest.mark.parametrize("damage", ["truncate", "flip", "header", "missing"])
def test_a_damaged_index_is_detected_and_rebuilt(
    database: Database, tmp_path: Path, damage: str
) -> None:
    agency_id, path, stored = _setup(database, tmp_path)
    segment = path / read_header(path)["segments"][0]["name"]  # type: ignore[index]
    codes = segment / "pdq_codes.npy"
    if damage == "truncate":
        codes.write_bytes(codes.read_bytes()[:-32])
    elif damage == "flip":
        data = bytearray(codes.read_bytes())
        data[-5] ^= 0xFF  # same size, one stored hash changed
        codes.write_bytes(bytes(data))
    elif damage == "header":
        header = path / "header.json"
        header.write_text(header.read_text().replace('"generation": ', '"generation": 1'))
    else:
        (segment / "pdq_row.npy").unlink()
    with pytest.raises(UnusableIndex):
        open_index(path)
    with database.unit_of_work() as uow:
        index = current_index(uow, agency_id=agency_id, path=path)
        fresh = rebuilt(uow, agency_id)
    assert contents(index) == contents(fresh)
    assert contents(open_index(path)) == contents(fresh)
    found = Matcher(index).match([PDQ.parse(stored)]).matches
    assert [m.value for m in found if m.distance == 0] == [stored]


def test_an_index_ahead_of_the_database_is_rebuilt(database: Database, tmp_path: Path) -> None:
    agency_id, path, _ = _setup(database, tmp_path)
    index = open_index(path)
    ahead = MatchIndex.build(index.catalogue.banks, [], generation=index.generation + 5)
    from passerelle.core.index.store import save, writing

    with writing(path):
        save(ahead, path)
    with database.unit_of_work() as uow:
        again = current_index(uow, agency_id=agency_id, path=path)
        fresh = rebuilt(uow, agency_id)
    assert contents(again) == contents(fresh) and len(fresh) == 200


def test_text_entries_keep_their_value(database: Database, tmp_path: Path) -> None:
    _agency_id, path, _ = _setup(database, tmp_path)
    signal = TEXT.compute(" ".join(WORDS))
    assert signal is not None
    found = Matcher(open_index(path)).match([signal]).matches
    assert [(m.signal_type, m.value, m.distance) for m in found] == [("text", signal.value, 0.0)]
    assert np.asarray(open_index(path).segments[0].text_sigs).shape == (1, 128)


def _writer(url: str, path: str, agency_id: str, seed: int) -> None:
    """One process: adds and withdraws entries and brings the index up to date, in turns."""
    from passerelle.db.engine import make_engine

    database = Database(make_engine(url))  # the tests' databases use the dev key
    rng = random.Random(seed)
    mine: list[str] = []  # each writer withdraws only what it added: the two never race for one
    for _ in range(12):
        added = [f"{rng.getrandbits(256):064x}" for _ in range(5)]
        with database.unit_of_work(write=True) as uow:
            banks.add_entries(
                uow,
                agency_code=CODE,
                bank_name="connu",
                entries=[EntryInput("pdq", value) for value in added],
                actor=f"writer-{seed}",
            )
            uow.commit()
        mine.extend(added)
        with database.unit_of_work(write=True) as uow:
            chosen = mine.pop(rng.randrange(len(mine)))
            banks.remove_entry(
                uow,
                agency_code=CODE,
                bank_name="connu",
                signal_type="pdq",
                value=chosen,
                actor=f"writer-{seed}",
            )
            uow.commit()
        with database.unit_of_work() as uow:
            current_index(uow, agency_id=agency_id, path=Path(path))
    database.dispose()


def test_two_processes_changing_banks_at_once_leave_a_consistent_index(
    database_url: str, database: Database, tmp_path: Path
) -> None:
    import multiprocessing

    agency_id, path, _ = _setup(database, tmp_path)
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_writer, args=(database_url, str(path), agency_id, seed))
        for seed in (1, 2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=600)
        assert worker.exitcode == 0
    on_disk = open_index(path)
    with database.unit_of_work() as uow:
        fresh = rebuilt(uow, agency_id)
        current = current_index(uow, agency_id=agency_id, path=path)
    assert current.generation == fresh.generation
    assert contents(current) == contents(fresh)
    # What the last writer left on disk is a state of the banks, caught up without a rebuild.
    assert on_disk.generation <= fresh.generation
    assert len(fresh) == 200 + 2 * 12 * 4
