"""The review queue and the case page over HTTP."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from passerelle.core.bank import EntryInput
from passerelle.core.case import QueueFilters
from passerelle.core.content import Content
from passerelle.core.signals.pdq import hamming
from passerelle.core.signals.text import TEXT
from passerelle.core.taxonomy import Category, Labels, Tier
from passerelle.db.models import CaseRow, ItemRow
from passerelle.db.session import Database
from passerelle.scan import ScanOptions, scan
from passerelle.services.banks import add_entries, create_bank, load_matcher
from passerelle.services.ingest import queue_result
from passerelle.storage.content_store import EncryptedContentStore
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
        ("?status=gone", "statut inconnu &#39;gone&#39;"),
        ("?source=rumeur", "source inconnue &#39;rumeur&#39;"),
        ("?size=-1", "une page contient 25, 50, 100 ou 200 dossiers"),
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
    assert "niveau\u00a0: promotionnel" in page.text  # reasons are translated
    assert "correspondance PDQ exacte dans la banque «\u00a0connu\u00a0»" in page.text
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
    assert 'class="protected"' in page  # sharpened and grey by default
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
    assert bad.status_code == 422 and "AAAA-MM-JJ" in bad.text
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
    assert "Gel judiciaire jusqu’au 2027-06-30" in client.get(f"/cases/{case}").text


def test_the_case_shows_near_duplicate_images_with_their_distance(
    client: TestClient, sqlite_database: Database, agencies: dict[str, str]
) -> None:
    original = shared("pdq", "images", "aaa-orig.jpg").read_bytes()
    sharpened = shared("pdq", "images", "sharpen-a-lot.jpg").read_bytes()
    with sqlite_database.unit_of_work(write=True) as uow:
        cases = make_cases(uow, agency_code="agency-a", images=[original, sharpened])
        make_cases(uow, agency_code="agency-b", images=[sharpened])  # another agency: never shown
        uow.commit()
        hashes = {
            case: json.loads(
                uow.session.scalars(
                    select(ItemRow.signals_json)
                    .join(CaseRow, CaseRow.item_id == ItemRow.id)
                    .where(CaseRow.id == case)
                ).one()
            )["pdq"]
            for case in cases
        }
    first, second = cases
    distance = hamming(hashes[first], hashes[second])
    assert 0 < distance <= 31  # another file, a different hash, the same picture
    log_in(client, "analyst.a")
    page = client.get(f"/cases/{first}").text
    assert f"/cases/{second}" in page
    assert page.count('href="/cases/') == 1
    assert f"image semblable, distance PDQ {distance}" in page


KNOWN_TEXT = (
    "Le conseil municipal a voté hier soir le budget de l'année prochaine, avec une hausse"
    " des dépenses consacrées aux écoles, aux bibliothèques et aux parcs de quartier."
)


def test_a_page_shows_its_text_with_the_matching_passage_highlighted(
    client: TestClient,
    sqlite_database: Database,
    agencies: dict[str, str],
    store: EncryptedContentStore,
) -> None:
    page = (
        "<html><head><title>Une page</title></head><body><article>"
        "<p>Une phrase tout à fait différente ouvre ce texte sur la météo de demain.</p>"
        f"<p>{KNOWN_TEXT}</p><p>Le club de handball remporte son troisième match.</p>"
        "</article></body></html>"
    ).encode()
    with sqlite_database.unit_of_work(write=True) as uow:
        create_bank(uow, agency_code="agency-a", name="textes", actor="test")
        known = TEXT.compute(KNOWN_TEXT)
        assert known is not None
        labels = Labels(category=Category.INCITES, tier=Tier.PROMOTIONAL, tags=frozenset())
        add_entries(
            uow,
            agency_code="agency-a",
            bank_name="textes",
            entries=[EntryInput("text", known.value, labels)],
            actor="test",
        )
        matcher = load_matcher(uow, agency_code="agency-a")
        result = scan(
            Content(source="page.html", data=page, url="https://exemple.test/page"),
            matcher,
            ScanOptions(keep_matched_content=True),
        )
        assert [m.signal_type for m in result.matches] == ["text"]
        queue_result(uow, agency_code="agency-a", result=result, actor="test", store=store)
        uow.commit()
        (case,) = [c.id for c in uow.queue.list_cases(agencies["a"], QueueFilters(), limit=5)]
    log_in(client, "analyst.a")
    html = client.get(f"/cases/{case}").text
    text = html[html.index('data-testid="case-text"') :]
    text = text[: text.index("</div>")]
    marked = " ".join(re.findall(r"<mark>(.*?)</mark>", text, flags=re.S))
    assert "budget" in marked and "bibliothèques" in marked
    assert "météo" in text and "météo" not in marked
    assert "handball" in text and "handball" not in marked


def test_an_image_case_shows_no_text(
    client: TestClient,
    sqlite_database: Database,
    agencies: dict[str, str],
    store: EncryptedContentStore,
) -> None:
    image = shared("pdq", "images", "aaa-orig.jpg").read_bytes()
    with sqlite_database.unit_of_work(write=True) as uow:
        (case,) = make_cases(uow, agency_code="agency-a", images=[image], store=store)
        uow.commit()
    log_in(client, "analyst.a")
    assert 'data-testid="case-text"' not in client.get(f"/cases/{case}").text


def test_cases_are_assigned_taken_and_filtered_by_assignee(
    client: TestClient, sqlite_database: Database, agencies: dict[str, str]
) -> None:
    images = [
        shared("pdq", "images", name).read_bytes() for name in ("aaa-orig.jpg", "blur-a-lot.jpg")
    ]
    with sqlite_database.unit_of_work(write=True) as uow:
        first, second = make_cases(uow, agency_code="agency-a", images=images)
        uow.commit()
    token = log_in(client, "analyst.a")
    taken = client.post(
        f"/cases/{first}/assignment",
        data={"csrf_token": token, "assignee": "analyst.a"},
        follow_redirects=False,
    )
    assert taken.status_code == 303
    mine = client.get("/queue?mine=1").text
    assert f"/cases/{first}" in mine and f"/cases/{second}" not in mine
    assert f"/cases/{second}" in client.get("/queue").text
    assert 'data-testid="assigned-to">analyst.a<' in client.get(f"/cases/{first}").text

    # Given to a colleague who reviews; the analyst's own list is then empty.
    client.post(f"/cases/{first}/assignment", data={"csrf_token": token, "assignee": "approver.a"})
    assert f"/cases/{first}" not in client.get("/queue?mine=1").text
    with sqlite_database.unit_of_work() as uow:
        events = [
            e.details
            for e in uow.audit.list_for_object(agencies["a"], "case", first)
            if e.action == "case.assigned"
        ]
    assert events == [
        {"to": "analyst.a", "from": None},
        {"to": "approver.a", "from": "analyst.a"},
    ]


@pytest.mark.parametrize("assignee", ["controller.a", "analyst.b", "personne"])
def test_a_case_goes_only_to_a_reviewer_of_the_unit(
    client: TestClient, sqlite_database: Database, agencies: dict[str, str], assignee: str
) -> None:
    image = shared("pdq", "images", "aaa-orig.jpg").read_bytes()
    with sqlite_database.unit_of_work(write=True) as uow:
        (case,) = make_cases(uow, agency_code="agency-a", images=[image])
        uow.commit()
    token = log_in(client, "approver.a")
    refused = client.post(
        f"/cases/{case}/assignment", data={"csrf_token": token, "assignee": assignee}
    )
    assert refused.status_code == 422
    assert "choisissez un analyste ou un approbateur actif" in refused.text
    with sqlite_database.unit_of_work() as uow:
        assert uow.queue.get_case(agencies["a"], case).summary.assigned_to is None


def test_a_controller_reads_but_does_not_assign(
    client: TestClient, sqlite_database: Database, agencies: dict[str, str]
) -> None:
    image = shared("pdq", "images", "aaa-orig.jpg").read_bytes()
    with sqlite_database.unit_of_work(write=True) as uow:
        (case,) = make_cases(uow, agency_code="agency-a", images=[image])
        uow.commit()
    token = log_in(client, "controller.a")
    assert 'data-testid="take"' not in client.get(f"/cases/{case}").text
    response = client.post(
        f"/cases/{case}/assignment", data={"csrf_token": token, "assignee": "analyst.a"}
    )
    assert response.status_code == 403


def test_the_case_page_title_is_plain_text(
    client: TestClient, sqlite_database: Database, agencies: dict[str, str]
) -> None:
    image = shared("pdq", "images", "aaa-orig.jpg").read_bytes()
    with sqlite_database.unit_of_work(write=True) as uow:
        (case,) = make_cases(uow, agency_code="agency-a", images=[image])
        uow.commit()
    log_in(client, "analyst.a")
    page = client.get(f"/cases/{case}").text
    assert re.search(r"<title>([^<]*)</title>", page).group(1) == "Dossier · Passerelle"  # type: ignore[union-attr]
