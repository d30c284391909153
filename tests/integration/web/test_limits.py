"""Nobody makes the server hold a large body: every route class has a limit, counted while the
body streams in; an announced length over it is 413 before anything is read; JSON nested
deeply enough to exhaust the parser is bad input (4xx), never a 500."""

from __future__ import annotations

import select
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from passerelle.db.engine import make_engine
from passerelle.db.migrate import upgrade
from passerelle.db.session import Database
from passerelle.exchange.signing import MAX_DOCUMENT_BYTES
from passerelle.web.limits import BodyLimits
from passerelle.web.security import LOCALE_COOKIE
from tests.conftest import csrf_of, log_in
from tests.servers import running_passerelle

LIMITS = BodyLimits()
NESTED = b"[" * 50_000 + b"]" * 50_000


@pytest.mark.parametrize(
    ("path", "limit"),
    [
        ("/api/v1/exchange/agreements", LIMITS.exchange),
        ("/api/v1/exchange/answers", LIMITS.exchange),
        ("/api/v1/me", LIMITS.api),
        ("/taxii2/api/collections/", LIMITS.api),
    ],
)
def test_api_bodies_over_their_limit_are_413_json(
    client: TestClient, path: str, limit: int
) -> None:
    response = client.post(path, content=b"x" * (limit + 1))
    assert response.status_code == 413
    # TAXII answers with its own error message resource.
    error = response.json() if path.startswith("/taxii2/") else response.json()["error"]
    assert error.get("code", error.get("error_code")) == "too_large"
    assert str(limit) in error.get("message", error.get("title"))


def test_a_body_announced_over_its_limit_is_refused_in_the_reader_s_language(
    client: TestClient,
) -> None:
    big = b"x" * (LIMITS.api + 1)
    english = client.post("/api/v1/me", content=big)
    assert english.json()["error"]["message"] == f"the request body is over {LIMITS.api} bytes"
    french = client.post("/api/v1/me", content=big, headers={"Accept-Language": "fr"})
    assert french.json()["error"]["message"] == (
        f"le corps de la requête dépasse {LIMITS.api} octets"
    )
    token = csrf_of(client)
    form = {"csrf_token": token, "username": "x", "password": "p" * (LIMITS.login + 1)}
    page = client.post("/login", data=form)
    assert page.status_code == 413
    assert "Ce qui a été envoyé dépasse la taille que cette page accepte." in page.text
    assert "request body" not in page.text
    client.cookies.set(LOCALE_COOKIE, "en")  # a visitor who chose English
    page = client.post("/login", data=form)
    assert "What was sent is larger than this page accepts." in page.text


def test_a_body_streamed_without_length_is_cut_at_the_limit(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield b"x" * (64 * 1024)

    response = client.post("/api/v1/exchange/agreements", content=chunks())
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"


@pytest.mark.parametrize("path", ["/signaler", "/report"])
def test_the_public_form_refuses_a_large_body_in_its_language(
    client: TestClient, settings_public: None, path: str
) -> None:
    token = csrf_of(client)
    response = client.post(
        path,
        data={"csrf_token": token, "url": "https://exemple.test/", "description": "é" * 40_000},
    )
    assert response.status_code == 413
    assert "Trop volumineux" in response.text


def test_console_forms_and_login_have_limits(client: TestClient, agencies: dict[str, str]) -> None:
    token = csrf_of(client)
    login = client.post(
        "/login", data={"csrf_token": token, "username": "x", "password": "p" * 10_000}
    )
    assert login.status_code == 413
    csrf = log_in(client, "analyst.a")
    response = client.post(
        "/account/tokens", data={"csrf_token": csrf, "name": "n" * (LIMITS.form + 1)}
    )
    assert response.status_code == 413
    assert "Trop volumineux" in response.text
    # Under the limit, the form still works.
    assert (
        client.post("/account/tokens", data={"csrf_token": csrf, "name": "ok"}).status_code == 200
    )


@pytest.mark.parametrize("path", ["/api/v1/exchange/agreements", "/api/v1/exchange/answers"])
def test_deeply_nested_json_is_refused_not_a_crash(client: TestClient, path: str) -> None:
    assert len(NESTED) < MAX_DOCUMENT_BYTES
    bare = client.post(path, content=NESTED)
    wrapped = client.post(
        path, content=b'{"payload": "' + b"[" * 50_000 + b'", "signature": "AA=="}'
    )
    for response in (bare, wrapped):
        assert 400 <= response.status_code < 500, response.text
        assert response.json()["error"]["message"]


@pytest.fixture
def settings_public(client: TestClient, agencies: dict[str, str]) -> None:
    """Open the public form to agency A (the app's settings are frozen: swap them)."""
    state = client.app.state.passerelle  # type: ignore[attr-defined]
    object.__setattr__(
        state, "settings", state.settings.model_copy(update={"public_agency": "agency-a"})
    )


# --- against a real server: the 413 comes before the body ----------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder: Path = tmp_path_factory.mktemp("limits")
    url = f"sqlite:///{folder / 'passerelle.db'}"
    secret = "limits-secret-0123456789-abcdefghijklmnopq"
    database = Database(make_engine(url), secret=secret)
    upgrade(database.engine)
    database.dispose()
    env = {
        "PASSERELLE_ENV": "dev",
        "PASSERELLE_DATABASE_URL": url,
        "PASSERELLE_DATA_DIR": str(folder / "var"),
        "PASSERELLE_SECRET_KEY": secret,
    }
    with running_passerelle(folder, "serve", env=env) as base:
        yield base


def _raw(base: str, head: bytes, body: Iterator[bytes] | None = None) -> tuple[bytes, int]:
    """Send a request by hand, reading any early answer between chunks; return the answer
    and how many bytes of body went out before the server answered or cut the connection."""
    parts = urlsplit(base)
    answer, sent = b"", 0
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80)) as sock:
        sock.settimeout(20)
        sock.sendall(head)
        try:
            for chunk in body or ():
                if select.select([sock], [], [], 0)[0]:
                    break  # the server answered before the end of the body
                sock.sendall(chunk)
                sent += len(chunk)
            while data := sock.recv(65536):  # the server closes after a 413
                answer += data
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server stopped reading and closed
    return answer, sent


def test_an_announced_length_over_the_limit_is_413_at_once(server: str) -> None:
    head = (
        b"POST /api/v1/exchange/agreements HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 400000000\r\n\r\n"
    )
    answer, _ = _raw(server, head)  # not one byte of the 400 MB is sent
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"too_large" in answer


def test_a_chunked_body_is_cut_when_it_passes_the_limit(server: str) -> None:
    head = (
        b"POST /api/v1/exchange/answers HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    block = b"x" * 65536

    def chunks() -> Iterator[bytes]:
        for _ in range(1024):  # 64 MiB, 256 times the limit
            yield b"%x\r\n" % len(block) + block + b"\r\n"
        yield b"0\r\n\r\n"

    answer, sent = _raw(server, head, chunks())
    # The server stopped reading long before the end: it answered 413 (or cut the connection
    # so fast that the answer was lost with it).
    assert sent < 16 * 1024 * 1024, sent
    assert not answer or answer.startswith(b"HTTP/1.1 413"), answer[:200]
