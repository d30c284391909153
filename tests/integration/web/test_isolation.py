"""Tenant isolation: a user of agency A gets 404 for every object of agency B, through every
route and API endpoint. The routes are enumerated from the app, so a new route with a path
parameter fails this test until its parameter is added to OBJECTS below."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select

from passerelle.core.bank import EntryQuery, EntryState, NewEntry
from passerelle.core.exchange import Agreement, AgreementStatus, parse_terms
from passerelle.core.ports import UnitOfWork
from passerelle.core.signals import Signal
from passerelle.core.taxonomy import Labels
from passerelle.db.models import AuditEventRow
from passerelle.db.session import Database
from passerelle.exchange.signing import new_key_pair
from passerelle.exchange.stix import NAMESPACE
from passerelle.services.auth import create_api_token
from passerelle.services.complaints import host_acts
from passerelle.services.exchange import add_partner
from passerelle.storage.content_store import EncryptedContentStore
from passerelle.web.app import ROUTERS
from tests.conftest import log_in
from tests.factories import make_cases, make_referral, make_user
from tests.shared import shared


@dataclass(frozen=True)
class Objects:
    """One object of each kind per agency, by path parameter name."""

    own: dict[str, str]
    other: dict[str, str]


def seed_objects(
    database: Database, agencies: dict[str, str], store: EncryptedContentStore
) -> tuple[Objects, str]:
    ids: dict[str, dict[str, str]] = {}
    api_secret = ""
    image = shared("pdq", "images", "aaa-orig.jpg").read_bytes()
    with database.unit_of_work(write=True) as uow:
        everyone = make_user(
            uow,
            agency_code="agency-a",
            username="tous.a",
            roles=("analyst", "approver", "controller", "liaison", "admin"),
        )
        _, api_secret = create_api_token(uow, user=everyone, name="isolation")
        for letter in ("a", "b"):
            agency_id = agencies[letter]
            owner = uow.users.find_credentials(f"analyst.{letter}")
            assert owner is not None
            token, _ = create_api_token(
                uow, user=owner.user if letter == "b" else everyone, name=f"t{letter}"
            )
            seq = uow.session.scalar(
                select(AuditEventRow.seq).where(AuditEventRow.agency_id == agency_id).limit(1)
            )
            case_id = make_cases(uow, agency_code=f"agency-{letter}", images=[image], store=store)[
                0
            ]
            author = everyone if letter == "a" else owner.user
            referral_id = make_referral(
                uow, agency_code=f"agency-{letter}", case_id=case_id, author=author
            )
            complaint = host_acts(
                uow,
                referral=uow.referrals.get(agency_id, referral_id),
                action="complain",
                text="Une réclamation de test, assez longue.",
            )
            assert complaint is not None
            ids[letter] = {
                "agency_id": agency_id,
                "user_id": owner.user.id,
                "seq": str(seq),
                "token_id": token.id,
                "case_id": case_id,
                "referral_id": referral_id,
                "fmt": "json",
                "complaint_id": complaint.id,
                "host_id": uow.referrals.hosts(agency_id)[0].id,
                **exchange_objects(uow, agency_id),
            }
        uow.commit()
    return Objects(own=ids["a"], other=ids["b"]), api_secret


def exchange_objects(uow: UnitOfWork, agency_id: str) -> dict[str, str]:
    """A partner (file drop) and an agreement proposed to it."""
    partner = add_partner(
        uow,
        agency_id=agency_id,
        actor="test",
        code="partenaire",
        name="Partenaire",
        base_url="",
        public_key=new_key_pair("cle")[0],
        contact="",
    )
    now = datetime.now(UTC)
    agreement = Agreement(
        id=str(uuid.uuid4()),
        agency_id=agency_id,
        partner_id=partner.id,
        role="receiver",
        status=AgreementStatus.PROPOSED,
        terms=parse_terms(
            {
                "purpose": "Un accord de test entre unités",
                "categories": ["a"],
                "signal_types": ["pdq"],
                "retention_days": 30,
                "valid_from": "2026-01-01",
                "valid_until": "2027-01-01",
            }
        ),
        created_at=now,
        changed_at=now,
    )
    uow.exchange.add_agreement(agreement)
    bank = uow.banks.get_by_name(agency_id, "connu")
    entry = next(iter(uow.banks.entries([bank.id])))
    # A second entry, withdrawn: the console reinstates it by its withdrawal's id.
    uow.banks.add_entries(bank.id, [NewEntry(Signal("md5", "0" * 32), Labels())])
    gone = next(e for e in uow.banks.entries([bank.id]) if e.signal.type == "md5")
    uow.banks.withdraw_entry(
        bank.id, gone.id, reason="Retirée pour le test.", withdrawn_by="test", now=now
    )
    withdrawal = uow.banks.find_entries(
        bank.id, EntryQuery(state=EntryState.WITHDRAWN), now=now, limit=1
    )[0]
    return {
        "bank_id": bank.id,
        "entry_id": entry.id,
        "withdrawal_id": str(withdrawal.withdrawal_id),
        "object_id": f"indicator--{entry.id}",
        "partner_id": partner.id,
        "agreement_id": agreement.id,
        "action": "decline",
        "collection_id": str(uuid.uuid5(NAMESPACE, f"collection:{bank.id}")),
    }


def path_params(route: APIRoute) -> set[str]:
    return set(re.findall(r"{(\w+)(?::\w+)?}", route.path))


# Path parameters that name no stored object (a file format): they cannot reach another agency.
NOT_OBJECTS = {"fmt"}


def object_routes(client: TestClient) -> list[APIRoute]:
    app_routes = list(client.app.routes)  # type: ignore[attr-defined]
    candidates = app_routes + [r for router in ROUTERS for r in router.routes]
    routes = [r for r in candidates if isinstance(r, APIRoute)]
    # /hote/... is reached with a signed link, not a login: tested in test_complaints.
    return [r for r in routes if path_params(r) - NOT_OBJECTS and not r.path.startswith("/hote/")]


def fill(path: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        path = path.replace("{" + name + "}", value)
    return path


def test_every_object_route_is_covered(
    client: TestClient,
    sqlite_database: Database,
    agencies: dict[str, str],
    store: EncryptedContentStore,
) -> None:
    objects, _ = seed_objects(sqlite_database, agencies, store)
    routes = object_routes(client)
    assert len(routes) >= 6
    for route in routes:
        unknown = path_params(route) - set(objects.other)
        assert not unknown, f"{route.path}: add {unknown} to the isolation test's objects"


@pytest.mark.parametrize("surface", ["console", "api"])
def test_objects_of_another_agency_are_404(
    client: TestClient,
    sqlite_database: Database,
    agencies: dict[str, str],
    store: EncryptedContentStore,
    surface: str,
) -> None:
    objects, api_secret = seed_objects(sqlite_database, agencies, store)
    csrf = log_in(client, "tous.a")
    headers = {"Authorization": f"Bearer {api_secret}"}
    checked = 0
    for route in object_routes(client):
        if route.path.startswith(("/api/", "/taxii2/")) != (surface == "api"):
            continue
        for method in sorted(route.methods - {"HEAD"}):
            data = {"csrf_token": csrf} if method != "GET" else None
            own = client.request(
                method,
                fill(route.path, objects.own),
                headers=headers,
                data=data,
                follow_redirects=False,
            )
            # The own object is reached: served, or refused for the person (403: four eyes), its
            # state (409) or the empty form (422) — never "not found".
            assert own.status_code in {200, 303, 403, 409, 422}, (
                route.path,
                method,
                own.status_code,
            )
            other = client.request(
                method,
                fill(route.path, objects.other),
                headers=headers,
                data=data,
                follow_redirects=False,
            )
            assert other.status_code == 404, (route.path, method, other.status_code)
            checked += 1
    assert checked >= 3


def test_lists_show_only_the_own_agency(
    client: TestClient,
    sqlite_database: Database,
    agencies: dict[str, str],
    store: EncryptedContentStore,
) -> None:
    objects, api_secret = seed_objects(sqlite_database, agencies, store)
    headers = {"Authorization": f"Bearer {api_secret}"}
    users = client.get("/api/v1/users", headers=headers).json()
    assert {u["agency_id"] for u in users} == {agencies["a"]}
    events = client.get("/api/v1/audit/events?limit=1000", headers=headers).json()
    assert events and all(e["seq"] != int(objects.other["seq"]) for e in events)
    log_in(client, "tous.a")
    people = client.get("/people").text
    assert "analyst.a" in people and "analyst.b" not in people


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer psl_nope", "Basic abc", "Token x"])
def test_the_api_needs_a_valid_token(client: TestClient, header: str | None) -> None:
    response = client.get("/api/v1/me", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.json() == {
        "error": {"code": "unauthenticated", "message": "a valid API token is required"}
    }
    french = client.get("/api/v1/me", headers={"Accept-Language": "fr-CA,fr;q=0.9"})
    assert french.json()["error"]["message"] == "un jeton d’API valide est requis"
