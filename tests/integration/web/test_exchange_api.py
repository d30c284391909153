"""The partners' endpoints refuse what they cannot trust, and say why."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from passerelle.db.session import Database
from passerelle.exchange.signing import (
    new_key_pair,
    new_nonce,
    open_private,
    request_headers,
    seal,
)
from passerelle.services.exchange import add_partner


def partner_of_a(database: Database, agencies: dict[str, str]) -> tuple[str, object]:
    public, sealed = new_key_pair("partenaire")
    with database.unit_of_work(write=True) as uow:
        add_partner(
            uow,
            agency_id=agencies["a"],
            actor="test",
            code="partenaire",
            name="P",
            base_url="",
            public_key=public,
            contact="",
        )
        uow.commit()
    return public, open_private(sealed, "partenaire")


def signed(key: object, *, to: str = "agency-a", when: datetime | None = None) -> dict[str, str]:
    return request_headers(
        key,
        subscriber="partenaire",
        publisher=to,  # type: ignore[arg-type]
        target="/api/v1/exchange/feed?cursor=0",
        now=when or datetime.now(UTC),
    )


def test_the_feed_answers_a_signed_partner(
    client: TestClient, sqlite_database: Database, agencies: dict[str, str]
) -> None:
    _, key = partner_of_a(sqlite_database, agencies)
    response = client.get("/api/v1/exchange/feed?cursor=0", headers=signed(key))
    assert response.status_code == 200
    payload = json.loads(response.json()["payload"])
    assert payload["publisher"] == "agency-a" and payload["entries"] == []


def test_the_feed_refuses_what_it_cannot_trust(
    client: TestClient, sqlite_database: Database, agencies: dict[str, str]
) -> None:
    _, key = partner_of_a(sqlite_database, agencies)
    _, stranger_sealed = new_key_pair("x")
    stranger = open_private(stranger_sealed, "x")
    cases = [
        ({}, 401, "not signed"),
        (signed(key, to="nulle-part"), 401, "the signature does not verify"),
        (signed(key, to="agency-b"), 401, "the signature does not verify"),
        (signed(stranger), 401, "the signature does not verify"),
        (signed(key, when=datetime.now(UTC) - timedelta(hours=1)), 401, "5 minutes"),
        (
            {k: v for k, v in signed(key).items() if k != "X-Passerelle-Signature"},
            401,
            "not signed",
        ),
    ]
    for headers, status, message in cases:
        response = client.get("/api/v1/exchange/feed?cursor=0", headers=headers)
        assert response.status_code == status, (headers, response.text)
        assert message in response.json()["error"]["message"]
    assert client.get("/api/v1/exchange/feed?cursor=-1", headers=signed(key)).status_code == 422


def test_a_proposal_must_be_signed_by_a_partner(
    client: TestClient, sqlite_database: Database, agencies: dict[str, str]
) -> None:
    _, key = partner_of_a(sqlite_database, agencies)
    document = {
        "schema": "passerelle-agreement/2",
        "id": "not-a-uuid",
        "from": "partenaire",
        "to": "agency-a",
        "terms": {},
        "issued_at": datetime.now(UTC).isoformat(),
        "nonce": new_nonce(),
    }
    garbage = client.post("/api/v1/exchange/agreements", content=b"bonjour")
    assert garbage.status_code == 401 and "not a signed envelope" in garbage.text
    unknown = dict(document, **{"from": "inconnu"})
    stranger = client.post("/api/v1/exchange/agreements", content=seal(unknown, key))  # type: ignore[arg-type]
    assert stranger.status_code == 401
    bad_terms = client.post("/api/v1/exchange/agreements", content=seal(document, key))  # type: ignore[arg-type]
    assert bad_terms.status_code == 422
    assert "the agreement's id is not a UUID" in bad_terms.text
    huge = client.post("/api/v1/exchange/answers", content=b" " * (300 * 1024))
    assert huge.status_code == 413 and "over" in huge.text  # refused while it streams in
    with sqlite_database.unit_of_work() as uow:
        assert uow.exchange.agreements(agencies["a"]) == []


def _envelope(payload: dict[str, str], signature: str = "AA==") -> bytes:
    return json.dumps({"payload": json.dumps(payload), "signature": signature}).encode()


@pytest.mark.parametrize("path", ["/api/v1/exchange/agreements", "/api/v1/exchange/answers"])
def test_nobody_learns_agencies_or_partnerships_before_a_signature_verifies(
    client: TestClient,
    sqlite_database: Database,
    agencies: dict[str, str],
    caplog: pytest.LogCaptureFixture,
    path: str,
) -> None:
    """An agency that is not here, a sender that is not its partner and a real partner whose
    signature does not hold get the same answer; the operators' log says which it was."""
    partner_of_a(sqlite_database, agencies)
    _, other_sealed = new_key_pair("x")
    forged = seal({"from": "partenaire", "to": "agency-a"}, open_private(other_sealed, "x"))
    bodies = {
        "no agency 'nulle-part' here": _envelope({"to": "nulle-part", "from": "partenaire"}),
        "'zzz' is not a partner of agency-a": _envelope({"to": "agency-a", "from": "zzz"}),
        "'agency-b' is not a partner of agency-a": _envelope(
            {"to": "agency-a", "from": "agency-b"}
        ),
        "does not verify with the partner's key": forged,
        "the partner's bad signature": _envelope({"to": "agency-a", "from": "partenaire"}),
    }
    answers = set()
    with caplog.at_level(logging.WARNING, logger="passerelle.web.routes.exchange"):
        for body in bodies.values():
            response = client.post(path, content=body, headers={"Accept-Language": "fr"})
            answers.add((response.status_code, response.content))
    assert len(answers) == 1, answers
    status, content = answers.pop()
    assert status == 401
    assert json.loads(content) == {
        "error": {"code": "refused", "message": "la signature ne se vérifie pas"}
    }
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for reason in list(bodies)[:4]:
        assert reason in logged
    with sqlite_database.unit_of_work() as uow:
        assert uow.exchange.agreements(agencies["a"]) == []


def test_a_bad_base64_signature_is_said_in_our_words(
    client: TestClient, sqlite_database: Database, agencies: dict[str, str]
) -> None:
    partner_of_a(sqlite_database, agencies)
    body = _envelope({"to": "agency-a", "from": "partenaire"}, signature="A")
    french = client.post(
        "/api/v1/exchange/agreements", content=body, headers={"Accept-Language": "fr"}
    )
    assert french.status_code == 401
    assert french.json()["error"]["message"] == (
        "pas une enveloppe signée\u00a0: la signature n’est pas en base64"
    )
    english = client.post("/api/v1/exchange/answers", content=body)
    assert english.json()["error"]["message"] == (
        "not a signed envelope: the signature is not in base64"
    )
    not_json = client.post("/api/v1/exchange/answers", content=b'{"payload": 1')
    assert not_json.json()["error"]["message"] == "not a signed envelope: the body is not JSON"


def test_the_exchange_endpoints_document_no_status_that_names_who_exists(
    client: TestClient,
) -> None:
    """No 403 (not a partner) or 404 (no such agency) before a signature verifies: an answer
    names an agreement only once signed."""
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    documented = {
        (method, path): set(operation["responses"])
        for path, operations in paths.items()
        if path.startswith("/api/v1/exchange/")
        for method, operation in operations.items()
    }
    assert documented[("get", "/api/v1/exchange/feed")].isdisjoint({"403", "404"})
    assert documented[("post", "/api/v1/exchange/agreements")].isdisjoint({"403", "404"})
    assert {"401", "403", "404"} <= documented[("post", "/api/v1/exchange/answers")]
