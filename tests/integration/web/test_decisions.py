"""Deciding a case in the console: the form, its errors, the audit, the bank."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from passerelle.db.engine import WRITE_OPTION
from passerelle.db.session import Database
from passerelle.services import banks
from tests.conftest import log_in
from tests.factories import make_cases
from tests.shared import shared


@pytest.fixture
def case_id(sqlite_database: Database, agencies: dict[str, str]) -> str:
    image = shared("pdq", "images", "aaa-orig.jpg").read_bytes()
    with sqlite_database.unit_of_work(write=True) as uow:
        (case,) = make_cases(uow, agency_code="agency-a", images=[image])
        banks.create_bank(uow, agency_code="agency-a", name="benin", kind="negative", actor="test")
        uow.commit()
    return case


def decide(client: TestClient, token: str, case: str, **fields: str) -> object:
    form = {
        "csrf_token": token,
        "verdict": "terrorist",
        "category": "a",
        "legal_basis": "fr_code_penal_421_2_5",
        "exemption_checked": "true",
        "rationale": "Appel explicite à commettre des attentats, sans contexte.",
    } | fields
    return client.post(f"/cases/{case}/decision", data=form, follow_redirects=False)


def test_an_analyst_decides_and_adds_the_signals_to_a_bank(
    client: TestClient, sqlite_database: Database, case_id: str
) -> None:
    token = log_in(client, "analyst.a")
    response = decide(client, token, case_id, add_to_bank="connu")
    assert response.status_code == 303  # type: ignore[attr-defined]
    page = client.get(f"/cases/{case_id}").text
    assert 'data-testid="decision"' in page and "Art. 2(7)(a)" in page
    assert "Code pénal, art. 421-2-5" in page
    assert 'data-testid="decision-form"' not in page  # decided: no second form
    again = decide(client, token, case_id)
    assert again.status_code == 409  # type: ignore[attr-defined]
    with sqlite_database.unit_of_work() as uow:
        events = [(e.action, e.details) for e in uow.audit.iter_all()]
    decided = [d for action, d in events if action == "case.decided"]
    assert (
        decided and decided[0]["verdict"] == "terrorist" and decided[0]["exemption_checked"] is True
    )
    assert any(
        a == "bank.entries_added" and d.get("source") == f"decision:{case_id}" for a, d in events
    )


def test_a_bad_form_names_each_field_in_french_and_saves_nothing(
    client: TestClient, sqlite_database: Database, case_id: str
) -> None:
    token = log_in(client, "analyst.a")
    response = decide(
        client, token, case_id, category="", exemption_checked="", rationale="trop court"
    )
    assert response.status_code == 422  # type: ignore[attr-defined]
    text = response.text  # type: ignore[attr-defined]
    assert "choisissez la catégorie de l’art. 2(7), (a) à (e)" in text
    assert "rédigez la motivation (au moins 20 caractères)" in text
    assert "confirmez que les exemptions de l’art. 1(3) ont été vérifiées" in text
    assert "trop court" in text  # the value typed is kept
    with sqlite_database.unit_of_work() as uow:
        assert not any(e.action == "case.decided" for e in uow.audit.iter_all())


def test_journalism_cannot_go_to_a_positive_bank(client: TestClient, case_id: str) -> None:
    token = log_in(client, "analyst.a")
    fields = {"verdict": "not_terrorist", "category": "", "reason": "journalism", "legal_basis": ""}
    refused = decide(client, token, case_id, add_to_bank="connu", **fields)
    assert refused.status_code == 422  # type: ignore[attr-defined]
    assert "ne peut pas recevoir cette décision" in refused.text  # type: ignore[attr-defined]
    accepted = decide(client, token, case_id, add_to_bank="benin", **fields)
    assert accepted.status_code == 303  # type: ignore[attr-defined]
    assert "journalisme" in client.get(f"/cases/{case_id}").text


def test_only_reviewers_decide(client: TestClient, case_id: str) -> None:
    token = log_in(client, "controller.a")
    assert 'data-testid="decision-form"' not in client.get(f"/cases/{case_id}").text
    assert decide(client, token, case_id).status_code == 403  # type: ignore[attr-defined]


def test_a_controller_recommends_lifting_a_measure(
    client: TestClient, sqlite_database: Database, case_id: str
) -> None:
    token = log_in(client, "analyst.a")
    decide(client, token, case_id)
    assert 'data-testid="recommend-form"' not in client.get(f"/cases/{case_id}").text
    refused = client.post(
        f"/cases/{case_id}/recommendations", data={"csrf_token": token, "text": "x" * 30}
    )
    assert refused.status_code == 403
    client.cookies.clear()
    token = log_in(client, "controller.a")
    short = client.post(
        f"/cases/{case_id}/recommendations", data={"csrf_token": token, "text": "court"}
    )
    assert short.status_code == 422 and "rédigez la recommandation" in short.text
    text = "La mesure paraît disproportionnée : le contenu relève de la critique politique."
    done = client.post(
        f"/cases/{case_id}/recommendations",
        data={"csrf_token": token, "text": text},
        follow_redirects=False,
    )
    assert done.status_code == 303
    page = client.get(f"/cases/{case_id}").text
    assert "Recommandation de lever la mesure" in page and "critique politique" in page
    with sqlite_database.unit_of_work() as uow:
        assert "case.lifting_recommended" in [e.action for e in uow.audit.iter_all()]


def test_a_refused_decision_builds_its_page_without_the_write_lock(
    client: TestClient, sqlite_database: Database, case_id: str
) -> None:
    """The case page shown again with the form's errors is read and rendered after the write
    transaction is given up: other writers do not wait for it."""
    token = log_in(client, "analyst.a")
    under_lock: list[str] = []

    @event.listens_for(sqlite_database.engine, "before_cursor_execute")
    def _seen(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if conn.get_execution_options().get(WRITE_OPTION):
            under_lock.append(" ".join(statement.split()[:2]))

    response = decide(client, token, case_id, rationale="trop court")
    event.remove(sqlite_database.engine, "before_cursor_execute", _seen)
    assert response.status_code == 422  # type: ignore[attr-defined]
    assert "trop court" in response.text  # type: ignore[attr-defined]
    assert under_lock == ["BEGIN IMMEDIATE", "SELECT agencies.id,"]
