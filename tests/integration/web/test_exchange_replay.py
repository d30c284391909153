"""A signed answer captured between two agencies and posted again is refused as a replay: the
agreement does not move, and the refusal is in the receiving agency's audit log. Stale and
unversioned documents are refused by name."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from passerelle.core.exchange import AgreementStatus, parse_page
from passerelle.core.identity import Locale
from passerelle.db.session import Database
from passerelle.exchange.signing import new_nonce, request_headers, seal
from passerelle.services import exchange
from passerelle.web.history import readable
from passerelle.web.i18n import load_catalog
from tests.conftest import TEST_SECRET, log_in
from tests.factories import make_partners

TERMS = {
    "purpose": "Échange de signatures de contenus connus",
    "categories": "a,b",
    "signal_types": "sha256,pdq",
    "retention_days": 90,
    "valid_from": "2026-01-01",
    "valid_until": "2030-12-31",
}

NBSP = "\u00a0"


def _pair(database: Database, agencies: dict[str, str]) -> dict[str, Any]:
    """Agencies A and B of one instance as each other's partner, with their real keys."""
    with database.unit_of_work(write=True) as uow:
        keys = make_partners(uow, agency_ids=agencies, secret=TEST_SECRET)
        uow.commit()
    return dict(keys)


def _liaison(database: Database, username: str) -> Any:
    with database.unit_of_work() as uow:
        found = uow.users.find_credentials(username)
        assert found is not None
        return found.user


def _answer(database: Database, letter: str, agreement_id: str, action: str, key: Any) -> bytes:
    """`letter`'s liaison answers in its own copy; returns the signed envelope to send."""
    with database.unit_of_work(write=True) as uow:
        _, _, document = exchange.answer_agreement(
            uow,
            viewer=_liaison(database, f"liaison.{letter}"),
            agreement_id=agreement_id,
            action=action,
        )
        uow.commit()
    return seal(document, key)


def _status(database: Database, agency_id: str, agreement_id: str) -> AgreementStatus:
    with database.unit_of_work() as uow:
        return uow.exchange.get_agreement(agency_id, agreement_id).status


def _replay_events(database: Database, agency_id: str) -> list[dict[str, Any]]:
    with database.unit_of_work() as uow:
        events = uow.audit.list_for_agency(agency_id, limit=200)
    return [e.details | {"actor": e.actor} for e in events if e.action == "exchange.replay_refused"]


def _proposed_by_a(
    client: TestClient, database: Database, agencies: dict[str, str]
) -> tuple[dict[str, Any], Any]:
    """A and B partners; A's liaison proposes an agreement, posted to B: the keys, and the
    agreement as A holds it."""
    keys = _pair(database, agencies)
    with database.unit_of_work(write=True) as uow:
        agreement, document = exchange.propose_agreement(
            uow,
            viewer=_liaison(database, "liaison.a"),
            partner_id=uow.exchange.partner_by_code(agencies["a"], "agency-b").id,  # type: ignore[union-attr]
            terms=TERMS,
        )
        uow.commit()
    sent = client.post("/api/v1/exchange/agreements", content=seal(document, keys["a"]))
    assert sent.status_code == 201, sent.text
    return keys, agreement


def test_a_captured_suspension_posted_again_is_refused_and_audited(
    client: TestClient, sqlite_database: Database, agencies: dict[str, str]
) -> None:
    keys, agreement = _proposed_by_a(client, sqlite_database, agencies)
    accepted = _answer(sqlite_database, "b", agreement.id, "accept", keys["b"])
    assert client.post("/api/v1/exchange/answers", content=accepted).status_code == 200
    captured = _answer(sqlite_database, "b", agreement.id, "suspend", keys["b"])
    assert client.post("/api/v1/exchange/answers", content=captured).status_code == 200
    assert _status(sqlite_database, agencies["a"], agreement.id) is AgreementStatus.SUSPENDED
    resumed = _answer(sqlite_database, "b", agreement.id, "resume", keys["b"])
    assert client.post("/api/v1/exchange/answers", content=resumed).status_code == 200
    assert _status(sqlite_database, agencies["a"], agreement.id) is AgreementStatus.ACTIVE

    replayed = client.post("/api/v1/exchange/answers", content=captured)
    assert replayed.status_code == 409
    error = replayed.json()["error"]
    assert error["code"] == "replayed"
    assert error["message"] == (
        "refused: this signed document or request was already received (its nonce was seen):"
        " a replay"
    )
    assert _status(sqlite_database, agencies["a"], agreement.id) is AgreementStatus.ACTIVE
    nonce = json.loads(json.loads(captured)["payload"])["nonce"]
    (event,) = _replay_events(sqlite_database, agencies["a"])
    assert {k: event[k] for k in ("actor", "partner", "nonce")} == {
        "actor": "agency-b",
        "partner": "agency-b",
        "nonce": nonce,
    }
    # Why it was refused, read in the reader's language on the audit page.
    assert readable(event["reason"], lambda text: text) == error["message"]
    assert readable(event["reason"], load_catalog(Locale.FR).gettext) == (
        f"refusé{NBSP}: ce document ou cette demande signés ont déjà été reçus (leur nonce a"
        f" déjà été vu){NBSP}: un rejeu"
    )
    # Nothing of it reached agency B's log.
    assert _replay_events(sqlite_database, agencies["b"]) == []


def test_a_stale_or_unversioned_answer_is_refused(
    client: TestClient, sqlite_database: Database, agencies: dict[str, str]
) -> None:
    keys, agreement = _proposed_by_a(client, sqlite_database, agencies)
    old = datetime.now(UTC) - timedelta(minutes=10)
    stale = {
        "schema": "passerelle-agreement-answer/2",
        "id": agreement.id,
        "from": "agency-b",
        "to": "agency-a",
        "action": "decline",
        "at": old.isoformat(),
        "issued_at": old.isoformat(),
        "nonce": new_nonce(),
    }
    refused = client.post("/api/v1/exchange/answers", content=seal(stale, keys["b"]))
    assert refused.status_code == 409
    assert refused.json()["error"]["message"] == (
        f"refused: a stale signed document or request (it was issued at {old.isoformat()},"
        " more than 5 minutes ago; replayed?)"
    )
    assert len(_replay_events(sqlite_database, agencies["a"])) == 1
    # A partner whose client asks for French reads why in French.
    french = client.post(
        "/api/v1/exchange/answers",
        content=seal(stale, keys["b"]),
        headers={"Accept-Language": "fr-FR"},
    )
    assert french.status_code == 409
    assert french.json()["error"]["message"] == (
        f"refusé{NBSP}: un document ou une demande signés périmés (émis le {old.isoformat()},"
        f" il y a plus de 5 minutes{NBSP}; rejoué{NBSP}?)"
    )
    unversioned = {k: v for k, v in stale.items() if k not in ("issued_at", "nonce")}
    unversioned["schema"] = "passerelle-agreement-answer/1"
    old_format = client.post("/api/v1/exchange/answers", content=seal(unversioned, keys["b"]))
    assert old_format.status_code == 422
    assert old_format.json()["error"]["message"] == (
        "passerelle-agreement-answer/1 documents carry no time and nonce and are refused"
        " (replay protection); the partner must upgrade Passerelle"
    )
    assert _status(sqlite_database, agencies["a"], agreement.id) is AgreementStatus.PROPOSED


def test_a_feed_page_carries_the_publishers_audit_head_and_the_partner_keeps_it(
    client: TestClient, sqlite_database: Database, agencies: dict[str, str]
) -> None:
    _pair(sqlite_database, agencies)
    now = datetime.now(UTC)
    with sqlite_database.unit_of_work(write=True) as uow:
        b_seen_by_a = uow.exchange.partner_by_code(agencies["a"], "agency-b")
        a_seen_by_b = uow.exchange.partner_by_code(agencies["b"], "agency-a")
        assert b_seen_by_a is not None and a_seen_by_b is not None
        page = exchange.build_feed(
            uow, publisher_id=agencies["a"], subscriber=b_seen_by_a, cursor=0, now=now
        )
        head = str(uow.audit.anchor())
        document = page.as_dict()
        assert document["schema"] == "passerelle-feed/2"
        assert document["audit_head"] == head and len(document["nonce"]) == 32
        exchange.take_page(uow, partner=a_seen_by_b, page=parse_page(document), now=now)
        uow.commit()
    log_in(client, "liaison.b")
    shown = client.get("/partners").text
    assert f'data-testid="witnessed-head"><code>{head}</code>' in shown


def test_a_feed_request_sent_twice_is_refused_the_second_time(
    client: TestClient, sqlite_database: Database, agencies: dict[str, str]
) -> None:
    keys = _pair(sqlite_database, agencies)
    headers = request_headers(
        keys["b"],
        subscriber="agency-b",
        publisher="agency-a",
        target="/api/v1/exchange/feed?cursor=0",
        now=datetime.now(UTC),
    )
    first = client.get("/api/v1/exchange/feed?cursor=0", headers=headers)
    assert first.status_code == 200, first.text
    again = client.get("/api/v1/exchange/feed?cursor=0", headers=headers)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "replayed"
    assert [e["nonce"] for e in _replay_events(sqlite_database, agencies["a"])] == [
        headers["X-Passerelle-Nonce"]
    ]
    unsigned_nonce = dict(headers, **{"X-Passerelle-Nonce": new_nonce()})
    forged = client.get("/api/v1/exchange/feed?cursor=0", headers=unsigned_nonce)
    assert forged.status_code == 401  # the nonce is signed: changing it breaks the signature
