"""The console over HTTP: login, logout, CSRF, language, error pages, health, API docs."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.conftest import csrf_of, log_in
from tests.factories import DEFAULT_PASSWORD


def test_the_login_page_is_french_by_default(client: TestClient, agencies: dict[str, str]) -> None:
    page = client.get("/login")
    assert page.status_code == 200
    assert '<html lang="fr">' in page.text
    assert "<h1>Se connecter</h1>" in page.text
    assert "Identifiant" in page.text


def test_pages_need_a_login(client: TestClient, agencies: dict[str, str]) -> None:
    response = client.get("/audit?before=5", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/audit%3Fbefore%3D5"


def test_login_then_logout(client: TestClient, agencies: dict[str, str]) -> None:
    token = log_in(client, "analyst.a")
    cookie = client.cookies.get("passerelle_session")
    assert cookie
    dashboard = client.get("/")
    assert dashboard.status_code == 200
    assert "Unité agency-a" in dashboard.text
    out = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert client.get("/", follow_redirects=False).status_code == 303


def test_the_session_cookie_is_http_only(client: TestClient, agencies: dict[str, str]) -> None:
    token = csrf_of(client)
    response = client.post(
        "/login",
        data={"username": "analyst.a", "password": DEFAULT_PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    header = next(
        v
        for k, v in response.headers.multi_items()
        if k == "set-cookie" and v.startswith("passerelle_session=")
    )
    assert "HttpOnly" in header and "SameSite=lax" in header and "Path=/" in header


@pytest.mark.parametrize(
    ("username", "password"), [("analyst.a", "mauvais mot de passe"), ("inconnu", DEFAULT_PASSWORD)]
)
def test_login_failures_look_the_same(
    client: TestClient, agencies: dict[str, str], username: str, password: str
) -> None:
    token = csrf_of(client)
    response = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )
    assert response.status_code == 401
    assert "Identifiant inconnu ou mot de passe erroné." in response.text
    assert "passerelle_session" not in client.cookies


def test_a_safe_next_is_followed_and_an_unsafe_one_is_not(
    client: TestClient, agencies: dict[str, str]
) -> None:
    token = csrf_of(client)
    for target, expected in [
        ("/audit", "/audit"),
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
    ]:
        client.cookies.delete("passerelle_session")
        response = client.post(
            "/login",
            data={
                "username": "admin.a",
                "password": DEFAULT_PASSWORD,
                "csrf_token": token,
                "next": target,
            },
            follow_redirects=False,
        )
        assert response.headers["location"] == expected


@pytest.mark.parametrize("token", [None, "", "0" * 64, "forged"])
def test_a_missing_or_wrong_csrf_token_is_403_and_changes_nothing(
    client: TestClient, agencies: dict[str, str], token: str | None
) -> None:
    good = log_in(client, "analyst.a")
    data = {"name": "jeton"} | ({} if token is None else {"csrf_token": token})
    response = client.post("/account/tokens", data=data)
    assert response.status_code == 403
    assert "Accès refusé" in response.text
    page = client.get("/account")
    assert "Aucun jeton." in page.text
    ok = client.post("/account/tokens", data={"name": "jeton", "csrf_token": good})
    assert ok.status_code == 200
    assert "psl_" in ok.text


def test_the_csrf_token_is_also_accepted_as_the_htmx_header(
    client: TestClient, agencies: dict[str, str]
) -> None:
    token = log_in(client, "analyst.a")
    response = client.post(
        "/account/tokens", data={"name": "h"}, headers={"X-CSRF-Token": token, "HX-Request": "true"}
    )
    assert response.status_code == 200


def test_a_csrf_cookie_from_elsewhere_does_not_help(
    client: TestClient, agencies: dict[str, str]
) -> None:
    log_in(client, "analyst.a")
    client.cookies.set("passerelle_csrf", "planted-by-attacker")
    response = client.post(
        "/account/tokens", data={"name": "x", "csrf_token": "planted-by-attacker"}
    )
    assert response.status_code == 403


def test_login_itself_needs_the_csrf_token(client: TestClient, agencies: dict[str, str]) -> None:
    client.get("/login")
    response = client.post("/login", data={"username": "analyst.a", "password": DEFAULT_PASSWORD})
    assert response.status_code == 403
    assert "passerelle_session" not in client.cookies


def test_switching_language_is_kept_for_the_user(
    client: TestClient, agencies: dict[str, str]
) -> None:
    token = log_in(client, "analyst.a")
    assert "Tableau de bord" in client.get("/").text
    client.post("/locale", data={"locale": "en", "next": "/", "csrf_token": token})
    page = client.get("/")
    assert '<html lang="en">' in page.text and "<h1>Dashboard</h1>" in page.text
    # A new browser (no cookies) logging in as the same user gets English back.
    client.cookies.clear()
    log_in(client, "analyst.a")
    assert "<h1>Dashboard</h1>" in client.get("/").text
    token = csrf_of(client)
    client.post("/locale", data={"locale": "fr", "next": "/", "csrf_token": token})
    assert "<h1>Tableau de bord</h1>" in client.get("/").text


def test_an_unknown_language_is_422(client: TestClient, agencies: dict[str, str]) -> None:
    token = csrf_of(client)
    response = client.post("/locale", data={"locale": "de", "csrf_token": token})
    assert response.status_code == 422
    assert "langue inconnue &#39;de&#39;" in response.text


def test_anonymous_visitors_can_switch_language(
    client: TestClient, agencies: dict[str, str]
) -> None:
    token = csrf_of(client)
    client.post("/locale", data={"locale": "en", "next": "/login", "csrf_token": token})
    assert "<h1>Log in</h1>" in client.get("/login").text


@pytest.mark.parametrize(
    ("locale", "texts"),
    [
        (
            "fr",
            {
                403: "Accès refusé",
                404: "Page introuvable",
                422: "Saisie invalide",
                500: "Une erreur est survenue",
            },
        ),
        (
            "en",
            {
                403: "Access denied",
                404: "Page not found",
                422: "Invalid input",
                500: "Something went wrong",
            },
        ),
    ],
)
def test_error_pages_in_both_languages(
    client: TestClient, agencies: dict[str, str], locale: str, texts: dict[int, str]
) -> None:
    token = log_in(client, "analyst.a")
    client.post("/locale", data={"locale": locale, "next": "/", "csrf_token": token})
    responses = {
        403: client.get("/audit"),  # an analyst may not read the audit log
        404: client.get("/nulle-part"),
        422: client.get("/audit?before=zero"),
    }
    for status, response in responses.items():
        assert response.status_code == status
        assert texts[status] in response.text
        assert f'<html lang="{locale}">' in response.text

    def explode() -> None:
        raise RuntimeError("internal detail 4242")

    client.app.add_api_route("/boom", explode)  # type: ignore[attr-defined]
    crashed = client.get("/boom")
    assert crashed.status_code == 500
    assert texts[500] in crashed.text
    assert "internal detail 4242" not in crashed.text


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}


def test_readiness_fails_on_an_unmigrated_database(settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from passerelle.db.engine import make_engine
    from passerelle.db.session import Database
    from passerelle.web.app import create_app

    app = create_app(settings, Database(make_engine(f"sqlite:///{tmp_path / 'empty.db'}")))
    with TestClient(app) as fresh:
        response = fresh.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "not migrated"}


def test_api_docs_use_only_local_assets(client: TestClient) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources, page.text
    for source in sources:
        assert source.startswith("/"), source
        assert client.get(source).status_code == 200
    schema = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/me" in schema["paths"]
    assert "/taxii2/" in schema["paths"]
    # The machine interfaces only: the API and TAXII, never a console page.
    assert [p for p in schema["paths"] if not p.startswith(("/api/v1/", "/taxii2/"))] == []


def test_no_page_refers_to_another_host(client: TestClient, agencies: dict[str, str]) -> None:
    log_in(client, "admin.a")
    for path in ("/login", "/", "/audit", "/people", "/account", "/api/docs"):
        html = client.get(path).text
        assert not re.search(r'(?:src|href|action)="(?:https?:)?//', html), path
