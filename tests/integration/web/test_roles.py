"""Who may use which route: the roles of DESIGN §3 as a table, checked route by route and role by
role. Exposure to the material is limited to those whose work needs it: the queue, cases and
preserved content to analysts, approvers and the controller; referrals (an address and the
grounds, no content) also to liaison officers; administrators keep people, settings and banks.

The routes are enumerated from the app: a new route fails this test until it is in MATRIX."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from httpx import Response

from passerelle.db.session import Database
from passerelle.services.auth import create_api_token, hash_token
from passerelle.storage.content_store import EncryptedContentStore
from passerelle.web.app import ROUTERS
from passerelle.web.security import SESSION_COOKIE
from tests.conftest import csrf_of, log_in
from tests.factories import make_user
from tests.integration.web.test_isolation import fill, seed_objects

ROLES = ("analyst", "approver", "controller", "liaison", "admin")

# Who may: a set of roles, or a word for routes that no role governs.
PUBLIC = "public"  # anyone, logged in or not
SIGNED = "signed"  # a partner's signature (exchange) or a host's signed link: tested elsewhere
EVERYONE = frozenset(ROLES)
CASE_READERS = frozenset({"analyst", "approver", "controller"})
REVIEWERS = frozenset({"analyst", "approver"})
REFERRAL_READERS = frozenset({"analyst", "approver", "controller", "liaison"})
HOLDERS = frozenset({"approver", "liaison"})
AUDITORS = frozenset({"controller", "admin"})
PARTNER_READERS = frozenset({"liaison", "controller", "admin"})
LIAISONS = frozenset({"liaison"})
HOST_KEEPERS = frozenset({"approver", "liaison", "admin"})
ADMINS = frozenset({"admin"})
COLLECTION_READERS = frozenset({"analyst", "approver", "liaison"})
# Banks: everyone of the unit reads them (hashes and labels, no content); analysts, approvers
# and administrators add to them; administrators import, withdraw and reinstate (DESIGN §3).
BANK_READERS = EVERYONE
BANK_ADDERS = frozenset({"analyst", "approver", "admin"})

MATRIX: dict[tuple[str, str], frozenset[str] | str] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/api/docs"): PUBLIC,
    ("GET", "/api/v1/openapi.json"): PUBLIC,
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("POST", "/logout"): PUBLIC,
    ("POST", "/locale"): PUBLIC,
    ("GET", "/signaler"): PUBLIC,
    ("GET", "/report"): PUBLIC,
    ("POST", "/signaler"): PUBLIC,
    ("POST", "/report"): PUBLIC,
    ("GET", "/hote/{referral_id}"): SIGNED,
    ("POST", "/hote/{referral_id}"): SIGNED,
    ("GET", "/api/v1/exchange/feed"): SIGNED,
    ("POST", "/api/v1/exchange/agreements"): SIGNED,
    ("POST", "/api/v1/exchange/answers"): SIGNED,
    ("GET", "/"): EVERYONE,
    ("GET", "/account"): EVERYONE,
    ("POST", "/account/tokens"): EVERYONE,
    ("POST", "/account/protection"): EVERYONE,
    ("POST", "/account/tokens/{token_id}/revoke"): EVERYONE,
    ("GET", "/reports"): EVERYONE,  # figures only, no case
    ("GET", "/reports/export.{fmt}"): EVERYONE,
    ("GET", "/hosts"): EVERYONE,
    ("POST", "/hosts"): HOST_KEEPERS,
    ("POST", "/hosts/{host_id}"): HOST_KEEPERS,
    ("GET", "/audit"): AUDITORS,
    ("GET", "/audit/{seq}"): AUDITORS,
    ("GET", "/people"): AUDITORS,
    ("GET", "/people/{user_id}"): AUDITORS,
    ("POST", "/people"): ADMINS,
    ("POST", "/people/{user_id}/roles"): ADMINS,
    ("POST", "/people/{user_id}/deactivate"): ADMINS,
    ("POST", "/people/{user_id}/password"): ADMINS,
    ("POST", "/people/{user_id}/unlock"): ADMINS,
    ("GET", "/queue"): CASE_READERS,
    ("GET", "/queue/next"): CASE_READERS,
    ("GET", "/queue/count"): CASE_READERS,
    # The referrals list shows no content: kind, state, address, host, author and deadline.
    ("GET", "/referrals"): REFERRAL_READERS,
    ("POST", "/api/v1/match"): REVIEWERS,
    ("GET", "/search"): CASE_READERS,
    ("GET", "/cases/{case_id}"): CASE_READERS,
    ("GET", "/cases/{case_id}/content"): CASE_READERS,
    ("GET", "/cases/{case_id}/frame"): CASE_READERS,
    ("POST", "/cases/{case_id}/decision"): REVIEWERS,
    ("POST", "/cases/{case_id}/assignment"): REVIEWERS,
    ("POST", "/cases/{case_id}/notes"): CASE_READERS,
    # Liaison officers keep holds (DESIGN §3) without reading the case.
    ("POST", "/cases/{case_id}/observation"): HOLDERS,
    ("POST", "/cases/{case_id}/recommendations"): frozenset({"controller"}),
    ("POST", "/cases/{case_id}/hold"): HOLDERS,
    # The holds page shows no content: a case's reference, the hold's reason and author.
    ("GET", "/holds"): REFERRAL_READERS,
    ("POST", "/holds"): HOLDERS,
    ("POST", "/holds/{case_id}/lift"): HOLDERS,
    ("POST", "/complaints/{complaint_id}/decision"): REVIEWERS,
    ("POST", "/cases/{case_id}/referrals"): REVIEWERS,
    ("GET", "/referrals/{referral_id}"): REFERRAL_READERS,
    ("GET", "/referrals/{referral_id}/notice.{fmt}"): REFERRAL_READERS,
    ("POST", "/referrals/{referral_id}/approve"): frozenset({"approver"}),
    ("POST", "/referrals/{referral_id}/send"): REVIEWERS,
    ("POST", "/referrals/{referral_id}/sent"): REVIEWERS,
    ("GET", "/banks"): BANK_READERS,
    ("GET", "/banks/{bank_id}"): BANK_READERS,
    ("GET", "/banks/{bank_id}/export"): BANK_READERS,
    ("POST", "/banks/{bank_id}/entries"): BANK_ADDERS,
    ("POST", "/banks/{bank_id}/file"): BANK_ADDERS,
    ("POST", "/banks/{bank_id}/import"): ADMINS,
    ("POST", "/banks/{bank_id}/entries/{entry_id}/withdraw"): ADMINS,
    ("POST", "/banks/{bank_id}/withdrawals/{withdrawal_id}/reinstate"): ADMINS,
    ("GET", "/partners"): PARTNER_READERS,
    ("POST", "/partners"): LIAISONS,
    ("POST", "/partners/{partner_id}/sync"): LIAISONS,
    ("POST", "/partners/{partner_id}/agreements"): LIAISONS,
    ("POST", "/agreements/{agreement_id}/{action}"): LIAISONS,
    ("GET", "/agreements/{agreement_id}/document"): LIAISONS,
    ("GET", "/taxii2/"): EVERYONE,
    ("GET", "/taxii2/api/"): EVERYONE,
    ("GET", "/taxii2/api/collections/"): COLLECTION_READERS,
    ("GET", "/taxii2/api/collections/{collection_id}/"): COLLECTION_READERS,
    ("GET", "/taxii2/api/collections/{collection_id}/objects/"): COLLECTION_READERS,
    ("GET", "/taxii2/api/collections/{collection_id}/manifest/"): COLLECTION_READERS,
    ("GET", "/taxii2/api/collections/{collection_id}/objects/{object_id}/"): COLLECTION_READERS,
    (
        "GET",
        "/taxii2/api/collections/{collection_id}/objects/{object_id}/versions/",
    ): COLLECTION_READERS,
    ("GET", "/api/v1/me"): EVERYONE,
    ("GET", "/api/v1/agencies/{agency_id}"): EVERYONE,
    ("GET", "/api/v1/users"): AUDITORS,
    ("GET", "/api/v1/users/{user_id}"): AUDITORS,
    ("GET", "/api/v1/audit/events"): AUDITORS,
    ("GET", "/api/v1/audit/events/{seq}"): AUDITORS,
    ("GET", "/api/v1/audit/head"): AUDITORS,
}


def app_routes() -> set[tuple[str, str]]:
    return {
        (method, route.path)
        for router in ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods - {"HEAD"}
    } | {("GET", "/api/v1/openapi.json")}


def test_every_route_is_classified() -> None:
    routes = app_routes()
    assert sorted(routes - set(MATRIX)) == [], "classify these routes in MATRIX"
    assert sorted(set(MATRIX) - routes) == [], "these routes are gone: remove them from MATRIX"


def _sessions(database: Database) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """A console session and an API token (id, secret) for each role's person of agency A."""
    sessions, tokens = {}, {}
    with database.unit_of_work(write=True) as uow:
        for role in ROLES:
            found = uow.users.find_credentials(f"{role}.a")
            assert found is not None
            secret = secrets.token_urlsafe(32)
            expires = datetime.now(UTC) + timedelta(hours=1)
            uow.login_sessions.add(
                user_id=found.user.id, token_hash=hash_token(secret), expires_at=expires
            )
            sessions[role] = secret
            token, secret_token = create_api_token(uow, user=found.user, name="roles")
            tokens[role] = (token.id, secret_token)
        uow.commit()
    return sessions, tokens


def _denied(status: int, location: str) -> bool:
    """Refused: 401/403, a login redirect, or 404 where a service hides what exists."""
    return status in (401, 403, 404) or (status in (302, 303) and location.startswith("/login"))


# Forms complete enough that only the role can be the problem (an empty form is 422 first).
FORMS = {
    "/cases/{case_id}/decision": {
        "verdict": "not_terrorist",
        "reason": "journalism",
        "exemption_checked": "true",
        "rationale": "Un article de presse qui rend compte des faits, sans appel à agir.",
    },
    "/cases/{case_id}/observation": {"reason": "Sous observation par une unité partenaire."},
    "/cases/{case_id}/hold": {"until": "2099-01-01", "reason": "Procédure judiciaire en cours."},
    "/cases/{case_id}/recommendations": {"text": "Lever la mesure : le contenu a changé."},
    "/cases/{case_id}/notes": {"text": "Vérifier l’hébergeur avant d’envoyer."},
    "/holds": {"case": "{case_id}", "reason": "Sous observation par une unité partenaire."},
    "/banks/{bank_id}/entries": {"signal_type": "md5", "value": "0" * 32},
    "/banks/{bank_id}/entries/{entry_id}/withdraw": {"reason": "Ajoutée par erreur, retirée."},
}
QUERIES = {"/search": {"q": "exemple"}}  # the empty search box shows no case


def test_each_role_reaches_exactly_its_routes(
    client: TestClient,
    sqlite_database: Database,
    agencies: dict[str, str],
    store: EncryptedContentStore,
) -> None:
    objects, _ = seed_objects(sqlite_database, agencies, store)
    sessions, tokens = _sessions(sqlite_database)
    with sqlite_database.unit_of_work() as uow:
        other = uow.users.find_credentials("tous.a")
    assert other is not None
    # A person other than the viewer (anyone may see themselves; nobody changes their own
    # roles).
    values = objects.own | {"user_id": other.user.id}
    csrf = csrf_of(client)
    wrong: list[str] = []
    # Revoking the token that authenticates the API calls: last.
    revoke = ("POST", "/account/tokens/{token_id}/revoke")
    order = sorted(MATRIX, key=lambda key: key == revoke)
    for role in ROLES:
        client.cookies.set(SESSION_COOKIE, sessions[role])
        headers = {"Authorization": f"Bearer {tokens[role][1]}", "X-CSRF-Token": csrf}
        for method, path in order:
            allowed = MATRIX[(method, path)]
            if allowed in (PUBLIC, SIGNED):
                continue
            filled = {name: fill(value, values) for name, value in FORMS.get(path, {}).items()}
            form = {"csrf_token": csrf} | filled
            response = client.request(
                method,
                fill(path, values | {"token_id": tokens[role][0]}),
                headers=headers,
                data=form if method == "POST" else None,
                params=QUERIES.get(path),
                follow_redirects=False,
            )
            denied = _denied(response.status_code, response.headers.get("location", ""))
            assert response.status_code < 500, (role, method, path, response.text[:300])
            if denied == (role in allowed):
                wrong.append(f"{role} {method} {path}: {response.status_code}")
    assert wrong == []


def test_anonymous_visitors_reach_only_public_routes(
    client: TestClient,
    sqlite_database: Database,
    agencies: dict[str, str],
    store: EncryptedContentStore,
) -> None:
    objects, _ = seed_objects(sqlite_database, agencies, store)
    csrf = csrf_of(client)
    for (method, path), allowed in MATRIX.items():
        if allowed in (PUBLIC, SIGNED):
            continue
        response = client.request(
            method,
            fill(path, objects.own),
            data={"csrf_token": csrf} if method == "POST" else None,
            follow_redirects=False,
        )
        assert _denied(response.status_code, response.headers.get("location", "")), (
            method,
            path,
            response.status_code,
        )


def test_nobody_changes_their_own_roles_another_administrator_does(
    client: TestClient, sqlite_database: Database, agencies: dict[str, str]
) -> None:
    """An administrator who gave themselves a role that reads cases would undo "cases are
    never for administrators": refused (403, said in French, audited), the roles unchanged;
    another administrator of the unit may change them."""
    with sqlite_database.unit_of_work(write=True) as uow:
        make_user(uow, agency_code="agency-a", username="admin2.a", roles=("admin",))
        uow.commit()
    with sqlite_database.unit_of_work() as uow:
        admin = uow.users.find_credentials("admin.a")
    assert admin is not None
    me = admin.user.id

    def give_roles(username: str, roles: list[str]) -> Response:
        client.cookies.clear()
        form = {"csrf_token": log_in(client, username), "roles": roles}
        return client.post(f"/people/{me}/roles", data=form, follow_redirects=False)

    refused = give_roles("admin.a", ["admin", "analyst"])
    assert refused.status_code == 403
    assert (
        "Vous ne pouvez pas modifier vos propres rôles\u00a0: un autre administrateur doit le"
        " faire." in refused.text
    )
    assert client.get("/queue", follow_redirects=False).status_code == 403
    with sqlite_database.unit_of_work() as uow:
        assert {r.value for r in uow.users.get(me).roles} == {"admin"}
        event = list(uow.audit.iter_all())[-1]
    assert (event.action, event.actor, event.object_id) == (
        "user.roles_change_refused",
        "admin.a",
        me,
    )
    assert event.details["roles"] == ["admin", "analyst"]
    assert 'data-testid="own-roles"' in client.get(f"/people/{me}").text
    assert give_roles("admin2.a", ["admin", "controller"]).status_code == 303
    with sqlite_database.unit_of_work() as uow:
        assert {r.value for r in uow.users.get(me).roles} == {"admin", "controller"}


def test_liaison_officers_list_the_referrals_without_any_content(
    client: TestClient,
    sqlite_database: Database,
    agencies: dict[str, str],
    store: EncryptedContentStore,
) -> None:
    """The list, as each referral, gives a liaison officer addresses and grounds: no
    preview, thumbnail or text of the content, and no way to the case."""
    objects, _ = seed_objects(sqlite_database, agencies, store)
    log_in(client, "liaison.a")
    page = client.get("/referrals")
    assert page.status_code == 200
    referral = objects.own["referral_id"]
    assert f'href="/referrals/{referral}"' in page.text
    assert 'href="/referrals"' in page.text  # in the menu
    assert "<img" not in page.text and "/cases/" not in page.text
    assert 'href="/queue"' not in page.text
