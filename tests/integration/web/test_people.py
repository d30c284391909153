"""People in the console: an administrator adds a person, changes roles, resets a password,
unlocks and deactivates — each audited, never across agencies, refused to everyone else."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from passerelle.db.session import Database
from tests.conftest import csrf_of, log_in
from tests.factories import DEFAULT_PASSWORD

NEW_PASSWORD = "un-nouveau-mot-de-passe-sûr"


def user_id(database: Database, username: str) -> str:
    with database.unit_of_work() as uow:
        found = uow.users.find_credentials(username)
    assert found is not None
    return found.user.id


def last_event(database: Database) -> tuple[str, str, dict[str, object]]:
    with database.unit_of_work() as uow:
        event = list(uow.audit.iter_all())[-1]
    return event.action, event.actor, event.details


def test_an_administrator_adds_a_person_and_changes_their_roles(
    client: TestClient, sqlite_database: Database, agencies: dict[str, str]
) -> None:
    csrf = log_in(client, "admin.a")
    form = {
        "csrf_token": csrf,
        "username": "nouvelle.a",
        "display_name": "Nouvelle Analyste",
        "roles": ["analyst"],
        "password": NEW_PASSWORD,
    }
    added = client.post("/people", data=form, follow_redirects=False)
    assert added.status_code == 303
    person = user_id(sqlite_database, "nouvelle.a")
    assert added.headers["location"] == f"/people/{person}"
    assert last_event(sqlite_database)[:2] == ("user.created", "admin.a")
    with sqlite_database.unit_of_work() as uow:
        assert uow.users.get(person).agency_id == agencies["a"]
    taken = client.post("/people", data=form)
    assert taken.status_code == 422 and "Cet identifiant est déjà pris." in taken.text
    changed = client.post(
        f"/people/{person}/roles",
        data={"csrf_token": csrf, "roles": ["analyst", "approver"]},
        follow_redirects=False,
    )
    assert changed.status_code == 303
    action, actor, details = last_event(sqlite_database)
    assert (action, actor) == ("user.roles_changed", "admin.a")
    assert details["before"] == ["analyst"] and details["after"] == ["analyst", "approver"]
    none = client.post(f"/people/{person}/roles", data={"csrf_token": csrf})
    assert none.status_code == 422 and "Choisissez au moins un rôle" in none.text


def test_reset_deactivate_and_the_administrator_keeps_their_own_access(
    client: TestClient, sqlite_database: Database, agencies: dict[str, str]
) -> None:
    csrf = log_in(client, "admin.a")
    analyst = user_id(sqlite_database, "analyst.a")
    short = client.post(f"/people/{analyst}/password", data={"csrf_token": csrf, "password": "x"})
    assert short.status_code == 422 and "au moins 12 caractères" in short.text
    reset = client.post(
        f"/people/{analyst}/password",
        data={"csrf_token": csrf, "password": NEW_PASSWORD},
        follow_redirects=False,
    )
    assert reset.status_code == 303
    assert last_event(sqlite_database)[:2] == ("user.password_set", "admin.a")
    gone = client.post(
        f"/people/{analyst}/deactivate", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert gone.status_code == 303
    assert last_event(sqlite_database)[:2] == ("user.disabled", "admin.a")
    with sqlite_database.unit_of_work() as uow:
        assert not uow.users.get(analyst).is_active
    me = user_id(sqlite_database, "admin.a")
    assert client.post(f"/people/{me}/deactivate", data={"csrf_token": csrf}).status_code == 422
    demoted = client.post(f"/people/{me}/roles", data={"csrf_token": csrf, "roles": ["analyst"]})
    assert demoted.status_code == 403


def test_an_administrator_unlocks_a_locked_out_person(
    client: TestClient, sqlite_database: Database, agencies: dict[str, str]
) -> None:
    token = csrf_of(client)
    for _ in range(5):  # the default threshold
        client.post(
            "/login",
            data={"csrf_token": token, "username": "analyst.a", "password": "pas le bon mot"},
        )
    locked = client.post(
        "/login",
        data={"csrf_token": token, "username": "analyst.a", "password": DEFAULT_PASSWORD},
    )
    assert locked.status_code == 401
    assert "verrouillé jusqu’au" in locked.text and "UTC" in locked.text
    csrf = log_in(client, "admin.a")
    analyst = user_id(sqlite_database, "analyst.a")
    page = client.get(f"/people/{analyst}")
    assert 'data-testid="locked-until"' in page.text
    unlocked = client.post(
        f"/people/{analyst}/unlock", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert unlocked.status_code == 303
    assert last_event(sqlite_database)[:2] == ("user.unlocked", "admin.a")
    assert 'data-testid="locked-until"' not in client.get(f"/people/{analyst}").text
    client.cookies.clear()
    log_in(client, "analyst.a")  # in again, from the same place


ACTIONS = [
    ("roles", {"roles": ["analyst"]}),
    ("deactivate", {}),
    ("password", {"password": NEW_PASSWORD}),
    ("unlock", {}),
]


@pytest.mark.parametrize(("action", "form"), ACTIONS)
def test_never_across_agencies_and_only_administrators(
    client: TestClient,
    sqlite_database: Database,
    agencies: dict[str, str],
    action: str,
    form: dict[str, object],
) -> None:
    other = user_id(sqlite_database, "analyst.b")
    own = user_id(sqlite_database, "analyst.a")
    csrf = log_in(client, "admin.a")
    across = client.post(f"/people/{other}/{action}", data={"csrf_token": csrf, **form})
    assert across.status_code == 404
    client.cookies.clear()
    csrf = log_in(client, "controller.a")
    refused = client.post(f"/people/{own}/{action}", data={"csrf_token": csrf, **form})
    assert refused.status_code == 403
    with sqlite_database.unit_of_work() as uow:
        assert uow.users.get(own).is_active and uow.users.get(other).is_active
    added = client.post(
        "/people",
        data={"csrf_token": csrf, "username": "x.a", "roles": ["admin"], "password": NEW_PASSWORD},
    )
    assert added.status_code == 403
