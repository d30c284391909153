"""Referrals and removal orders in the console: four eyes, deadlines, notices."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from passerelle.db.session import Database
from tests.conftest import log_in
from tests.integration.web.conftest import RATIONALE, decide


def prepare(client: TestClient, token: str, case: str, kind: str, **extra: str):  # type: ignore[no-untyped-def]
    return client.post(
        f"/cases/{case}/referrals",
        data={"csrf_token": token, "kind": kind} | extra,
        follow_redirects=False,
    )


def test_a_removal_order_needs_a_second_approver(client: TestClient, case_id: str) -> None:
    token = log_in(client, "approver.a")  # an approver prepares it: still needs someone else
    assert prepare(client, token, case_id, "referral").status_code == 409  # not decided yet
    decide(client, token, case_id)
    made = prepare(client, token, case_id, "tco_removal_order")
    assert made.status_code == 303
    page_url = made.headers["location"]
    referral_id = page_url.rsplit("/", 1)[1]
    page = client.get(page_url).text
    assert "en attente d’approbation" in page
    assert 'data-testid="approve"' not in page  # the author is not offered the button
    assert (
        client.post(f"/referrals/{referral_id}/approve", data={"csrf_token": token}).status_code
        == 403
    )
    assert (
        client.post(f"/referrals/{referral_id}/sent", data={"csrf_token": token}).status_code == 409
    )

    client.cookies.clear()
    analyst = log_in(client, "analyst.a")
    assert (
        client.post(f"/referrals/{referral_id}/approve", data={"csrf_token": analyst}).status_code
        == 403
    )

    client.cookies.clear()
    other = log_in_second_approver(client)
    assert 'data-testid="approve"' in client.get(page_url).text
    approved = client.post(
        f"/referrals/{referral_id}/approve", data={"csrf_token": other}, follow_redirects=False
    )
    assert approved.status_code == 303
    before = datetime.now().astimezone()
    sent = client.post(
        f"/referrals/{referral_id}/sent", data={"csrf_token": other}, follow_redirects=False
    )
    assert sent.status_code == 303
    data = json.loads(client.get(f"/referrals/{referral_id}/notice.json").text)
    deadline = datetime.fromisoformat(data["deadline"] + "+00:00")
    assert timedelta(minutes=59) < deadline - before < timedelta(minutes=61)
    assert data["approved_by"] == "approver2.a" and data["kind"] == "tco_removal_order"
    assert data["url"] == "https://exemple.test/0.jpg"


def log_in_second_approver(client: TestClient) -> str:
    return log_in(client, "approver2.a")


@pytest.fixture(autouse=True)
def second_approver(sqlite_database: Database, agencies: dict[str, str]) -> None:
    from tests.factories import make_user

    with sqlite_database.unit_of_work(write=True) as uow:
        make_user(uow, agency_code="agency-a", username="approver2.a", roles=("approver",))
        uow.commit()


def test_notices_in_three_formats_and_two_languages(client: TestClient, case_id: str) -> None:
    token = log_in(client, "analyst.a")
    decide(client, token, case_id)
    french = prepare(client, token, case_id, "referral").headers["location"].rsplit("/", 1)[1]
    english = (
        prepare(
            client,
            token,
            case_id,
            "fr_admin_request",
            language="en",
            again="A request under the LCEN after the voluntary referral (test).",
        )
        .headers["location"]
        .rsplit("/", 1)[1]
    )
    text = client.get(f"/referrals/{french}/notice.txt")
    assert text.headers["content-type"].startswith("text/plain")
    assert "Notification de contenu à caractère terroriste" in text.text
    assert "article 2, point 7 (a)" in text.text
    assert RATIONALE not in text.text  # the internal rationale stays in the unit
    assert "incite à commettre des infractions terroristes" in text.text  # the statement
    assert "Code pénal, article 421-2-5" in text.text
    html = client.get(f"/referrals/{english}/notice.html").text
    assert '<html lang="en">' in html and "Removal request (LCEN, Article 6-1)" in html
    assert client.get(f"/referrals/{english}/notice.pdf").status_code == 404
    client.post(f"/referrals/{english}/sent", data={"csrf_token": token})
    data = json.loads(client.get(f"/referrals/{english}/notice.json").text)
    assert data["deadline"] and data["lang"] == "en"


def test_refusals_are_clear(client: TestClient, sqlite_database: Database, case_id: str) -> None:
    token = log_in(client, "analyst.a")
    decide(client, token, case_id)
    unknown = prepare(client, token, case_id, "takedown")
    assert unknown.status_code == 422 and "type de mesure inconnu" in unknown.text
    with sqlite_database.unit_of_work(write=True) as uow:
        from passerelle.db.models import HostRow

        uow.session.query(HostRow).delete()
        uow.commit()
    no_host = prepare(client, token, case_id, "referral")
    assert no_host.status_code == 422
    assert "aucun hébergeur connu pour exemple.test" in no_host.text


def _sent_long_ago(database: Database, referral_id: str) -> None:
    """The referral sent on 1 January 2026, due the next day."""
    from datetime import UTC

    with database.unit_of_work(write=True) as uow:
        agency = uow.agencies.get_by_code("agency-a")
        uow.referrals.mark_sent(
            agency.id,
            referral_id,
            datetime(2026, 1, 1, tzinfo=UTC),
            datetime(2026, 1, 2, tzinfo=UTC),
        )
        uow.commit()


def test_overdue_referrals_are_flagged_on_the_dashboard(
    client: TestClient, sqlite_database: Database, case_id: str
) -> None:
    token = log_in(client, "analyst.a")
    decide(client, token, case_id)
    referral_id = (
        prepare(client, token, case_id, "fr_admin_request").headers["location"].rsplit("/", 1)[1]
    )
    assert 'data-testid="overdue"' not in client.get("/").text  # nothing overdue yet
    _sent_long_ago(sqlite_database, referral_id)
    dashboard = client.get("/").text
    assert "1 notification a dépassé son échéance" in dashboard
    assert f"/referrals/{referral_id}" in dashboard


def test_a_referral_whose_content_is_gone_is_no_longer_overdue(
    client: TestClient, sqlite_database: Database, case_id: str
) -> None:
    """The dashboard counts what the list behind its link shows: referrals past their
    deadline whose content is still up (it counted every referral ever sent past its
    deadline, the content long offline included, and loaded each one to count them)."""
    from datetime import UTC

    from passerelle.core.message import Message

    token = log_in(client, "analyst.a")
    decide(client, token, case_id)
    referral_id = (
        prepare(client, token, case_id, "fr_admin_request").headers["location"].rsplit("/", 1)[1]
    )
    _sent_long_ago(sqlite_database, referral_id)
    assert 'data-testid="overdue"' in client.get("/").text
    with sqlite_database.unit_of_work(write=True) as uow:
        uow.jobs.record_check(
            referral_id,
            when=datetime(2026, 1, 3, tzinfo=UTC),
            online=False,
            detail=Message("the address answers 404"),
        )
        uow.commit()
    assert 'data-testid="overdue"' not in client.get("/").text
    listed = client.get("/referrals?overdue=1").text
    assert f"/referrals/{referral_id}" not in listed
