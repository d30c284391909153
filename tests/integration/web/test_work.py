"""Work that surfaces by itself: the dashboard lists what waits for each person by role
(an order for a second approver, who approves it from there; cases assigned), and the
referrals list filters by kind, state, host and overdue, a page at a time."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from passerelle.core.identity import User
from passerelle.db.models import ReferralRow
from passerelle.db.session import Database
from passerelle.services import refer
from passerelle.services.review import assign_case
from tests.conftest import csrf_of, log_in
from tests.factories import decide_as_terrorist, make_host, make_queue, make_user


@pytest.fixture
def order(sqlite_database: Database, agencies: dict[str, str]) -> dict[str, str]:
    """A removal order prepared by approver.a, and a referral, on two decided cases."""
    with sqlite_database.unit_of_work(write=True) as uow:
        make_user(uow, agency_code="agency-a", username="approver2.a", roles=("approver",))
        cases = make_queue(uow, agency_code="agency-a", count=3)
        author = _user(uow, "approver.a")
        make_host(uow, agency_code="agency-a")
        for case in cases[:2]:
            decide_as_terrorist(uow, agency_code="agency-a", case_id=case, author=author)
        tco = refer.prepare_referral(uow, viewer=author, case_id=cases[0], kind="tco_removal_order")
        voluntary = refer.prepare_referral(uow, viewer=author, case_id=cases[1], kind="referral")
        assign_case(uow, viewer=author, case_id=cases[2], assignee="analyst.a")
        uow.commit()
    return {"order": tco.id, "referral": voluntary.id, "assigned": cases[2]}


def test_a_second_approver_sees_the_order_and_approves_it_from_the_dashboard(
    client: TestClient, order: dict[str, str]
) -> None:
    log_in(client, "approver.a")  # who prepared it: never asked to approve it
    own = client.get("/").text
    assert 'data-testid="work-awaiting_approval-count">0<' in own
    client.cookies.clear()
    token = log_in(client, "approver2.a")
    page = client.get("/").text
    assert 'data-testid="work-awaiting_approval-count">1<' in page
    assert f"/referrals/{order['order']}" in page
    assert "préparée par approver.a" in page
    done = client.post(
        f"/referrals/{order['order']}/approve",
        data={"csrf_token": token},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert 'data-testid="work-awaiting_approval-count">0<' in client.get("/").text


def test_each_role_sees_its_own_lists(client: TestClient, order: dict[str, str]) -> None:
    log_in(client, "analyst.a")
    page = client.get("/").text
    assert 'data-testid="work-assigned-count">1<' in page
    assert f"/cases/{order['assigned']}" in page
    assert "work-awaiting_approval" not in page  # analysts do not approve
    assert "work-proposals" not in page
    client.cookies.clear()
    log_in(client, "liaison.a")
    page = client.get("/").text
    assert "work-proposals" in page and "work-assigned" not in page


def test_deadlines_and_failures_surface(
    client: TestClient, sqlite_database: Database, order: dict[str, str]
) -> None:
    soon = datetime.now(UTC) + timedelta(hours=2)
    with sqlite_database.engine.begin() as conn:
        conn.execute(
            update(ReferralRow)
            .where(ReferralRow.id == order["referral"])
            .values(status="sent", sent_at=datetime.now(UTC), deadline_at=soon)
        )
        conn.execute(
            update(ReferralRow)
            .where(ReferralRow.id == order["order"])
            .values(status="send_failed", last_error="serveur de courriel injoignable")
        )
    log_in(client, "analyst.a")
    page = client.get("/").text
    assert 'data-testid="work-deadlines-count">1<' in page
    assert 'data-testid="work-failed_sendings-count">1<' in page
    assert "serveur de courriel injoignable" in page


def test_the_referrals_list_filters_and_pages(
    client: TestClient, sqlite_database: Database, order: dict[str, str]
) -> None:
    log_in(client, "analyst.a")
    everything = client.get("/referrals")
    assert everything.status_code == 200
    assert "2 notifications" in everything.text
    orders = client.get("/referrals?kind=tco_removal_order").text
    assert f"/referrals/{order['order']}" in orders
    assert f"/referrals/{order['referral']}" not in orders
    waiting = client.get("/referrals?state=awaiting_approval").text
    assert f"/referrals/{order['order']}" in waiting and "1 notification" in waiting
    assert "0 notification" in client.get("/referrals?host=ailleurs.test").text
    assert "0 notification" in client.get("/referrals?overdue=1").text
    past = datetime.now(UTC) - timedelta(hours=1)
    with sqlite_database.engine.begin() as conn:
        conn.execute(
            update(ReferralRow)
            .where(ReferralRow.id == order["referral"])
            .values(status="sent", sent_at=past - timedelta(hours=24), deadline_at=past)
        )
    overdue = client.get("/referrals?overdue=1").text
    assert f"/referrals/{order['referral']}" in overdue and "1 notification" in overdue
    assert client.get("/referrals?state=lost").status_code == 422
    csrf_of(client)


def test_the_referrals_list_pages_by_keyset(
    client: TestClient, sqlite_database: Database, order: dict[str, str]
) -> None:
    with sqlite_database.unit_of_work(write=True) as uow:
        author = _user(uow, "approver.a")
        for _ in range(60):
            refer.prepare_referral(
                uow,
                viewer=author,
                case_id=_decided(uow, order),
                kind="referral",
                again="Copies of the same image, each referred on its own (paging test).",
            )
        uow.commit()
    log_in(client, "analyst.a")
    first = client.get("/referrals").text
    links = set(re.findall(r'data-referral-url="(/referrals/[^"]+)"', first))
    following = re.search(r'href="([^"]+)" rel="next"', first)
    assert len(links) == 50 and following is not None
    second = client.get(following.group(1).replace("&amp;", "&")).text
    rest = set(re.findall(r'data-referral-url="(/referrals/[^"]+)"', second))
    assert len(rest) == 12 and not links & rest


def _user(uow, username: str) -> User:  # type: ignore[no-untyped-def]
    found = uow.users.find_credentials(username)
    assert found is not None
    return found.user  # type: ignore[no-any-return]


def _decided(uow, order: dict[str, str]) -> str:  # type: ignore[no-untyped-def]
    """The case of the voluntary referral (decided as terrorist content)."""
    return uow.referrals.get(uow.agencies.get_by_code("agency-a").id, order["referral"]).case_id  # type: ignore[no-any-return]


def test_who_may_read_the_referrals_list(client: TestClient, order: dict[str, str]) -> None:
    log_in(client, "liaison.a")  # reads referrals (addresses and grounds), not cases
    assert client.get("/referrals").status_code == 200
    client.cookies.clear()
    log_in(client, "admin.a")  # neither reviews, oversees nor keeps the exchange
    assert client.get("/referrals").status_code == 403
