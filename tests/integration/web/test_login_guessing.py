"""Against a real server: clients guessing the administrator's password from one address lock
out that address only — the administrator logs in from another — and public reports keep
being accepted meanwhile (passwords are checked outside the write transaction)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from passerelle.db.engine import make_engine
from passerelle.db.migrate import upgrade
from passerelle.db.session import Database
from tests.factories import DEFAULT_PASSWORD, make_agency, make_user
from tests.servers import running_passerelle


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder: Path = tmp_path_factory.mktemp("guessing")
    url = f"sqlite:///{folder / 'passerelle.db'}"
    secret = "guessing-secret-0123456789-abcdefghijklmnop"
    database = Database(make_engine(url), secret=secret)
    upgrade(database.engine)
    with database.unit_of_work(write=True) as uow:
        make_agency(uow, code="unite-fr")
        make_user(uow, agency_code="unite-fr", username="admin.fr", roles=("admin",))
        uow.commit()
    database.dispose()
    env = {
        "PASSERELLE_ENV": "dev",
        "PASSERELLE_DATABASE_URL": url,
        "PASSERELLE_DATA_DIR": str(folder / "var"),
        "PASSERELLE_SECRET_KEY": secret,
        "PASSERELLE_PUBLIC_AGENCY": "unite-fr",
        "PASSERELLE_PUBLIC_REPORTS_PER_HOUR": "1000",
        "PASSERELLE_LOGIN_MAX_FAILURES": "3",
    }
    with running_passerelle(folder, "serve", env=env) as base:
        yield base


def client_from(base: str, address: str) -> httpx.Client:
    """A browser on this loopback address (127.0.0.0/8 is all loopback)."""
    return httpx.Client(
        base_url=base, timeout=60, transport=httpx.HTTPTransport(local_address=address)
    )


def token(client: httpx.Client, path: str = "/login") -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert found is not None
    return found.group(1)


def try_login(client: httpx.Client, password: str) -> httpx.Response:
    return client.post(
        "/login",
        data={"username": "admin.fr", "password": password, "csrf_token": token(client)},
    )


def test_guessing_from_one_address_locks_that_address_only(server: str) -> None:
    problems: list[str] = []
    accepted: list[int] = []

    def guess(n: int) -> None:
        with client_from(server, "127.0.0.1") as client:
            for attempt in range(3):
                response = try_login(client, f"mauvais-mot-de-passe-{n}-{attempt}")
                if response.status_code != 401:
                    problems.append(f"guess: {response.status_code}")

    def report() -> None:
        with client_from(server, "127.0.0.1") as client:
            for n in range(8):
                response = client.post(
                    "/signaler",
                    data={
                        "url": f"https://exemple.test/page-{n}",
                        "category": "",
                        "description": "Un signalement de test.",
                        "csrf_token": token(client, "/signaler"),
                    },
                )
                accepted.append(response.status_code)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(4)]
    threads.append(threading.Thread(target=report))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert problems == []
    assert accepted == [200] * 8  # public reports kept flowing

    with client_from(server, "127.0.0.1") as here:
        locked = try_login(here, DEFAULT_PASSWORD)
    assert locked.status_code == 401
    assert "verrouillé jusqu’au" in locked.text  # told it is locked, and until when
    with client_from(server, "127.0.0.2") as elsewhere:
        response = try_login(elsewhere, DEFAULT_PASSWORD)
        assert response.status_code == 303, response.text
        assert elsewhere.get("/people").status_code == 200
