"""The transparency report page and its exports, from records made through the services."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from passerelle.db.session import Database
from passerelle.services import refer
from passerelle.services.auth import create_api_token
from tests.conftest import log_in
from tests.factories import make_cases, make_referral
from tests.shared import shared


@pytest.fixture
def records(sqlite_database: Database, agencies: dict[str, str]) -> None:
    images = [
        shared("pdq", "images", f"{n}.jpg").read_bytes()
        for n in ("aaa-orig", "blur-a-lot", "square-256x256")
    ]
    with sqlite_database.unit_of_work(write=True) as uow:
        cases = make_cases(uow, agency_code="agency-a", images=images)
        author = uow.users.find_credentials("analyst.a")
        assert author is not None
        referral = make_referral(uow, agency_code="agency-a", case_id=cases[0], author=author.user)
        refer.mark_sent(uow, viewer=author.user, referral_id=referral)
        make_cases(uow, agency_code="agency-b", images=images[:1])  # another agency: never counted
        uow.commit()


def test_the_page_shows_the_figures(client: TestClient, records: None) -> None:
    log_in(client, "controller.a")
    page = client.get("/reports")
    assert page.status_code == 200
    assert 'data-testid="figure-cases">3<' in page.text
    assert 'data-testid="figure-decisions">1<' in page.text
    assert 'data-testid="figure-sent">1<' in page.text
    assert "Dossiers par niveau" in page.text and "promotionnel" in page.text
    empty = client.get("/reports?start=2020-01-01&end=2020-12-31")
    assert 'data-testid="figure-cases">0<' in empty.text


def test_exports(client: TestClient, records: None) -> None:
    log_in(client, "analyst.a")
    data = json.loads(client.get("/reports/export.json").text)
    assert data["cases"] == 3 and data["terrorist_by_category"] == {"a": 1}
    assert data["referrals_by_kind"] == {"referral": 1} and data["referrals_sent"] == 1
    csv_text = client.get("/reports/export.csv").text
    assert csv_text.splitlines()[0] == "section,key,count"
    assert "cases_by_tier,promotional,3" in csv_text
    assert client.get("/reports/export.xml").status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        "?start=hier&end=2026-01-01",
        "?start=2026-02-01&end=2026-01-01",
        "?start=2000-01-01&end=2026-01-01",
    ],
)
def test_bad_periods_are_422(client: TestClient, records: None, query: str) -> None:
    log_in(client, "analyst.a")
    assert client.get("/reports" + query).status_code == 422


def test_the_report_publishes_the_audit_head(
    client: TestClient, records: None, sqlite_database: Database
) -> None:
    with sqlite_database.unit_of_work() as uow:
        head = str(uow.audit.anchor())
    log_in(client, "controller.a")  # the login is audited too: the head moves on
    with sqlite_database.unit_of_work() as uow:
        head = str(uow.audit.anchor())
    assert head.split(":")[0] != "0"
    page = client.get("/reports")
    assert f"<code>{head}</code>" in page.text
    assert "Tête du journal d’audit au moment de ce rapport" in page.text
    assert json.loads(client.get("/reports/export.json").text)["audit_head"] == head
    assert f"audit,head,{head}" in client.get("/reports/export.csv").text.splitlines()


def test_the_api_gives_the_audit_head_to_those_who_read_the_log(
    client: TestClient, sqlite_database: Database, agencies: dict[str, str]
) -> None:
    tokens = {}
    with sqlite_database.unit_of_work(write=True) as uow:
        for username in ("controller.a", "analyst.a"):
            found = uow.users.find_credentials(username)
            assert found is not None
            tokens[username] = create_api_token(uow, user=found.user, name="tête")[1]
        uow.commit()
    with sqlite_database.unit_of_work() as uow:
        head = uow.audit.anchor()
    answer = client.get(
        "/api/v1/audit/head", headers={"Authorization": f"Bearer {tokens['controller.a']}"}
    )
    assert answer.status_code == 200
    assert answer.json() == {"seq": head.seq, "mac": head.mac, "head": str(head)}
    refused = client.get(
        "/api/v1/audit/head", headers={"Authorization": f"Bearer {tokens['analyst.a']}"}
    )
    assert refused.status_code == 403
