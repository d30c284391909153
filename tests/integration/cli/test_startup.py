"""The command line starts at once: `passerelle --help` imports none of the heavy
dependencies (they load only in the commands that need them), and its list of commands
says what each command's own help says."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from passerelle.cli.main import COMMANDS, load_command
from passerelle.core.signals.pdq import PDQ
from tests.shared import shared

HEAVY = (
    "pyspark",
    "faiss",
    "trafilatura",
    "py3langid",
    "fastapi",
    "starlette",
    "uvicorn",
    "jinja2",
    "sqlalchemy",
    "alembic",
    "pydantic",
    "numpy",
    "PIL",
    "pdqhash",
    "datasketch",
    "scipy",
    "av",
    "resiliparse",
    "fastwarc",
    "cryptography",
    "rich",
)


def imported_by(*args: str) -> set[str]:
    """Top-level packages imported by `python -m passerelle.cli.main ARGS`, from the
    interpreter's own import log."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "passerelle.cli.main", *args],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PASSERELLE_ENV": "dev"},
    )
    names = set()
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names


@pytest.mark.parametrize("args", [("--help",), ("bank", "--help"), ("scan", "--help")])
def test_help_imports_no_heavy_dependency(args: tuple[str, ...]) -> None:
    loaded = imported_by(*args)
    assert "click" in loaded  # the log was read
    heavy = sorted(name for name in HEAVY if name in loaded)
    if args == ("--help",):
        assert heavy == []
    else:
        # A subcommand's help loads its module, never the web stack, Spark or the models.
        assert not {"pyspark", "fastapi", "uvicorn", "trafilatura", "py3langid"} & set(heavy)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_list_says_what_each_command_says(name: str) -> None:
    command = load_command(name)
    assert command.name == name
    assert COMMANDS[name][2] == command.get_short_help_str(limit=1000)


def test_help_lists_every_command() -> None:
    output = subprocess.run(
        [sys.executable, "-m", "passerelle.cli.main", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    listed = [line.split()[0] for line in output.split("Commands:")[1].splitlines() if line.strip()]
    assert listed == sorted(COMMANDS)


def test_a_scan_with_a_current_index_loads_neither_the_database_layer_nor_video_nor_html(
    tmp_path: Path,
) -> None:
    """`scan ONE.jpg` on a SQLite instance whose index on disk is current reads the agency
    and the bank generation without SQLAlchemy, and opens only the index; once the banks
    change, the same command brings the index up to date (through the database layer)."""
    image = shared("pdq", "images", "aaa-orig.jpg")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PASSERELLE_")}
    env |= {"PASSERELLE_ENV": "dev", "PASSERELLE_DATA_DIR": str(tmp_path / "var")}

    def run(*args: str, importtime: bool = False) -> subprocess.CompletedProcess[str]:
        flags = ["-X", "importtime"] if importtime else []
        return subprocess.run(
            [sys.executable, *flags, "-m", "passerelle.cli.main", *args],
            capture_output=True,
            text=True,
            check=True,
            env=env,
            cwd=tmp_path,
        )

    bank = tmp_path / "bank.txt"
    bank.write_text(f"pdq {'0' * 64}\n")
    for step in (
        ("db", "upgrade"),
        ("agency", "add", "unite", "--name", "U", "--jurisdiction", "FR"),
        ("bank", "create", "connu"),
        ("bank", "import", "connu", str(bank)),
    ):
        run(*step)
    assert "connu" not in run("scan", str(image)).stdout  # builds the index once
    bank.write_text(f"pdq {PDQ.compute(image.read_bytes()).value}\n")
    run("bank", "import", "connu", str(bank))  # the banks moved on: the index is stale
    stale = run("scan", str(image), importtime=True)
    assert "connu" in stale.stdout
    assert "sqlalchemy" in loaded_by(stale)  # brought up to date from the database
    current = run("scan", str(image), importtime=True)
    assert "connu" in current.stdout
    loaded = loaded_by(current)
    assert "PIL" in loaded  # the log was read
    assert not {"sqlalchemy", "alembic", "av", "rich", "faiss", "fastapi"} & loaded
    # nor the HTML parsers (an image has no page to parse) nor the worker pool (one process)
    assert not {"lxml", "resiliparse", "multiprocessing"} & loaded


def test_a_scan_against_a_large_bank_loads_no_masked_arrays(tmp_path: Path) -> None:
    """With a bank large enough for the index's multi-index tables, finding the image's
    neighbours there does not import NumPy's masked arrays (`np.unique` does: tens of
    milliseconds of a one-image scan); the match is found."""
    image = shared("pdq", "images", "aaa-orig.jpg")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PASSERELLE_")}
    env |= {"PASSERELLE_ENV": "dev", "PASSERELLE_DATA_DIR": str(tmp_path / "var")}
    rng = random.Random(5)
    bank = tmp_path / "bank.txt"
    with bank.open("w") as out:
        out.write(f"pdq {PDQ.compute(image.read_bytes()).value}\n")
        out.writelines(f"pdq {rng.getrandbits(256):064x}\n" for _ in range(5000))
    for step in (
        ("db", "upgrade"),
        ("agency", "add", "unite", "--name", "U", "--jurisdiction", "FR"),
        ("bank", "create", "connu"),
        ("bank", "import", "connu", str(bank)),
        ("scan", str(image)),  # builds the index once
    ):
        subprocess.run(
            [sys.executable, "-m", "passerelle.cli.main", *step],
            capture_output=True,
            check=True,
            env=env,
            cwd=tmp_path,
        )
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "passerelle.cli.main", "scan", str(image)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=tmp_path,
    )
    assert "connu" in done.stdout
    modules = {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert "numpy.linalg" in modules  # the log was read
    assert "numpy.ma" not in modules


def loaded_by(done: subprocess.CompletedProcess[str]) -> set[str]:
    return {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
