"""The header's search box finds the unit's cases by hash, MD5, address (canonical form),
public report reference, PDQ near duplicate and words of a preserved page; never another
unit's cases; a page at a time."""

from __future__ import annotations

import hashlib
import json
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from passerelle.core.ports import Candidate, ItemFindings
from passerelle.core.signals.url import URL
from passerelle.db.models import CaseRow, ItemRow
from passerelle.db.session import Database
from passerelle.services.ingest import queue_candidate
from passerelle.services.public import submit_public_report
from passerelle.storage.content_store import EncryptedContentStore
from tests.conftest import log_in
from tests.factories import make_cases, make_queue
from tests.shared import shared

CASE_LINK = re.compile(r'data-case-url="/cases/([0-9a-f-]+)"')


def _item(uow_session, case_id: str) -> ItemRow:  # type: ignore[no-untyped-def]
    row: ItemRow = uow_session.scalars(
        select(ItemRow).join(CaseRow, CaseRow.item_id == ItemRow.id).where(CaseRow.id == case_id)
    ).one()
    return row


@pytest.fixture
def images(sqlite_database: Database, agencies: dict[str, str]) -> dict[str, object]:
    original = shared("pdq", "images", "aaa-orig.jpg").read_bytes()
    sharpened = shared("pdq", "images", "sharpen-a-lot.jpg").read_bytes()
    other = shared("pdq", "images", "square-256x256.jpg").read_bytes()
    with sqlite_database.unit_of_work(write=True) as uow:
        cases = make_cases(uow, agency_code="agency-a", images=[original, sharpened, other])
        (foreign,) = make_cases(uow, agency_code="agency-b", images=[original])
        uow.commit()
        items = {case: _item(uow.session, case) for case in cases}
        found = {
            "cases": cases,
            "foreign": foreign,
            "sha256": {c: i.sha256 for c, i in items.items()},
            "signals": {c: json.loads(i.signals_json) for c, i in items.items()},
        }
    return found


def _found(client: TestClient, text: str) -> list[str]:
    page = client.get("/search", params={"q": text})
    assert page.status_code == 200, page.text
    return CASE_LINK.findall(page.text)


def test_a_sha256_and_an_md5_find_their_case_only_in_the_unit(
    client: TestClient, images: dict[str, object]
) -> None:
    cases, sha, signals = images["cases"], images["sha256"], images["signals"]
    assert isinstance(cases, list) and isinstance(sha, dict) and isinstance(signals, dict)
    log_in(client, "analyst.a")
    original = cases[0]
    by_sha = _found(client, sha[original].upper())
    assert by_sha[0] == original and images["foreign"] not in by_sha
    assert _found(client, signals[original]["md5"]) == [original]


def test_a_pdq_hash_finds_its_near_duplicates_with_their_distance(
    client: TestClient, images: dict[str, object]
) -> None:
    cases, signals = images["cases"], images["signals"]
    assert isinstance(cases, list) and isinstance(signals, dict)
    by_pdq = {signals[c]["pdq"]: c for c in cases}
    log_in(client, "analyst.a")
    from passerelle.core.signals.pdq import hamming

    first = cases[0]
    # What a comparison with every image would find (here every copy is near).
    near = [c for c in cases if hamming(signals[first]["pdq"], signals[c]["pdq"]) <= 31]
    assert len(near) >= 2
    page = client.get("/search", params={"q": signals[first]["pdq"]})
    assert sorted(CASE_LINK.findall(page.text)) == sorted(near)
    assert "Distance PDQ" in page.text
    assert images["foreign"] not in page.text
    assert by_pdq
    # The complement of the hash: 256 bits from it, far from every image of the unit.
    far = f"{int(signals[first]['pdq'], 16) ^ ((1 << 256) - 1):064x}"
    assert _found(client, far) == []


def test_an_address_is_found_by_its_canonical_form(
    client: TestClient, sqlite_database: Database, agencies: dict[str, str]
) -> None:
    with sqlite_database.unit_of_work(write=True) as uow:
        cases = make_queue(uow, agency_code="agency-a", count=3)
        uow.commit()
    log_in(client, "analyst.a")
    # make_queue's addresses are https://exemple.test/dossier/N; the first case is N = 0.
    typed = "HTTPS://Exemple.TEST:443/dossier/0?utm_source=courriel#haut"
    assert _found(client, typed) == [cases[0]]
    assert _found(client, "exemple.test/dossier/0") == [cases[0]]
    page = client.get("/search", params={"q": "https://exemple.test/dossier/404"})
    assert "Aucun dossier de votre unité ne correspond à cette recherche." in page.text


def test_a_public_report_reference_finds_its_case(
    client: TestClient, sqlite_database: Database, agencies: dict[str, str]
) -> None:
    with sqlite_database.unit_of_work(write=True) as uow:
        reference = submit_public_report(
            uow,
            agency_code="agency-a",
            url="https://exemple.test/page-signalee",
            category="",
            description="une page",
            source_hash="x" * 32,
            per_hour=10,
        )
        other = submit_public_report(
            uow,
            agency_code="agency-b",
            url="https://exemple.test/ailleurs",
            category="",
            description="",
            source_hash="y" * 32,
            per_hour=10,
        )
        uow.commit()
    log_in(client, "analyst.a")
    (found,) = _found(client, reference.lower())
    assert "page-signalee" in client.get(f"/cases/{found}").text
    assert _found(client, other) == []  # another unit's report


def _page(uow, store: EncryptedContentStore, number: int, words: str) -> None:  # type: ignore[no-untyped-def]
    html = f"<html><head><title>Page {number}</title></head><body><article><p>{words}</p>"
    html += f"<p>Numéro {number}.</p></article></body></html>"
    data = html.encode()
    sha256 = hashlib.sha256(data).hexdigest()
    url = f"https://exemple.test/texte/{number}"
    findings = ItemFindings(
        sha256=sha256,
        media_type="text/html",
        signals_json=json.dumps({"sha256": sha256}),
        score=10,
        reasons_json="[]",
        matches_json="[]",
        language="fr",
        title=f"Page {number}",
    )
    candidate = Candidate(findings, URL.compute(url).value, url, url, content=data)
    queue_candidate(uow, agency_code="agency-a", candidate=candidate, actor="test", store=store)


def test_words_of_a_preserved_page_are_found_a_page_at_a_time(
    client: TestClient,
    sqlite_database: Database,
    agencies: dict[str, str],
    store: EncryptedContentStore,
) -> None:
    with sqlite_database.unit_of_work(write=True) as uow:
        for number in range(30):
            _page(uow, store, number, "Le marché couvert de la commune ouvre le dimanche matin.")
        _page(uow, store, 99, "La bibliothèque municipale prête des livres aux écoles.")
        uow.commit()
        # The index holds keyed digests, never the words themselves.
        stored = uow.session.execute(
            select(ItemRow.id).where(ItemRow.signals_json.contains("marche"))
        ).all()
        assert not stored
    log_in(client, "analyst.a")
    first = client.get("/search", params={"q": "MARCHÉ dimanche"})
    assert len(CASE_LINK.findall(first.text)) == 25
    following = re.search(r'href="([^"]+)" rel="next"', first.text)
    assert following is not None
    second = client.get(following.group(1).replace("&amp;", "&"))
    assert len(CASE_LINK.findall(second.text)) == 5
    assert not set(CASE_LINK.findall(first.text)) & set(CASE_LINK.findall(second.text))
    assert len(_found(client, "bibliotheque écoles")) == 1
    assert _found(client, "bibliothèque dimanche") == []  # every word must be in the text


def test_the_index_holds_no_word_in_clear(
    sqlite_database: Database, agencies: dict[str, str], store: EncryptedContentStore
) -> None:
    with sqlite_database.unit_of_work(write=True) as uow:
        _page(uow, store, 1, "Le marché couvert de la commune ouvre le dimanche matin.")
        uow.commit()
    with sqlite_database.engine.connect() as conn:
        values = [row[0] for row in conn.exec_driver_sql("SELECT value FROM item_keys")]
    assert values and not {"marche", "dimanche", "commune"} & set(values)


def test_who_may_search(client: TestClient, images: dict[str, object]) -> None:
    for username, status in [("liaison.a", 403), ("controller.a", 200), ("approver.a", 200)]:
        client.cookies.clear()
        log_in(client, username)
        assert client.get("/search", params={"q": "a" * 64}).status_code == status
    assert client.get("/search", params={"q": "   "}).status_code == 200
    assert client.get("/search", params={"q": "!!"}).status_code == 422
