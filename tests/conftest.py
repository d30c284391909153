"""Shared fixtures: settings, a real database (SQLite file, and PostgreSQL when available),
the app and its test client, and logged-in users."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import OperationalError

from passerelle.db.engine import make_engine
from passerelle.db.migrate import upgrade
from passerelle.db.session import Database
from passerelle.settings import Settings
from passerelle.storage.content_store import EncryptedContentStore, derive_content_key
from passerelle.web.app import create_app
from tests.factories import DEFAULT_PASSWORD, make_agency, make_user

# The command line speaks the language of the environment (French when it names none); the
# tests assert its exact English output, in this process and in the commands they start,
# and the tests of its French set LANGUAGE themselves.
os.environ["LANGUAGE"] = "en"

POSTGRES_ENV = "PASSERELLE_TEST_POSTGRES_URL"
IN_CI = os.environ.get("CI") == "true"
TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"


def require_or_skip(reason: str) -> None:
    """In CI a missing service is a failure, never a silent skip."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: tests that need it must run)")
    pytest.skip(reason)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(env="test", secret_key=TEST_SECRET, data_dir=tmp_path / "var")


def _postgres_admin_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        require_or_skip(f"PostgreSQL not configured: set {POSTGRES_ENV} (bash .ci/run does)")
    return str(url)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    admin_url = make_url(_postgres_admin_url())
    name = "passerelle_test_" + secrets.token_hex(6)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        require_or_skip(f"PostgreSQL at {admin_url.render_as_string()} unusable: {exc}")
    yield admin_url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'var' / 'passerelle.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """Parametrised: every test using it runs on a SQLite file and on PostgreSQL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


def _migrated(url: str) -> Iterator[Database]:
    # The audit chain's keys are sealed under the public dev key here, as for every Database
    # the tests build without a secret, so that several of them can share one database.
    database = Database(make_engine(url))
    upgrade(database.engine)
    yield database
    database.dispose()


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    yield from _migrated(database_url)


@pytest.fixture
def sqlite_database(sqlite_url: str) -> Iterator[Database]:
    """For web tests, where the database engine is not the point."""
    yield from _migrated(sqlite_url)


@pytest.fixture
def agencies(sqlite_database: Database) -> dict[str, str]:
    """Two agencies, A and B, each with one user of every role; returns agency ids by letter."""
    ids = {}
    with sqlite_database.unit_of_work(write=True) as uow:
        for letter in ("a", "b"):
            agency = make_agency(uow, code=f"agency-{letter}")
            ids[letter] = agency.id
            for role in ("analyst", "approver", "controller", "liaison", "admin"):
                make_user(uow, agency_code=agency.code, username=f"{role}.{letter}", roles=(role,))
        uow.commit()
    return ids


@pytest.fixture
def store(settings: Settings) -> EncryptedContentStore:
    """The content store the app of `client` reads."""
    return EncryptedContentStore(settings.content_dir, derive_content_key(settings.secret_key))


@pytest.fixture
def client(settings: Settings, sqlite_database: Database) -> Iterator[TestClient]:
    app = create_app(settings, sqlite_database)
    with TestClient(
        app, base_url="https://testserver", raise_server_exceptions=False
    ) as test_client:
        yield test_client


def csrf_of(client: TestClient) -> str:
    """Visit the login page once so that the browser holds a CSRF seed, and return the token."""
    page = client.get("/login")
    marker = 'name="csrf_token" value="'
    start = page.text.index(marker) + len(marker)
    return page.text[start : page.text.index('"', start)]


def log_in(client: TestClient, username: str, password: str = DEFAULT_PASSWORD) -> str:
    token = csrf_of(client)
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return token
