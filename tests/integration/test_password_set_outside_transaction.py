"""A password an administrator sets (the console's "add a person" and "reset a password", the
CLI's `user add` and `user set-password`) is hashed before the write transaction opens: while
Argon2 works, another writer takes SQLite's write lock at once."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from passerelle.db.session import Database
from passerelle.services import passwords
from passerelle.settings import DEFAULT_SECRET_KEY
from tests.cli_runner import Cli
from tests.conftest import log_in

NEW_PASSWORD = "un-nouveau-mot-de-passe-sûr"


class ProbingHasher:
    """Argon2, but while it hashes, another connection tries to take the write lock (waiting
    at most 0.2 s): the outcome of each try is kept."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.real = passwords._HASHER
        self.writes: list[str] = []

    def hash(self, password: str) -> str:
        other = sqlite3.connect(self.path, timeout=0.2, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            self.writes.append("written")
        except sqlite3.OperationalError as exc:
            self.writes.append(str(exc))
        finally:
            other.close()
        return self.real.hash(password)

    def __getattr__(self, name: str) -> object:
        return getattr(self.real, name)


@pytest.fixture
def probe(sqlite_database: Database, monkeypatch: pytest.MonkeyPatch) -> ProbingHasher:
    path = str(sqlite_database.engine.url.database)
    hasher = ProbingHasher(path)
    monkeypatch.setattr(passwords, "_HASHER", hasher)
    return hasher


def user_id(database: Database, username: str) -> str:
    with database.unit_of_work() as uow:
        found = uow.users.find_credentials(username)
    assert found is not None
    return found.user.id


def add_in_console(client: TestClient, database: Database) -> int:
    csrf = log_in(client, "admin.a")
    form = {
        "csrf_token": csrf,
        "username": "nouvelle.a",
        "display_name": "Nouvelle",
        "roles": ["analyst"],
        "password": NEW_PASSWORD,
    }
    return client.post("/people", data=form, follow_redirects=False).status_code


def reset_in_console(client: TestClient, database: Database) -> int:
    csrf = log_in(client, "admin.a")
    person = user_id(database, "analyst.a")
    form = {"csrf_token": csrf, "password": NEW_PASSWORD}
    return client.post(f"/people/{person}/password", data=form, follow_redirects=False).status_code


@pytest.mark.parametrize("act", [add_in_console, reset_in_console], ids=["add", "reset"])
def test_the_console_hashes_a_password_outside_its_write_transaction(
    client: TestClient,
    sqlite_database: Database,
    agencies: dict[str, str],
    probe: ProbingHasher,
    act: Callable[[TestClient, Database], int],
) -> None:
    assert act(client, sqlite_database) == 303
    assert probe.writes == ["written"]


@pytest.mark.parametrize(
    "args",
    [
        ("user", "add", "nouvelle.a", "--agency", "agency-a", "--role", "analyst"),
        ("user", "set-password", "analyst.a"),
    ],
    ids=["add", "set-password"],
)
def test_the_cli_hashes_a_password_outside_its_write_transaction(
    tmp_path: Path,
    sqlite_database: Database,
    agencies: dict[str, str],
    probe: ProbingHasher,
    args: tuple[str, ...],
) -> None:
    env = {
        # The tests' databases seal the audit keys under the public dev key.
        "PASSERELLE_ENV": "dev",
        "PASSERELLE_SECRET_KEY": DEFAULT_SECRET_KEY,
        "PASSERELLE_DATA_DIR": str(tmp_path / "var"),
        "PASSERELLE_DATABASE_URL": str(sqlite_database.engine.url),
    }
    result = Cli(env)(*args, "--password-stdin", stdin=NEW_PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert probe.writes == ["written"]
