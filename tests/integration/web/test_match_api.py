"""POST /api/v1/match: signals or a file against the agency's banks, by API token, scoped to
the agency, audited by counts only; broken input is refused with its reason."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from passerelle.core.bank import EntryInput
from passerelle.core.signals.pdq import PDQ
from passerelle.core.taxonomy import Category, Labels, Tier
from passerelle.db.session import Database
from passerelle.services import banks
from passerelle.services.auth import create_api_token
from passerelle.services.lookup import MAX_SIGNALS
from passerelle.settings import Settings
from passerelle.web.app import create_app
from tests.shared import shared

IMAGE = shared("pdq", "images", "aaa-orig.jpg").read_bytes()
OTHER_SHA = "ab" * 32


def near(value: str, bits: int) -> str:
    number = int(value, 16)
    for bit in range(bits):
        number ^= 1 << (bit * 9)
    return f"{number:064x}"


@pytest.fixture
def tokens(sqlite_database: Database, agencies: dict[str, str]) -> dict[str, str]:
    """Agency A banks the test image (stand-in known content); tokens by username."""
    with sqlite_database.unit_of_work(write=True) as uow:
        banks.create_bank(uow, agency_code="agency-a", name="connu", actor="test")
        banks.add_entries(
            uow,
            agency_code="agency-a",
            bank_name="connu",
            entries=[
                EntryInput(
                    "pdq",
                    PDQ.compute(IMAGE).value,
                    Labels(category=Category.INCITES, tier=Tier.PROMOTIONAL),
                ),
                EntryInput("sha256", OTHER_SHA),
            ],
            actor="test",
        )
        secrets = {}
        for username in ("analyst.a", "analyst.b", "controller.a"):
            found = uow.users.find_credentials(username)
            assert found is not None
            secrets[username] = create_api_token(uow, user=found.user, name="t")[1]
        uow.commit()
    return secrets


def post(client: TestClient, token: str, body: object) -> tuple[int, dict[str, object]]:
    response = client.post(
        "/api/v1/match",
        content=json.dumps(body),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    return response.status_code, response.json()


def test_a_batch_of_signals_gets_each_its_matches(
    client: TestClient, tokens: dict[str, str], sqlite_database: Database
) -> None:
    stored = PDQ.compute(IMAGE).value
    status, body = post(
        client,
        tokens["analyst.a"],
        {
            "signals": [
                {"type": "pdq", "value": near(stored, 7)},
                {"type": "sha256", "value": OTHER_SHA.upper()},
                {"type": "md5", "value": "0" * 32},
            ]
        },
    )
    assert status == 200
    results = body["results"]
    assert isinstance(results, list)
    assert [(r["type"], len(r["matches"])) for r in results] == [
        ("pdq", 1),
        ("sha256", 1),
        ("md5", 0),
    ]
    found = results[0]["matches"][0]
    assert (found["bank"], found["distance"], found["threshold"]) == ("connu", 7.0, 31.0)
    assert found["labels"] == {"category": "a", "tier": "promotional", "tags": []}
    assert results[1]["value"] == OTHER_SHA
    with sqlite_database.unit_of_work() as uow:
        events = [e for e in uow.audit.iter_all() if e.action == "match.looked_up"]
    assert len(events) == 1
    # Counted, never the content: no hash value in the audit log.
    assert events[0].details == {
        "source": "signals",
        "calls": 1,
        "signals": 3,
        "by_type": {"md5": 1, "pdq": 1, "sha256": 1},
        "matched": 2,
        "generation": events[0].details["generation"],
    }
    assert stored not in json.dumps(events[0].details)


def test_a_file_is_fingerprinted_and_looked_up(client: TestClient, tokens: dict[str, str]) -> None:
    response = client.post(
        "/api/v1/match",
        content=IMAGE,
        headers={
            "Authorization": f"Bearer {tokens['analyst.a']}",
            "Content-Type": "application/octet-stream",
        },
    )
    assert response.status_code == 200
    by_type = {r["type"]: r for r in response.json()["results"]}
    assert set(by_type) == {"sha256", "md5", "pdq"}
    assert [m["distance"] for m in by_type["pdq"]["matches"]] == [0.0]


def test_another_agency_sees_none_of_these_banks(
    client: TestClient, tokens: dict[str, str]
) -> None:
    status, body = post(
        client, tokens["analyst.b"], {"signals": [{"type": "sha256", "value": OTHER_SHA}]}
    )
    assert status == 200
    assert body["results"][0]["matches"] == []  # type: ignore[index]


def test_a_new_entry_matches_at_once_without_a_restart(
    client: TestClient, tokens: dict[str, str], sqlite_database: Database
) -> None:
    fresh = "cd" * 32
    asked = {"signals": [{"type": "sha256", "value": fresh}]}
    assert post(client, tokens["analyst.a"], asked)[1]["results"][0]["matches"] == []  # type: ignore[index]
    with sqlite_database.unit_of_work(write=True) as uow:
        banks.add_entries(
            uow,
            agency_code="agency-a",
            bank_name="connu",
            entries=[EntryInput("sha256", fresh)],
            actor="test",
        )
        uow.commit()
    state = client.app.state.passerelle  # type: ignore[attr-defined]
    state.matchers._period = 0.0  # the next request looks at the generation again
    found = post(client, tokens["analyst.a"], asked)[1]["results"][0]["matches"]  # type: ignore[index]
    assert [m["value"] for m in found] == [fresh]


@pytest.mark.parametrize(
    ("signals", "reason"),
    [
        ([{"type": "pdq", "value": "zz" * 32}], "signals[0]: "),
        ([{"type": "sha256", "value": "ab" * 31}], "signals[0]: "),
        ([{"type": "md5", "value": "0" * 32}, {"type": "pdq", "value": "12"}], "signals[1]: "),
        ([{"type": "sonar", "value": "x"}], "signals[0]: unknown signal type 'sonar'"),
        ([], "no signal to look up"),
        ([{"type": "md5", "value": "0" * 32}] * (MAX_SIGNALS + 1), "too many signals: 1001"),
        ([{"type": "md5"}], "signals.0.value: missing"),
    ],
)
def test_broken_signals_are_refused_with_the_reason(
    client: TestClient, tokens: dict[str, str], signals: list[object], reason: str
) -> None:
    status, body = post(client, tokens["analyst.a"], {"signals": signals})
    assert status == 422
    assert body["error"]["code"] == "invalid_input"  # type: ignore[index]
    assert body["error"]["message"].startswith(reason)  # type: ignore[index]


def test_broken_json_is_refused(client: TestClient, tokens: dict[str, str]) -> None:
    response = client.post(
        "/api/v1/match",
        content=b"{not json",
        headers={
            "Authorization": f"Bearer {tokens['analyst.a']}",
            "Content-Type": "application/json",
        },
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_input"


def test_an_oversized_file_is_refused_with_413(client: TestClient, tokens: dict[str, str]) -> None:
    limit = client.app.state.passerelle.settings.match_max_bytes  # type: ignore[attr-defined]
    response = client.post(
        "/api/v1/match",
        content=b"\0" * (limit + 1),
        headers={
            "Authorization": f"Bearer {tokens['analyst.a']}",
            "Content-Type": "application/octet-stream",
        },
    )
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "too_large"
    assert str(limit) in error["message"].replace(",", "")


@pytest.mark.parametrize(
    ("language", "said"),
    [
        ("fr", "la requête dépasse la limite de 2\u202f097\u202f152 octets"),
        ("en", "the request is over the limit of 2,097,152 bytes"),
    ],
)
def test_a_request_over_its_limit_is_named_in_the_clients_language(
    client: TestClient, tokens: dict[str, str], language: str, said: str
) -> None:
    response = client.post(
        "/api/v1/match",
        content=b" " * (2 * 1024 * 1024 + 1),
        headers={
            "Authorization": f"Bearer {tokens['analyst.a']}",
            "Content-Type": "application/json",
            "Accept-Language": language,
        },
    )
    assert response.status_code == 413
    assert response.json()["error"]["message"] == said


def test_only_reviewers_and_only_with_a_token(client: TestClient, tokens: dict[str, str]) -> None:
    asked = {"signals": [{"type": "sha256", "value": OTHER_SHA}]}
    assert post(client, tokens["controller.a"], asked)[0] == 403
    assert post(client, "psl_nope", asked)[0] == 401


def test_the_endpoint_is_documented(client: TestClient) -> None:
    schema = client.get("/api/v1/openapi.json").json()
    operation = schema["paths"]["/api/v1/match"]["post"]
    assert set(operation["requestBody"]["content"]) == {
        "application/json",
        "application/octet-stream",
    }
    assert {"200", "413", "422", "401"} <= set(operation["responses"])
    asked = operation["requestBody"]["content"]["application/json"]["schema"]
    assert asked["properties"]["signals"]["maxItems"] == MAX_SIGNALS
    assert set(asked["properties"]["signals"]["items"]["required"]) == {"type", "value"}


def test_every_call_is_counted_also_those_answered_from_memory(
    settings: Settings, sqlite_database: Database, tokens: dict[str, str]
) -> None:
    asked = {"signals": [{"type": "sha256", "value": OTHER_SHA}]}
    with TestClient(create_app(settings, sqlite_database), base_url="https://testserver") as http:
        for _ in range(3):  # the first checks the matcher; the others find it in memory
            assert post(http, tokens["analyst.a"], asked)[0] == 200
    # leaving the client shuts the app down cleanly: the counts kept are written
    with sqlite_database.unit_of_work() as uow:
        events = [e.details for e in uow.audit.iter_all() if e.action == "match.looked_up"]
    assert sum(int(str(e["calls"])) for e in events) == 3
    assert sum(int(str(e["matched"])) for e in events) == 3


@pytest.mark.parametrize(
    ("language", "reason"),
    [
        (None, "too many signals: 1001, at most 1000 per request"),
        ("en-GB,en;q=0.9", "too many signals: 1001, at most 1000 per request"),
        ("fr-FR,fr;q=0.9", "trop d’empreintes\u00a0: 1001, au plus 1000 par requête"),
        ("fr-CA", "trop d’empreintes\u00a0: 1001, au plus 1000 par requête"),
    ],
)
def test_an_api_error_speaks_french_when_the_client_asks_for_it(
    client: TestClient, tokens: dict[str, str], language: str | None, reason: str
) -> None:
    headers = {"Authorization": f"Bearer {tokens['analyst.a']}"}
    if language:
        headers["Accept-Language"] = language
    asked = {"signals": [{"type": "md5", "value": "0" * 32}] * (MAX_SIGNALS + 1)}
    response = client.post("/api/v1/match", json=asked, headers=headers)
    assert response.status_code == 422
    assert response.json()["error"] == {"code": "invalid_input", "message": reason}


@pytest.mark.parametrize(
    ("language", "missing", "wrong_method", "invalid"),
    [
        (
            None,
            "nothing is served at this address",
            "this address does not take GET requests",
            "signals: missing",
        ),
        (
            "fr-FR,fr;q=0.9",
            "rien n’est servi à cette adresse",
            "cette adresse n’accepte pas les requêtes GET",
            "signals\u00a0: manquant",
        ),
    ],
)
def test_the_frameworks_own_api_errors_speak_the_clients_language(
    client: TestClient,
    tokens: dict[str, str],
    language: str | None,
    missing: str,
    wrong_method: str,
    invalid: str,
) -> None:
    headers = {"Authorization": f"Bearer {tokens['analyst.a']}"}
    if language:
        headers["Accept-Language"] = language
    nowhere = client.get("/api/v1/nulle-part", headers=headers)
    assert nowhere.status_code == 404
    assert nowhere.json()["error"] == {"code": "not_found", "message": missing}
    refused = client.get("/api/v1/match", headers=headers)
    assert refused.status_code == 405
    assert refused.json()["error"] == {"code": "method_not_allowed", "message": wrong_method}
    assert "POST" in refused.headers["Allow"]
    shapeless = client.post("/api/v1/match", json={}, headers=headers)
    assert shapeless.status_code == 422
    assert shapeless.json()["error"]["code"] == "invalid_input"
    assert invalid in shapeless.json()["error"]["message"]
