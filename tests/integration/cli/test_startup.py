"""The command line starts at once: `passerelle --help` imports none of the heavy
dependencies (they load only in the commands that need them), and its list of commands
says what each command's own help says."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from passerelle.cli.main import COMMANDS, load_command

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
