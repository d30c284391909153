"""Bank import and export stream: a file is read and written in chunks, one transaction per
chunk (each audited on its own), bad lines reported on the way, nothing accepted lost."""

from __future__ import annotations

import gc
import random
from pathlib import Path

import pytest

from passerelle.cli import banks as bank_cli
from passerelle.core.index.store import MatchIndex
from passerelle.core.match import Matcher
from passerelle.core.signals.pdq import PDQ
from passerelle.db.engine import make_engine
from passerelle.db.session import Database
from passerelle.services.matchers import current_index
from tests.cli_runner import Cli
from tests.conftest import TEST_SECRET


@pytest.fixture
def run(tmp_path: Path, database_url: str) -> Cli:
    runner = Cli(
        {
            "PASSERELLE_ENV": "dev",
            "PASSERELLE_SECRET_KEY": TEST_SECRET,
            "PASSERELLE_DATABASE_URL": database_url,
            "PASSERELLE_DATA_DIR": str(tmp_path / "var"),
        }
    )
    assert runner("db", "upgrade").exit_code == 0
    assert runner("agency", "add", "unite", "--name", "U", "--jurisdiction", "FR").exit_code == 0
    assert runner("bank", "create", "gros").exit_code == 0
    return runner


def test_a_large_import_goes_in_chunks_and_exports_back(
    run: Cli, tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bank_cli, "IMPORT_CHUNK", 100)
    rng = random.Random(4)
    values = [f"{rng.getrandbits(256):064x}" for _ in range(350)]
    lines = [f"pdq {v}" for v in values]
    lines.insert(120, "pdq not-a-hash")
    source = tmp_path / "gros.txt"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run("bank", "import", "gros", str(source))
    assert result.exit_code == 0
    assert result.output.splitlines()[-1] == "350 added, 0 already there, 1 refused"
    assert f"{source}: line 121: pdq must be 64 hexadecimal digits" in result.output
    database = Database(make_engine(database_url), secret=TEST_SECRET)
    with database.unit_of_work() as uow:
        added = [
            e.details["added"] for e in uow.audit.iter_all() if e.action == "bank.entries_added"
        ]
    database.dispose()
    assert added == [100, 99, 100, 51]  # one transaction, one audit event, per chunk
    out = tmp_path / "export.txt"
    assert run("bank", "export", "gros", "--format", "pytx", "-o", str(out)).exit_code == 0
    assert sorted(out.read_text().splitlines()) == sorted(lines[:120] + lines[121:])
    csv_out = run("bank", "export", "gros").output.splitlines()
    assert csv_out[0].startswith("signal_type,value,category,tier,tags,note,quality")
    assert sorted(line.split(",")[1] for line in csv_out[1:]) == sorted(values)


def _values(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [f"{rng.getrandbits(256):064x}" for _ in range(count)]


def _bank_values(database_url: str) -> list[str]:
    database = Database(make_engine(database_url), secret=TEST_SECRET)
    with database.unit_of_work() as uow:
        agency = uow.agencies.get_by_code("unite")
        bank = uow.banks.get_by_name(agency.id, "gros")
        values = [entry.signal.value for entry in uow.banks.entries([bank.id])]
    database.dispose()
    return values


def test_an_import_cut_short_keeps_the_chunks_it_finished(
    run: Cli, tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bank_cli, "IMPORT_CHUNK", 100)
    values = _values(400, 8)
    source = tmp_path / "coupe.txt"
    # 300 good lines, then bytes that are not UTF-8: reading stops there (a file damaged on
    # a failing disk, say). The text is decoded 8 KiB at a time, so the error comes when the
    # block holding them is read, after line 237.
    with source.open("wb") as out:
        out.write("".join(f"pdq {v}\n" for v in values[:300]).encode())
        out.write(b"pdq \xff\xfe\n")
        out.write("".join(f"pdq {v}\n" for v in values[300:]).encode())
    result = run("bank", "import", "gros", str(source))
    assert result.exit_code == 2
    assert f"cannot read {source}" in result.output
    # The two chunks committed before the error stay, whole; the third, unfinished, is gone.
    assert sorted(_bank_values(database_url)) == sorted(values[:200])
    assert gc.isenabled()  # the collector paused for the import is back


def test_duplicates_in_a_chunk_across_chunks_and_in_the_bank_are_counted_once(
    run: Cli, tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bank_cli, "IMPORT_CHUNK", 100)
    values = _values(150, 9)
    # Lines 1-100 hold 90 values (10 twice in the first chunk); lines 101-160 repeat 20 of
    # the first chunk's values and bring the last 60.
    lines = values[:90] + values[:10] + values[:20] + values[90:]
    source = tmp_path / "doublons.txt"
    source.write_text("".join(f"pdq {v}\n" for v in lines), encoding="utf-8")
    result = run("bank", "import", "gros", str(source))
    assert result.exit_code == 0
    assert result.output.splitlines()[-1] == "150 added, 30 already there, 0 refused"
    again = run("bank", "import", "gros", str(source))
    assert again.exit_code == 0
    assert again.output.splitlines()[-1] == "0 added, 180 already there, 0 refused"
    held = _bank_values(database_url)
    assert len(held) == 150 and set(held) == set(values)
    database = Database(make_engine(database_url), secret=TEST_SECRET)
    with database.unit_of_work() as uow:
        bank = uow.banks.get_by_name(uow.agencies.get_by_code("unite").id, "gros")
        kept, counted = uow.banks.kept_counts(bank.id), uow.banks.fresh_counts(bank.id)
    database.dispose()
    assert kept == counted and kept["type", "pdq"] == 150  # the kept counts skip duplicates


def test_the_index_after_a_chunked_import_equals_a_rebuild(
    run: Cli, tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bank_cli, "IMPORT_CHUNK", 100)
    first, later = _values(120, 10), _values(250, 11)
    database = Database(make_engine(database_url), secret=TEST_SECRET)
    path = tmp_path / "index"
    for part, name in ((first, "un.txt"), (later, "deux.txt")):
        source = tmp_path / name
        source.write_text("".join(f"pdq {v}\n" for v in part), encoding="utf-8")
        assert run("bank", "import", "gros", str(source)).exit_code == 0
        # The index kept on disk follows each import (the second by a delta of 3 chunks).
        with database.unit_of_work() as uow:
            agency_id = uow.agencies.get_by_code("unite").id
            kept = current_index(uow, agency_id=agency_id, path=path)
            generation = uow.banks.generation()
            fresh = MatchIndex.build(
                uow.banks.list(agency_id),
                uow.banks.index_entries(agency_id, after=-1, upto=generation),
                generation=generation,
            )
        assert kept.generation == generation
        assert set(kept.entries()) == set(fresh.entries())
    database.dispose()
    assert {value for _, _, _, value, _ in fresh.entries()} == set(first + later)
    probe = PDQ.parse(later[-1])
    assert [m.value for m in Matcher(kept).match([probe]).matches] == [later[-1]]
