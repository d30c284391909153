"""The log of withdrawn entries (`bank_removals`) is pruned once a compaction folded it into
the index, and an index that still needed the pruned rows (another folder, another process)
is rebuilt rather than left holding a withdrawn entry."""

from __future__ import annotations

import random
from pathlib import Path

from sqlalchemy import func, select

from passerelle.core.bank import EntryInput
from passerelle.core.index.store import open_index, read_header, save, writing
from passerelle.core.match import Matcher
from passerelle.core.signals.pdq import PDQ
from passerelle.db.models import BankRemovalRow
from passerelle.db.session import Database
from passerelle.services import banks
from passerelle.services.matchers import current_index
from passerelle.services.removals import prune_folded_removals
from tests.integration.index.test_index_follows_banks import CODE, _setup, contents, rebuilt


def _logged(database: Database) -> int:
    with database.unit_of_work() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(BankRemovalRow)) or 0)


def _withdraw(database: Database, value: str, actor: str = "test") -> None:
    with database.unit_of_work(write=True) as uow:
        banks.remove_entry(
            uow, agency_code=CODE, bank_name="connu", signal_type="pdq", value=value, actor=actor
        )
        uow.commit()


def _prune(database: Database, agency_id: str, root: Path) -> int:
    with database.unit_of_work(write=True) as uow:
        pruned = prune_folded_removals(uow, agency_id=agency_id, index_root=root)
        uow.commit()
    return pruned


def _compact(path: Path) -> None:
    with writing(path):
        save(open_index(path).compacted(), path)


def test_the_log_is_pruned_after_a_compaction_and_an_older_index_is_rebuilt(
    database: Database, tmp_path: Path
) -> None:
    agency_id, path, withdrawn = _setup(database, tmp_path)  # index at tmp_path / "index"
    root = tmp_path / "root"  # as PASSERELLE_DATA_DIR/index holds it: one folder per agency
    root.mkdir()
    path = path.rename(root / agency_id)
    older = tmp_path / "elsewhere" / agency_id  # another data folder on the same database
    with database.unit_of_work() as uow:
        current_index(uow, agency_id=agency_id, path=older)
    _withdraw(database, withdrawn)
    with database.unit_of_work() as uow:
        current_index(uow, agency_id=agency_id, path=path)  # the withdrawal as a tombstone
    assert read_header(path)["dead"]
    assert _prune(database, agency_id, root) == 0  # not folded yet: the log stays
    assert _logged(database) == 1

    _compact(path)
    assert _prune(database, agency_id, root) == 1
    assert _logged(database) == 0
    assert _prune(database, agency_id, root) == 0  # nothing more to forget

    # The index of the other folder was older than the pruned withdrawal: rebuilt, exact.
    with database.unit_of_work() as uow:
        caught_up = current_index(uow, agency_id=agency_id, path=older)
        fresh = rebuilt(uow, agency_id)
    assert contents(caught_up) == contents(fresh)
    assert not Matcher(caught_up).match([PDQ.parse(withdrawn)]).matches

    # A withdrawal after the prune is logged and caught up by a delta as before.
    base = read_header(path)["segments"][0]["name"]  # type: ignore[index]
    with database.unit_of_work() as uow:
        _, entries, _ = banks.export_entries(uow, agency_code=CODE, bank_name="connu")
    second = next(e.signal.value for e in entries if e.signal.type == "pdq")
    _withdraw(database, second)
    assert _logged(database) == 1
    with database.unit_of_work() as uow:
        index = current_index(uow, agency_id=agency_id, path=path)
        fresh = rebuilt(uow, agency_id)
    assert contents(index) == contents(fresh)
    assert read_header(path)["segments"][0]["name"] == base  # type: ignore[index]


def test_an_index_ahead_of_the_database_prunes_nothing(database: Database, tmp_path: Path) -> None:
    agency_id, path, withdrawn = _setup(database, tmp_path)
    _withdraw(database, withdrawn)
    with database.unit_of_work() as uow:
        index = current_index(uow, agency_id=agency_id, path=path)
    restored = index.compacted()
    restored.generation = index.generation + 100  # from a backup of a later state
    with writing(path):
        save(restored, path)
    assert _prune(database, agency_id, tmp_path) == 0  # tmp_path / agency_id: no index
    (tmp_path / agency_id).symlink_to(path)
    assert _prune(database, agency_id, tmp_path) == 0
    assert _logged(database) == 1


def _changer(url: str, root: str, agency_id: str, seed: int) -> None:
    """One process with its own index folder: adds and withdraws entries, brings its index
    up to date, compacts it and prunes the log, in turns."""
    from passerelle.db.engine import make_engine

    database = Database(make_engine(url))
    rng = random.Random(seed)
    path = Path(root) / agency_id
    mine: list[str] = []
    for round_number in range(10):
        added = [f"{rng.getrandbits(256):064x}" for _ in range(3)]
        mine.extend(added)
        with database.unit_of_work(write=True) as uow:
            banks.add_entries(
                uow,
                agency_code=CODE,
                bank_name="connu",
                entries=[EntryInput("pdq", value) for value in added],
                actor=f"changer-{seed}",
            )
            uow.commit()
        # each process withdraws only its own entries (never both the same one at once)
        chosen = mine.pop(rng.randrange(len(mine)))
        with database.unit_of_work(write=True) as uow:
            banks.remove_entry(
                uow,
                agency_code=CODE,
                bank_name="connu",
                signal_type="pdq",
                value=chosen,
                actor=f"changer-{seed}",
            )
            uow.commit()
        with database.unit_of_work() as uow:
            current_index(uow, agency_id=agency_id, path=path)
        if round_number % 3 == seed % 3:
            _compact(path)
            _prune(database, agency_id, Path(root))
    database.dispose()


def test_two_processes_pruning_and_catching_up_stay_exact(
    database_url: str, database: Database, tmp_path: Path
) -> None:
    import multiprocessing

    agency_id, _, _ = _setup(database, tmp_path)
    roots = [tmp_path / "one", tmp_path / "two"]
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_changer, args=(database_url, str(root), agency_id, seed))
        for seed, root in enumerate(roots, start=1)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=600)
        assert worker.exitcode == 0
    with database.unit_of_work() as uow:
        fresh = rebuilt(uow, agency_id)
        for root in roots:
            assert contents(current_index(uow, agency_id=agency_id, path=root / agency_id)) == (
                contents(fresh)
            )
    assert len(fresh) == 200 + 2 * 10 * 2
