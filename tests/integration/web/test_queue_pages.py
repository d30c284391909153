"""Every case of the queue is reachable: pages by keyset in each order, filters kept from
page to page, the count and the range shown, a date filter, and "next case"."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from passerelle.db.models import CaseRow
from passerelle.db.session import Database
from tests.conftest import log_in
from tests.factories import make_queue

CASE_LINK = re.compile(r'data-case-url="/cases/([0-9a-f-]+)"')


@pytest.fixture
def queue_of_120(sqlite_database: Database, agencies: dict[str, str]) -> list[str]:
    with sqlite_database.unit_of_work(write=True) as uow:
        ids = make_queue(uow, agency_code="agency-a", count=120)
        make_queue(uow, agency_code="agency-b", count=3, prefix="autre")
        uow.commit()
    return ids


def _walk(client: TestClient, first: str) -> tuple[list[str], list[str]]:
    """Follow the "next" links from `first`; the case ids seen and the ranges shown."""
    seen: list[str] = []
    ranges: list[str] = []
    url: str | None = first
    while url:
        page = client.get(url)
        assert page.status_code == 200, page.text
        seen.extend(CASE_LINK.findall(page.text))
        found = re.search(r'data-testid="page-range">([^<]*)<', page.text)
        assert found is not None
        ranges.append(found.group(1))
        following = re.search(r'href="([^"]+)" rel="next"', page.text)
        url = following.group(1).replace("&amp;", "&") if following else None
    return seen, ranges


def test_the_queue_pages_through_every_case(client: TestClient, queue_of_120: list[str]) -> None:
    log_in(client, "analyst.a")
    seen, ranges = _walk(client, "/queue")
    assert seen == queue_of_120  # all 120, once each, in the queue's order
    assert ranges == ["1–50 sur 120", "51–100 sur 120", "101–120 sur 120"]


def test_the_page_size_and_the_order_are_kept(client: TestClient, queue_of_120: list[str]) -> None:
    log_in(client, "analyst.a")
    seen, ranges = _walk(client, "/queue?size=25&sort=score_asc")
    assert len(ranges) == 5 and ranges[-1] == "101–120 sur 120"
    # Lowest score first: the public reports and weak matches are reached first.
    with_scores = list(reversed(queue_of_120))
    scores_seen = [queue_of_120.index(case) // 3 for case in seen]
    assert scores_seen == sorted(scores_seen, reverse=True)
    assert set(seen) == set(with_scores)


def test_filters_are_kept_across_pages(
    client: TestClient, sqlite_database: Database, queue_of_120: list[str]
) -> None:
    with sqlite_database.unit_of_work(write=True) as uow:
        make_queue(uow, agency_code="agency-a", count=60, language="en", prefix="english")
        uow.commit()
    log_in(client, "analyst.a")
    seen, ranges = _walk(client, "/queue?language=fr&size=25")
    assert seen == queue_of_120
    assert ranges[0] == "1–25 sur 120"
    page = client.get("/queue?language=fr&size=25")
    following = re.search(r'href="([^"]+)" rel="next"', page.text)
    assert following is not None
    assert "language=fr" in following.group(1) and "size=25" in following.group(1)


def test_previous_and_last_pages(client: TestClient, queue_of_120: list[str]) -> None:
    log_in(client, "analyst.a")
    last = client.get("/queue?last=1")
    assert CASE_LINK.findall(last.text) == queue_of_120[70:]
    assert "71–120 sur 120" in last.text
    previous = re.search(r'href="([^"]+)" rel="prev"', last.text)
    assert previous is not None
    before = client.get(unquote(previous.group(1).replace("&amp;", "&")))
    assert CASE_LINK.findall(before.text) == queue_of_120[20:70]
    assert "21–70 sur 120" in before.text


def test_the_newest_first_order_and_the_date_filter(
    client: TestClient, sqlite_database: Database, queue_of_120: list[str]
) -> None:
    # Open the cases one day apart, the first of the queue the oldest.
    start = datetime(2026, 1, 1, 12, tzinfo=UTC)
    with sqlite_database.engine.begin() as conn:
        for number, case_id in enumerate(queue_of_120):
            conn.execute(
                update(CaseRow)
                .where(CaseRow.id == case_id)
                .values(created_at=start + timedelta(days=number))
            )
    log_in(client, "analyst.a")
    seen, _ = _walk(client, "/queue?sort=opened&size=100")
    assert seen == list(reversed(queue_of_120))
    january = client.get("/queue?from=2026-01-10&to=2026-01-19&sort=opened_asc")
    assert CASE_LINK.findall(january.text) == queue_of_120[9:19]
    assert "1–10 sur 10" in january.text
    assert 'value="2026-01-10"' in january.text


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("?size=7", ("a page holds 25, 50, 100, 200 cases", "une page contient 25, 50, 100")),
        ("?sort=random", ("unknown order", "ordre inconnu")),
        ("?after=garbage", ("this page link is damaged", "ce lien de page est abîmé")),
        ("?from=2026-13-01", ("dates must be YYYY-MM-DD", "AAAA-MM-JJ")),
        ("?from=2026-02-01&to=2026-01-01", ("the end of the period", "la fin de la période")),
    ],
)
def test_bad_page_requests_are_422(
    client: TestClient, agencies: dict[str, str], query: str, problem: tuple[str, str]
) -> None:
    log_in(client, "analyst.a")
    page = client.get("/queue" + query)
    assert page.status_code == 422
    # The message, in French once error messages go through the translations.
    assert any(words in page.text for words in problem)


def test_the_count_shows_thousands_the_french_way(
    client: TestClient, sqlite_database: Database, agencies: dict[str, str]
) -> None:
    with sqlite_database.unit_of_work(write=True) as uow:
        make_queue(uow, agency_code="agency-a", count=1001)  # the last page: 1 001 cases
        uow.commit()
    log_in(client, "analyst.a")
    last = client.get("/queue?last=1")
    assert "952–1\u202f001 sur 1\u202f001" in last.text


def test_next_case_follows_the_queue_as_last_shown(
    client: TestClient, queue_of_120: list[str]
) -> None:
    log_in(client, "analyst.a")
    lowest_first, _ = _walk(client, "/queue?sort=score_asc&size=200")  # the order worked in
    moved = client.get(f"/queue/next?after={lowest_first[0]}", follow_redirects=False)
    assert moved.status_code == 303
    assert moved.headers["location"] == f"/cases/{lowest_first[1]}"
    client.get("/queue")
    moved = client.get(f"/queue/next?after={queue_of_120[0]}", follow_redirects=False)
    assert moved.headers["location"] == f"/cases/{queue_of_120[1]}"
    # After the last case, back to the queue.
    end = client.get(f"/queue/next?after={queue_of_120[-1]}", follow_redirects=False)
    assert end.headers["location"].startswith("/queue")
