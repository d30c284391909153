"""The partners' endpoints refuse what they cannot trust, and say why."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

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
        ({}, 404, "no agency"),
        (signed(key, to="nulle-part"), 404, "no agency"),
        (signed(key, to="agency-b"), 403, "not a partner"),
        (signed(stranger), 401, "does not verify"),
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
    assert stranger.status_code == 403
    bad_terms = client.post("/api/v1/exchange/agreements", content=seal(document, key))  # type: ignore[arg-type]
    assert bad_terms.status_code == 422
    assert "the agreement's id is not a UUID" in bad_terms.text
    huge = client.post("/api/v1/exchange/answers", content=b" " * (300 * 1024))
    assert huge.status_code == 413 and "over" in huge.text  # refused while it streams in
    with sqlite_database.unit_of_work() as uow:
        assert uow.exchange.agreements(agencies["a"]) == []
