"""The dashboard's work lists, the holds and the filtered referrals list read through
indexes of their own on both engines: never the range of all the agency's referrals or
complaints (on SQLite with no statistics yet, as a new unit's, each list was read from the
agency's referrals, sorted in a temporary tree: the landing page grew with every referral
ever made)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import insert, update

from passerelle.db.models import ComplaintRow, ObservationHoldRow, ReferralRow
from passerelle.db.session import Database
from passerelle.settings import Settings
from passerelle.web.app import create_app
from tests.conftest import log_in
from tests.factories import make_agency, make_queue, make_referral, make_user
from tests.plans import agency_wide_reads, is_sqlite, query_plan, reads_from, recorded_statements

LISTED = ("referrals", "complaints", "observation_holds")
# The lists' own indexes, of the rows still waiting only (migration 0042).
PARTIAL = ("ix_referrals_pending_deadline", "ix_complaints_open", "ix_observation_holds_active")
PAGES = ("/", "/holds", "/referrals?status=sent", "/referrals?overdue=1")


def test_the_work_lists_read_their_own_index(database: Database, settings: Settings) -> None:
    with database.unit_of_work(write=True) as uow:
        agency = make_agency(uow, code="agency-a")
        author = make_user(
            uow, agency_code="agency-a", username="analyst.a", roles=("analyst", "approver")
        )
        cases = make_queue(uow, agency_code="agency-a", count=60)
        referrals = [
            make_referral(uow, agency_code="agency-a", case_id=case_id, author=author)
            for case_id in cases
        ]
        uow.commit()
    now = datetime.now(UTC)
    with database.engine.begin() as conn:
        # Most referrals done with long ago, a few in each state a list shows.
        for number, referral_id in enumerate(referrals):
            status, gone = (
                ("sent", None)
                if number % 10 == 0
                else ("awaiting_approval", None)
                if number % 10 == 1
                else ("send_failed", None)
                if number % 10 == 2
                else ("sent", now - timedelta(days=number))
            )
            conn.execute(
                update(ReferralRow)
                .where(ReferralRow.id == referral_id)
                .values(
                    status=status,
                    sent_at=now - timedelta(days=number + 2),
                    deadline_at=now - timedelta(days=number + 1),
                    offline_at=gone,
                )
            )
        conn.execute(
            insert(ComplaintRow),
            [
                {
                    "id": str(uuid.uuid4()),
                    "agency_id": agency.id,
                    "referral_id": referral_id,
                    "case_id": case_id,
                    "text": "Contestation.",
                    "created_at": now - timedelta(days=number),
                    "deadline_at": now + timedelta(days=14 - number),
                    "outcome": None if number % 10 == 0 else "upheld",
                }
                for number, (referral_id, case_id) in enumerate(zip(referrals, cases, strict=True))
            ],
        )
        conn.execute(
            insert(ObservationHoldRow),
            [
                {
                    "id": str(uuid.uuid4()),
                    "agency_id": agency.id,
                    "case_id": case_id,
                    "reason": "Observation.",
                    "set_by": "analyst.a",
                    "set_at": now - timedelta(days=number),
                    "lifted_at": None if number % 10 == 0 else now,
                }
                for number, case_id in enumerate(cases)
            ],
        )
    with TestClient(create_app(settings, database), base_url="https://testserver") as client:
        log_in(client, "analyst.a")
        with recorded_statements(database, reads_from(LISTED)) as reads:
            for page in PAGES:
                assert client.get(page).status_code == 200, page
    read = " ".join(statement for statement, _ in reads)
    assert all(f"FROM {table}" in read for table in LISTED), read
    wrong = {}
    for statement, parameters in reads:
        filtered = "offline_at IS NULL" in statement or "referrals.status =" in statement
        if "FROM referrals" in statement and not filtered:
            continue  # the whole list's count, unfiltered: the agency's by nature
        plan = query_plan(database, statement, parameters, analyze=LISTED)
        if agency_wide_reads(plan, LISTED, sqlite=is_sqlite(database), partial=PARTIAL):
            wrong[statement] = plan
    assert not wrong, "\n\n".join(f"{s}\n-> {p}" for s, p in wrong.items())
