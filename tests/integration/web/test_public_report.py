"""The public report form: open or closed, both languages, cases, refusals, rate limit, and
nothing kept about the person."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect, select

from passerelle.db.models import PublicReportRow
from passerelle.db.session import Database
from passerelle.settings import Settings
from passerelle.web.app import create_app
from tests.conftest import csrf_of, log_in


@pytest.fixture
def public(
    settings: Settings, sqlite_database: Database, agencies: dict[str, str]
) -> Iterator[TestClient]:
    opened = settings.model_copy(update={"public_agency": "agency-a", "public_reports_per_hour": 3})
    with TestClient(
        create_app(opened, sqlite_database),
        base_url="https://testserver",
        raise_server_exceptions=False,
    ) as client:
        yield client


def report(client: TestClient, path: str = "/signaler", **fields: str):  # type: ignore[no-untyped-def]
    token = csrf_of(client)
    data = {"csrf_token": token, "url": "https://exemple.test/propagande?utm_source=x"} | fields
    return client.post(path, data=data)


def test_the_form_is_closed_unless_configured(client: TestClient) -> None:
    assert client.get("/signaler").status_code == 404
    assert client.get("/report").status_code == 404


def test_french_and_english_forms(public: TestClient) -> None:
    french = public.get("/signaler")
    assert french.status_code == 200 and '<html lang="fr">' in french.text
    assert (
        "Signaler un contenu terroriste" in french.text
        and "ni nom ni adresse électronique" in french.text
    )
    english = public.get("/report")
    assert '<html lang="en">' in english.text and "Report terrorist content" in english.text


def test_a_report_becomes_a_public_case_once(public: TestClient, sqlite_database: Database) -> None:
    first = report(public, category="e", description="Vu sur un forum.")
    assert first.status_code == 200
    reference = re.search(r'data-testid="reference">(PSL-[A-Z2-9]{8})<', first.text)
    assert reference
    assert "CPRMV" in first.text and "0 800 005 696" in first.text
    english = report(public, "/report", url="https://EXEMPLE.test/propagande")
    assert "Thank you: your report was received" in english.text and "CPRMV" in english.text
    log_in(public, "analyst.a")
    queue = public.get("/queue?source=public")
    assert queue.text.count('data-case-url="') == 1  # one case for two reports of one URL
    with sqlite_database.unit_of_work() as uow:
        rows = [(r.case_id, r.url) for r in uow.session.scalars(select(PublicReportRow))]
        actions = [e.action for e in uow.audit.iter_all()]
    assert len(rows) == 2 and rows[0][0] == rows[1][0]
    assert rows[0][1] == "https://exemple.test/propagande"
    assert actions.count("public_report.received") == 2 and actions.count("case.opened") == 1


def test_bad_input_is_shown_next_to_the_field(public: TestClient) -> None:
    bad = report(public, url="ftp://exemple.test/x", description="garde ce texte")
    assert bad.status_code == 422
    assert "seules les URL http et https sont acceptées" in bad.text
    assert "garde ce texte" in bad.text
    assert report(public, category="z").status_code == 422
    assert report(public, description="x" * 2001).status_code == 422
    no_token = public.post("/signaler", data={"url": "https://exemple.test/"})
    assert no_token.status_code == 403


def test_the_rate_limit(public: TestClient) -> None:
    for number in range(3):
        assert report(public, url=f"https://exemple.test/{number}").status_code == 200
    limited = report(public, url="https://exemple.test/encore")
    assert limited.status_code == 429


def test_an_error_page_leads_the_public_back_to_the_form(public: TestClient) -> None:
    """A visitor has no dashboard: the error page offers the form again, in its language; a
    person of the unit still goes back to the dashboard."""
    for number in range(3):
        report(public, url=f"https://exemple.test/{number}")
    french = report(public, url="https://exemple.test/encore")
    english = report(public, "/report", url="https://exemple.test/again")
    assert (french.status_code, english.status_code) == (429, 429)
    assert (
        'href="/signaler" data-testid="back-to-form">Retour au formulaire de signalement</a>'
        in (french.text)
    )
    assert 'href="/report" data-testid="back-to-form">Back to the report form</a>' in english.text
    for page in (french, english, public.get("/nulle-part")):
        assert "tableau de bord" not in page.text and "dashboard" not in page.text
    log_in(public, "analyst.a")
    assert 'href="/">Retour au tableau de bord</a>' in public.get("/nulle-part").text


def test_nothing_identifies_the_person(public: TestClient, sqlite_database: Database) -> None:
    report(public)
    columns = {c["name"] for c in inspect(sqlite_database.engine).get_columns("public_reports")}
    assert columns == {
        "reference",
        "agency_id",
        "case_id",
        "url",
        "category",
        "description",
        "source_hash",
        "created_at",
    }
    with sqlite_database.unit_of_work() as uow:
        (source_hash,) = uow.session.scalars(select(PublicReportRow.source_hash)).all()
    assert source_hash and "testclient" not in source_hash and len(source_hash) == 32


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/page",
        "http://localhost:8000/admin",
        "http://intranet.local/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.5/",
        "http://[::1]/",
        "http://[2002:7f00:1::]/",  # 127.0.0.1 through 6to4
        "http://2130706433/",  # 127.0.0.1 as one number
        "http://0x7f.1/",
    ],
)
def test_an_address_off_the_public_web_is_refused_in_the_reporters_language(
    public: TestClient, sqlite_database: Database, url: str
) -> None:
    french = report(public, url=url)
    assert french.status_code == 422
    assert (
        "Cette adresse ne mène pas au Web public (réseau local ou privé)\u00a0: ne signalez que"
        " des pages publiques." in french.text
    )
    english = report(public, "/report", url=url)
    assert english.status_code == 422
    assert (
        "This address does not lead to the public web (a local or private network):"
        " please report only public pages." in english.text
    )
    with sqlite_database.unit_of_work() as uow:
        assert uow.session.scalars(select(PublicReportRow)).all() == []


def test_the_english_form_names_the_categories_in_english(public: TestClient) -> None:
    page = public.get("/report").text
    assert "incites the commission of terrorist offences" in page
    assert "category_a" not in page
