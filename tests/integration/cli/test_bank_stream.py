"""Bank import and export stream: a file is read and written in chunks, one transaction per
chunk (each audited on its own), bad lines reported on the way, nothing accepted lost."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from passerelle.cli import banks as bank_cli
from passerelle.db.engine import make_engine
from passerelle.db.session import Database
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
