"""Partners' addresses go through the fetcher's address guard: loopback, private, link-local
and metadata addresses are refused (when added and when reached) unless the administrator's
allow-list opens their network; what a partner writes back is logged, never shown."""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi.testclient import TestClient

from passerelle.core.errors import InvalidInput
from passerelle.core.exchange import Partner
from passerelle.db.session import Database
from passerelle.exchange.client import ADDRESS, ANSWERED, PartnerError, pull_feed, push
from passerelle.exchange.signing import agency_key
from passerelle.fetch.guard import AddressGuard, parse_allow_list
from passerelle.services.exchange import add_partner, parse_base_url
from passerelle.settings import Settings
from passerelle.web.app import create_app
from tests.conftest import csrf_of, log_in
from tests.instances import TERMS

REPLY = "INTERNAL-ADMIN-PAGE: root password is hunter2"


class Refusing(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), RefusingHandler)
        self.requests = 0


class RefusingHandler(BaseHTTPRequestHandler):
    server: Refusing

    def log_message(self, *_: object) -> None:
        return

    def answer(self) -> None:
        self.server.requests += 1
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        body = REPLY.encode()
        self.send_response(500)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = answer


@pytest.fixture
def refusing() -> Iterator[Refusing]:
    server = Refusing()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def partner(base_url: str) -> Partner:
    return Partner("p1", "a1", "unite-qc", "Unité QC", base_url, "k", "liaison@qc.exemple")


def test_a_loopback_partner_is_refused_without_the_allow_list(refusing: Refusing) -> None:
    address = f"http://127.0.0.1:{refusing.server_address[1]}"
    with pytest.raises(PartnerError) as caught:
        push(partner(address), "/api/v1/exchange/agreements", b"{}", guard=AddressGuard())
    assert caught.value.reason == ADDRESS
    assert "127.0.0.1, a loopback address" in str(caught.value)
    assert refusing.requests == 0  # refused before any connection


@pytest.mark.parametrize(
    "address",
    ["http://169.254.169.254", "http://10.1.2.3:8000", "http://[2002:7f00:1::]:8000"],
)
def test_private_and_metadata_partners_are_refused_before_the_socket(address: str) -> None:
    key = Ed25519PrivateKey.generate()
    with pytest.raises(PartnerError) as caught:
        pull_feed(partner(address), key=key, subscriber="unite-fr", cursor=0, guard=AddressGuard())
    assert caught.value.reason == ADDRESS


def test_a_name_that_resolves_to_the_metadata_address_is_refused() -> None:
    def resolver(
        host: str, port: int
    ) -> Sequence[tuple[object, object, object, object, tuple[object, ...]]]:
        return [(None, None, None, None, ("169.254.169.254", port))]

    with pytest.raises(PartnerError) as caught:
        push(
            partner("https://partenaire.exemple"),
            "/x",
            b"{}",
            guard=AddressGuard(resolver=resolver),
        )
    assert caught.value.reason == ADDRESS
    assert "a cloud metadata address" in str(caught.value)


def test_a_partners_reply_is_logged_never_echoed(
    refusing: Refusing, caplog: pytest.LogCaptureFixture
) -> None:
    address = f"http://127.0.0.1:{refusing.server_address[1]}"
    guard = AddressGuard(parse_allow_list(["127.0.0.1/32"]))
    with caplog.at_level(logging.WARNING), pytest.raises(PartnerError) as caught:
        push(partner(address), "/api/v1/exchange/agreements", b"{}", guard=guard)
    assert (caught.value.reason, caught.value.status) == (ANSWERED, 500)
    assert str(caught.value) == "unite-qc answered HTTP 500"
    assert REPLY in caplog.text
    assert refusing.requests == 1


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("http://127.0.0.1:8000", "a loopback address"),
        ("http://169.254.169.254", "a cloud metadata address"),
        ("http://[2002:7f00:1::]", "a loopback address (embeds 127.0.0.1)"),
        ("http://localhost:8000", "a local name"),
        ("http://192.168.1.20", "a private address"),
    ],
)
def test_a_partners_address_is_checked_when_it_is_added(address: str, reason: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_base_url(address)
    assert str(caught.value) == (
        f"the partner's address is {reason}; only an administrator can allow such a network"
        " (PASSERELLE_PARTNER_ALLOW)"
    )
    assert caught.value.field == "base_url"


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("http://169.254.169.254", "une adresse de métadonnées du cloud"),
        ("http://[2002:7f00:1::]", "une adresse de bouclage (qui contient 127.0.0.1)"),
        ("http://localhost:8000", "un nom local"),
        ("http://192.168.1.20", "une adresse privée"),
    ],
)
def test_the_partner_form_says_why_an_address_is_refused_in_french(
    client: TestClient, agencies: dict[str, str], address: str, reason: str
) -> None:
    log_in(client, "liaison.a")
    form = {"code": "unite-qc", "name": "Unité QC", "base_url": address, "public_key": ""}
    page = client.post("/partners", data={**form, "csrf_token": csrf_of(client)})
    assert page.status_code == 422
    assert (
        f"l’adresse du partenaire est {reason}\u00a0; seul un administrateur peut autoriser"
        " un tel réseau (PASSERELLE_PARTNER_ALLOW)"
    ) in page.text


def test_the_allow_list_opens_a_network_for_partners() -> None:
    allowed = parse_allow_list(["127.0.0.1/32"])
    assert parse_base_url("http://127.0.0.1:8000/", allowed) == "http://127.0.0.1:8000"
    assert parse_base_url("https://partenaire.exemple.org") == "https://partenaire.exemple.org"


def test_the_console_shows_a_translated_reason_not_the_partners_reply(
    settings: Settings, sqlite_database: Database, agencies: dict[str, str], refusing: Refusing
) -> None:
    address = f"http://127.0.0.1:{refusing.server_address[1]}"
    allowed = settings.model_copy(update={"partner_allow": "127.0.0.1/32"})
    with sqlite_database.unit_of_work(write=True) as uow:
        agency_key(uow, agencies["a"], settings.secret_key)
        other = Ed25519PrivateKey.generate().public_key()
        raw = other.public_bytes(Encoding.Raw, PublicFormat.Raw)
        added = add_partner(
            uow,
            agency_id=agencies["a"],
            actor="test",
            code="unite-qc",
            name="Unité QC",
            base_url=address,
            public_key=base64.b64encode(raw).decode(),
            contact="liaison@qc.exemple",
            allowed=parse_allow_list(["127.0.0.1/32"]),
        )
        uow.commit()
    with TestClient(
        create_app(allowed, sqlite_database),
        base_url="https://testserver",
        raise_server_exceptions=False,
    ) as client:
        log_in(client, "liaison.a")
        token = csrf_of(client)
        page = client.post(
            f"/partners/{added.id}/agreements", data={**TERMS, "csrf_token": token}
        ).text
    assert "Non remis à unite-qc\u00a0: le partenaire l’a refusé (HTTP 500)" in page
    assert REPLY not in page and "hunter2" not in page
    assert refusing.requests == 1
