"""The review queue and the case page over HTTP."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from passerelle.db.session import Database
from tests.conftest import log_in
from tests.factories import make_cases
from tests.shared import shared

IMAGES = ["aaa-orig", "blur-a-lot", "square-256x256"]


@pytest.fixture
def cases(sqlite_database: Database, agencies: dict[str, str]) -> list[str]:
    images = [shared("pdq", "images", f"{name}.jpg").read_bytes() for name in IMAGES]
    with sqlite_database.unit_of_work(write=True) as uow:
        ids = make_cases(uow, agency_code="agency-a", images=images)
        make_cases(uow, agency_code="agency-b", images=images[:1])
        uow.commit()
    return ids


def test_the_queue_lists_the_cases_by_score(client: TestClient, cases: list[str]) -> None:
    log_in(client, "analyst.a")
    page = client.get("/queue")
    assert page.status_code == 200
    assert "3 dossiers" in page.text
    positions = [page.text.index(f"/cases/{case_id}") for case_id in cases]
    assert positions == sorted(positions)  # best score first
    assert "promotionnel" in page.text
    assert 'hx-trigger="every 15s"' in page.text


@pytest.mark.parametrize(
    ("query", "count"),
    [
        ("", 3),
        ("?tier=promotional", 3),
        ("?tier=crisis", 0),
        ("?bank=connu", 3),
        ("?bank=autre", 0),
        ("?source=public", 0),
        ("?status=any", 3),
        ("?status=closed", 0),
    ],
)
def test_filters_and_the_live_count(
    client: TestClient, cases: list[str], query: str, count: int
) -> None:
    log_in(client, "analyst.a")
    counted = client.get("/queue/count" + query)
    assert counted.status_code == 200
    expected = f"{count} dossier" if count <= 1 else f"{count} dossiers"
    assert counted.text.strip() == expected
    page = client.get("/queue" + query)
    assert page.text.count('data-case-url="') == count
    if not count:
        assert "Aucun dossier ne correspond à ces filtres." in page.text


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?status=gone", "unknown status"),
        ("?source=rumeur", "unknown source"),
        ("?offset=-1", "offset"),
    ],
)
def test_bad_filters_are_422(
    client: TestClient, cases: list[str], query: str, message: str
) -> None:
    log_in(client, "analyst.a")
    response = client.get("/queue" + query)
    assert response.status_code == 422
    assert message in response.text


def test_the_case_page_explains_the_case(client: TestClient, cases: list[str]) -> None:
    log_in(client, "analyst.a")
    page = client.get(f"/cases/{cases[0]}")
    assert page.status_code == 200
    assert "niveau : promotionnel" in page.text  # reasons are translated
    assert "correspondance PDQ exacte dans la banque « connu »" in page.text
    assert "Art. 2(7)(a)" in page.text and "banque propre" in page.text
    assert "case.opened" in page.text  # the history comes from the audit log
    assert "https://exemple.test/0.jpg" in page.text


def test_who_may_read_the_queue(client: TestClient, cases: list[str]) -> None:
    log_in(client, "controller.a")
    assert client.get("/queue").status_code == 200
    client.cookies.clear()
    log_in(client, "liaison.a")
    assert client.get("/queue").status_code == 403
    assert client.get(f"/cases/{cases[0]}").status_code == 403


def test_images_are_protected_until_the_analyst_chooses_otherwise(
    client: TestClient, sqlite_database: Database, agencies: dict[str, str], store
) -> None:  # type: ignore[no-untyped-def]
    image = shared("pdq", "images", "aaa-orig.jpg").read_bytes()
    with sqlite_database.unit_of_work(write=True) as uow:
        (case,) = make_cases(uow, agency_code="agency-a", images=[image], store=store)
        uow.commit()
    token = log_in(client, "analyst.a")
    page = client.get(f"/cases/{case}").text
    assert 'class="protected"' in page  # blurred and grey by default
    served = client.get(f"/cases/{case}/content")
    assert served.status_code == 200 and served.content == image
    assert served.headers["content-type"] == "image/jpeg"
    assert served.headers["cache-control"] == "no-store"
    assert "sandbox" in served.headers["content-security-policy"]
    client.post("/account/protection", data={"csrf_token": token, "reveal_media": "true"})
    assert 'class="protected revealed"' in client.get(f"/cases/{case}").text
    client.post("/account/protection", data={"csrf_token": token})
    assert 'class="protected"' in client.get(f"/cases/{case}").text


def test_the_case_shows_other_cases_on_the_same_content(
    client: TestClient, sqlite_database: Database, agencies: dict[str, str]
) -> None:
    image = shared("pdq", "images", "aaa-orig.jpg").read_bytes()
    # The same picture with bytes appended after its end: another file, the same PDQ hash.
    with sqlite_database.unit_of_work(write=True) as uow:
        first, second = make_cases(uow, agency_code="agency-a", images=[image, image + b"copie"])
        make_cases(uow, agency_code="agency-b", images=[image])  # another agency: never shown
        uow.commit()
    log_in(client, "analyst.a")
    page = client.get(f"/cases/{first}").text
    assert f"/cases/{second}" in page and "non décidé" in page
    assert page.count('href="/cases/') == 1


def test_a_legal_hold_is_set_from_the_case_page(
    client: TestClient, sqlite_database: Database, agencies: dict[str, str]
) -> None:
    image = shared("pdq", "images", "aaa-orig.jpg").read_bytes()
    with sqlite_database.unit_of_work(write=True) as uow:
        (case,) = make_cases(uow, agency_code="agency-a", images=[image])
        uow.commit()
    token = log_in(client, "analyst.a")
    assert "Poser le gel" not in client.get(f"/cases/{case}").text
    assert (
        client.post(
            f"/cases/{case}/hold",
            data={"csrf_token": token, "until": "2027-06-30", "reason": "enquête judiciaire"},
        ).status_code
        == 403
    )
    client.cookies.clear()
    token = log_in(client, "approver.a")
    bad = client.post(
        f"/cases/{case}/hold", data={"csrf_token": token, "until": "demain", "reason": "x"}
    )
    assert bad.status_code == 422 and "YYYY-MM-DD" in bad.text
    short = client.post(
        f"/cases/{case}/hold", data={"csrf_token": token, "until": "2027-06-30", "reason": "x"}
    )
    assert short.status_code == 422
    done = client.post(
        f"/cases/{case}/hold",
        data={"csrf_token": token, "until": "2027-06-30", "reason": "enquête judiciaire en cours"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert "Gel judiciaire jusqu&#39;au 2027-06-30" in client.get(f"/cases/{case}").text
