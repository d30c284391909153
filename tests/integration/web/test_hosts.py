"""The directory of hosting providers in the console: who may keep it, bad input, audit."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from passerelle.db.models import AuditEventRow
from passerelle.db.session import Database
from tests.conftest import log_in


def add(client: TestClient, token: str, **fields: str):  # type: ignore[no-untyped-def]
    form = {"domain": "exemple.fr", "name": "Exemple", "email": "abuse@exemple.fr"}
    form |= {"language": "fr", "csrf_token": token} | fields
    return client.post("/hosts", data=form, follow_redirects=False)


def hosts_of(database: Database, agency_id: str) -> list[tuple[str, str, str]]:
    with database.unit_of_work() as uow:
        return [(h.domain, h.email, h.language) for h in uow.referrals.hosts(agency_id)]


def audited(database: Database) -> list[str]:
    with database.unit_of_work() as uow:
        return list(uow.session.scalars(select(AuditEventRow.action).order_by(AuditEventRow.seq)))


@pytest.mark.parametrize("role", ["approver", "liaison", "admin"])
def test_keepers_add_a_provider_and_it_is_listed(
    client: TestClient, sqlite_database: Database, agencies: dict[str, str], role: str
) -> None:
    token = log_in(client, f"{role}.a")
    response = add(client, token, domain="Exemple.FR.", language="en")
    assert response.status_code == 303
    assert hosts_of(sqlite_database, agencies["a"]) == [("exemple.fr", "abuse@exemple.fr", "en")]
    assert audited(sqlite_database)[-1] == "host.added"
    page = client.get("/hosts")
    assert 'data-domain="exemple.fr"' in page.text
    assert "Hébergeurs" in page.text  # French by default


@pytest.mark.parametrize("role", ["analyst", "controller"])
def test_others_read_but_cannot_add(
    client: TestClient, sqlite_database: Database, agencies: dict[str, str], role: str
) -> None:
    token = log_in(client, f"{role}.a")
    assert 'data-testid="add-host"' not in client.get("/hosts").text
    assert add(client, token).status_code == 403
    assert hosts_of(sqlite_database, agencies["a"]) == []


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"domain": "pas un domaine"}, "domain", "Saisissez un nom de domaine"),
        ({"domain": ""}, "domain", "Saisissez un nom de domaine"),
        ({"email": "abuse-at-exemple"}, "email", "Saisissez une adresse électronique"),
        ({"language": "de"}, "language", "Choisissez le français ou l’anglais"),
    ],
)
def test_bad_input_is_shown_next_to_the_field_and_nothing_is_saved(
    client: TestClient,
    sqlite_database: Database,
    agencies: dict[str, str],
    fields: dict[str, str],
    field: str,
    message: str,
) -> None:
    token = log_in(client, "approver.a")
    response = add(client, token, **fields)
    assert response.status_code == 422
    assert message in response.text
    assert hosts_of(sqlite_database, agencies["a"]) == []
    assert "host.added" not in audited(sqlite_database)
    if field != "domain" and fields.get("domain") is None:
        assert 'value="exemple.fr"' in response.text  # what was typed is kept


def test_a_domain_already_listed_is_refused_next_to_the_field(
    client: TestClient, sqlite_database: Database, agencies: dict[str, str]
) -> None:
    token = log_in(client, "approver.a")
    assert add(client, token).status_code == 303
    again = add(client, token, email="autre@exemple.fr")
    assert again.status_code == 422
    assert "déjà dans l’annuaire" in again.text
    assert hosts_of(sqlite_database, agencies["a"]) == [("exemple.fr", "abuse@exemple.fr", "fr")]


def test_a_provider_is_updated_and_the_change_audited(
    client: TestClient, sqlite_database: Database, agencies: dict[str, str]
) -> None:
    token = log_in(client, "liaison.a")
    add(client, token)
    with sqlite_database.unit_of_work() as uow:
        (host,) = uow.referrals.hosts(agencies["a"])
    bad = client.post(
        f"/hosts/{host.id}",
        data={"csrf_token": token, "name": "X", "email": "nope", "language": "fr"},
        follow_redirects=False,
    )
    assert bad.status_code == 422
    assert hosts_of(sqlite_database, agencies["a"]) == [("exemple.fr", "abuse@exemple.fr", "fr")]
    good = client.post(
        f"/hosts/{host.id}",
        data={
            "csrf_token": token,
            "name": "Exemple SA",
            "email": "legal@exemple.fr",
            "language": "en",
        },
        follow_redirects=False,
    )
    assert good.status_code == 303
    assert hosts_of(sqlite_database, agencies["a"]) == [("exemple.fr", "legal@exemple.fr", "en")]
    with sqlite_database.unit_of_work() as uow:
        details = uow.session.scalars(
            select(AuditEventRow.details_json).where(AuditEventRow.action == "host.updated")
        ).one()
    assert json.loads(details)["email"] == "legal@exemple.fr"


def test_a_form_without_csrf_is_refused(
    client: TestClient, sqlite_database: Database, agencies: dict[str, str]
) -> None:
    log_in(client, "approver.a")
    response = client.post("/hosts", data={"domain": "exemple.fr", "email": "a@exemple.fr"})
    assert response.status_code == 403
    assert hosts_of(sqlite_database, agencies["a"]) == []
