"""What jobs and services record for people to read is shown in the reader's language: a
failed sync in the partner's sync log, a failed sending on the referral and the dashboard,
what a re-check saw in the referral's history. Rows recorded before as English sentences are
shown as they were, marked as such."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from passerelle.core.exchange import Agreement, AgreementStatus, FeedPage, RefusedEntry, parse_terms
from passerelle.core.message import Message
from passerelle.db.models import SyncLogRow
from passerelle.db.session import Database
from passerelle.exchange.signing import new_key_pair
from passerelle.fetch.fetcher import SafeFetcher
from passerelle.fetch.guard import AddressGuard, parse_allow_list
from passerelle.jobs.runner import run_once
from passerelle.services import refer
from passerelle.services.exchange import add_partner, take_page
from passerelle.settings import Settings
from passerelle.web.app import create_app
from tests.conftest import csrf_of, log_in
from tests.servers import serving

LOOPBACK = parse_allow_list(["127.0.0.1/32"])


def free_port() -> int:
    """A loopback port nobody listens on (bound, then let go)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def in_language(client: TestClient, locale: str, path: str) -> str:
    client.post("/locale", data={"locale": locale, "next": "/", "csrf_token": csrf_of(client)})
    return client.get(path).text


@pytest.fixture
def console(settings: Settings, sqlite_database: Database) -> Iterator[TestClient]:
    """The console of agency-a, its partners allowed on loopback, its mail server a loopback
    port where nothing answers."""
    configured = settings.model_copy(
        update={
            "partner_allow": "127.0.0.1/32",
            "smtp_host": "127.0.0.1",
            "smtp_port": free_port(),
            "smtp_from": "unite@passerelle.test",
        }
    )
    app = create_app(configured, sqlite_database)
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as client:
        yield client


def partner_at(database: Database, agency_id: str, base_url: str) -> str:
    """A partner at `base_url` under an agreement in force."""
    now = datetime.now(UTC)
    with database.unit_of_work(write=True) as uow:
        partner = add_partner(
            uow,
            agency_id=agency_id,
            actor="test",
            code="unite-b",
            name="Unité B",
            base_url=base_url,
            public_key=new_key_pair("cle")[0],
            contact="",
            allowed=LOOPBACK,
        )
        terms = {
            "purpose": "Partage entre unités (test)",
            "categories": ["a"],
            "signal_types": ["pdq"],
            "retention_days": 30,
            "valid_from": "2026-01-01",
            "valid_until": "2030-01-01",
        }
        uow.exchange.add_agreement(
            Agreement(
                id=str(uuid.uuid4()),
                agency_id=agency_id,
                partner_id=partner.id,
                role="proposer",
                status=AgreementStatus.ACTIVE,
                terms=parse_terms(terms),
                created_at=now,
                changed_at=now,
            )
        )
        uow.commit()
    return partner.id


def test_a_failed_sync_is_logged_in_the_readers_language(
    console: TestClient, sqlite_database: Database, agencies: dict[str, str]
) -> None:
    partner = partner_at(sqlite_database, agencies["a"], f"http://127.0.0.1:{free_port()}")
    token = log_in(console, "liaison.a")
    console.get("/partners")  # the agency's signing key, made on the first view
    synced = console.post(f"/partners/{partner}/sync", data={"csrf_token": token})
    assert synced.status_code == 200
    french = in_language(console, "fr", "/partners")
    assert "unite-b injoignable\u00a0: ConnectError\u00a0; nouvel essai dans 1\u00a0min" in french
    english = in_language(console, "en", "/partners")
    assert "unite-b unreachable: ConnectError; next try in 1 min" in english
    assert "injoignable" not in english


def test_a_sync_logged_before_translation_is_shown_as_recorded_and_marked(
    console: TestClient, sqlite_database: Database, agencies: dict[str, str]
) -> None:
    partner = partner_at(sqlite_database, agencies["a"], f"http://127.0.0.1:{free_port()}")
    log_in(console, "liaison.a")
    console.get("/partners")
    console.post(f"/partners/{partner}/sync", data={"csrf_token": csrf_of(console)})
    with sqlite_database.engine.begin() as conn:  # as a row written before revision 0033
        conn.execute(
            update(SyncLogRow).values(detail="unite-b unreachable: ReadTimeout", detail_json=None)
        )
    page = in_language(console, "fr", "/partners")
    assert (
        '<span lang="en">unite-b unreachable: ReadTimeout</span>'
        ' <span class="muted">(enregistré en anglais, avant la traduction)</span>'
    ) in page


def test_an_entry_a_sync_left_out_is_named_in_the_readers_language(
    console: TestClient, sqlite_database: Database, agencies: dict[str, str]
) -> None:
    partner = partner_at(sqlite_database, agencies["a"], f"http://127.0.0.1:{free_port()}")
    refused = RefusedEntry("5", Message("malformed feed entry: %(error)s", {"error": "'value'"}))
    page = FeedPage("unite-b", "agency-a", 0, 5, (), datetime.now(UTC), refused=(refused,))
    with sqlite_database.unit_of_work(write=True) as uow:
        found = uow.exchange.get_partner(agencies["a"], partner)
        take_page(uow, partner=found, page=page, now=datetime.now(UTC))
        uow.commit()
    log_in(console, "liaison.a")
    french = in_language(console, "fr", "/partners")
    assert (
        "entrées écartées (1)\u00a0: entrée 5\u00a0: entrée de flux mal formée\u00a0: &#39;value&#39;"
        in french
    )
    english = in_language(console, "en", "/partners")
    assert "entries left out (1): entry 5: malformed feed entry: &#39;value&#39;" in english


def test_a_failed_sending_is_shown_in_the_readers_language(
    console: TestClient, referral_id: str
) -> None:
    token = log_in(console, "analyst.a")
    sent = console.post(f"/referrals/{referral_id}/send", data={"csrf_token": token})
    assert sent.status_code == 502
    assert "impossible de joindre le serveur de messagerie" in sent.text
    for path in (f"/referrals/{referral_id}", "/"):
        french = in_language(console, "fr", path)
        assert "impossible de joindre le serveur de messagerie 127.0.0.1:" in french, path
        english = in_language(console, "en", path)
        assert "cannot reach the mail server 127.0.0.1:" in english, path
        assert "impossible de joindre" not in english, path
    # The history tells it too, in the reader's language.
    assert "Échec de l’envoi\u00a0: impossible de joindre" in in_language(
        console, "fr", f"/referrals/{referral_id}"
    )


class Notice(BaseHTTPRequestHandler):
    """A host that took the content down softly: a notice where the content was."""

    def log_message(self, *_: object) -> None:
        return

    def do_GET(self) -> None:
        body = (
            "<html><body><h1>Contenu indisponible</h1><p>Ce contenu a été retiré par notre"
            " équipe de modération conformément à nos conditions d’utilisation.</p></body></html>"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_what_a_recheck_saw_is_told_in_the_readers_language(
    console: TestClient, sqlite_database: Database, referral_id: str
) -> None:
    with serving(Notice) as url:
        with sqlite_database.unit_of_work(write=True) as uow:
            author = uow.users.find_credentials("analyst.a")
            assert author is not None
            refer.mark_sent(uow, viewer=author.user, referral_id=referral_id)
            uow.session.execute(update_url(referral_id, url + "/page"))
            uow.commit()
        fetcher = SafeFetcher(AddressGuard(LOOPBACK))
        runs = [run.detail for run in run_once(sqlite_database, fetcher) if run.kind == "recheck"]
    assert "1 checked, 1 newly offline, 0 not reachable" in runs
    log_in(console, "analyst.a")
    french = in_language(console, "fr", f"/referrals/{referral_id}")
    assert "Le contenu a été constaté hors ligne\u00a0: HTTP 200, le contenu n’y est plus" in french
    english = in_language(console, "en", f"/referrals/{referral_id}")
    assert "The content was seen offline: HTTP 200, the content is no longer there" in english


def update_url(referral_id: str, url: str):  # type: ignore[no-untyped-def]
    from passerelle.db.models import ReferralRow

    return update(ReferralRow).where(ReferralRow.id == referral_id).values(url=url)


def test_a_partners_bank_says_where_it_comes_from_in_the_readers_language(
    console: TestClient, sqlite_database: Database, agencies: dict[str, str]
) -> None:
    from passerelle.services.exchange import _partner_bank

    partner_at(sqlite_database, agencies["a"], "")
    with sqlite_database.unit_of_work(write=True) as uow:
        (partner,) = uow.exchange.partners(agencies["a"])
        bank = _partner_bank(uow, partner)  # as the first page of its feed makes it
        uow.commit()
    log_in(console, "liaison.a")
    for path in ("/banks", f"/banks/{bank.id}"):
        french = in_language(console, "fr", path)
        assert "Partagée par Unité B (unite-b) dans le cadre d’un accord" in french, path
        english = in_language(console, "en", path)
        assert "Shared by Unité B (unite-b) under agreement" in english, path


def test_an_http_error_in_a_partial_is_in_the_readers_language(
    console: TestClient, agencies: dict[str, str]
) -> None:
    log_in(console, "analyst.a")
    headers = {"HX-Request": "true"}
    in_language(console, "fr", "/")
    french = console.get("/nulle-part", headers=headers)
    assert french.status_code == 404
    assert "Cette page n’existe pas, ou elle appartient à une autre agence." in french.text
    assert "Not Found" not in french.text
    in_language(console, "en", "/")
    english = console.get("/nulle-part", headers=headers)
    assert "This page does not exist, or it belongs to another agency." in english.text
