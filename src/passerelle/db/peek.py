"""A glance at a SQLite database without SQLAlchemy: its agencies and the bank generation,
all that a scan needs when the match index on disk is current, so that `passerelle scan`
of a file starts without loading the ORM. Anything else (PostgreSQL, no such file or table,
a database being upgraded) answers None, and the caller takes the full path."""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import dataclass
from pathlib import Path

SQLITE_PREFIXES = ("sqlite:///", "sqlite+pysqlite:///")


@dataclass(frozen=True, slots=True)
class Glance:
    agencies: tuple[tuple[str, str], ...]  # (id, code) of every agency
    generation: int  # the bank generation (see BankGenerationRow)


def sqlite_path(url: str) -> Path | None:
    for prefix in SQLITE_PREFIXES:
        if url.startswith(prefix):
            database = url[len(prefix) :].split("?", 1)[0]
            return Path(database) if database and database != ":memory:" else None
    return None


def glance(url: str) -> Glance | None:
    """The agencies and the bank generation, read in one read-only transaction."""
    path = sqlite_path(url)
    if path is None or not path.is_file():
        return None
    try:
        with contextlib.closing(
            sqlite3.connect(
                f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30, isolation_level=None
            )
        ) as connection:
            connection.execute("BEGIN")
            agencies = connection.execute("SELECT id, code FROM agencies").fetchall()
            row = connection.execute(
                "SELECT generation FROM bank_generation WHERE id = 1"
            ).fetchone()
            connection.execute("COMMIT")
    except sqlite3.Error:
        return None
    return Glance(
        agencies=tuple((str(i), str(c)) for i, c in agencies),
        generation=int(row[0]) if row and row[0] is not None else 0,
    )
