"""An error nothing maps is logged under a reference, and the page or the JSON shows it."""

from __future__ import annotations

import logging
import re

import pytest
from fastapi.testclient import TestClient

from passerelle.core.errors import PasserelleError
from tests.conftest import log_in


def _explode() -> None:
    raise RuntimeError("internal detail 4242")


def _unmapped() -> None:
    raise PasserelleError("the agency's signing key does not open with this secret")


@pytest.mark.parametrize("locale", ["fr", "en"])
def test_a_500_page_shows_the_reference_that_was_logged(
    client: TestClient,
    agencies: dict[str, str],
    caplog: pytest.LogCaptureFixture,
    locale: str,
) -> None:
    token = log_in(client, "analyst.a")
    client.post("/locale", data={"locale": locale, "next": "/", "csrf_token": token})
    client.app.add_api_route("/boom", _explode)  # type: ignore[attr-defined]
    with caplog.at_level(logging.ERROR, logger="passerelle.web"):
        crashed = client.get("/boom")
    assert crashed.status_code == 500
    shown = re.search(
        r'data-testid="error-reference">[^<]*<code>([0-9a-f]{12})</code>', crashed.text
    )
    assert shown is not None, crashed.text
    label = {
        "fr": "Référence de cette erreur (à donner en signalant le problème)\u00a0:",
        "en": "Reference of this error (give it when you report the problem):",
    }[locale]
    assert label in crashed.text
    logged = [r for r in caplog.records if shown.group(1) in r.getMessage()]
    assert len(logged) == 1
    assert logged[0].exc_info is not None
    assert "internal detail 4242" in str(logged[0].exc_info[1])
    assert "internal detail 4242" not in crashed.text


@pytest.mark.parametrize(
    ("locale", "said"),
    [
        ("fr", "L’erreur a été consignée. Réessayez dans un instant."),
        ("en", "The error was logged. Try again in a moment."),
    ],
)
def test_a_500_in_a_partial_says_so_in_the_readers_language(
    client: TestClient, agencies: dict[str, str], locale: str, said: str
) -> None:
    token = log_in(client, "analyst.a")
    client.post("/locale", data={"locale": locale, "next": "/", "csrf_token": token})
    client.app.add_api_route("/boom", _explode)  # type: ignore[attr-defined]
    crashed = client.get("/boom", headers={"HX-Request": "true"})
    assert crashed.status_code == 500
    assert f"500 · {said} · " in crashed.text
    assert "internal error" not in crashed.text


def test_an_unmapped_passerelle_error_is_logged_and_referenced_in_the_api(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    client.app.add_api_route("/api/v1/boom", _unmapped)  # type: ignore[attr-defined]
    with caplog.at_level(logging.ERROR, logger="passerelle.web"):
        crashed = client.get("/api/v1/boom")
    assert crashed.status_code == 500
    error = crashed.json()["error"]
    assert error["code"] == "error"
    assert error["message"] == "internal error"
    assert re.fullmatch(r"[0-9a-f]{12}", error["reference"])
    assert any(error["reference"] in r.getMessage() for r in caplog.records)
    french = client.get("/api/v1/boom", headers={"Accept-Language": "fr-FR"})
    assert french.json()["error"]["message"] == "erreur interne"
