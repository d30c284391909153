"""The case page reads what belongs to the case from indexes keyed by the case, on both
engines: never every audit event, decision, referral, complaint, recommendation or hold of
the agency, which grow with the unit's work (the page read the agency's whole audit log to
find the case's events: 1.3 ms for a few thousand events, and linear in the log)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient

from passerelle.db.session import Database
from passerelle.settings import Settings
from passerelle.web.app import create_app
from tests.conftest import log_in
from tests.factories import (
    decide_as_terrorist,
    make_agency,
    make_partners,
    make_queue,
    make_referral,
    make_user,
)
from tests.plans import agency_wide_reads, is_sqlite, query_plan, reads_from, recorded_statements

# The tables whose rows are the unit's work, per case: they grow without bound.
PER_CASE = (
    "audit_events",
    "cases",
    "complaints",
    "decisions",
    "items",
    "observation_holds",
    "partner_signals",
    "public_reports",
    "recommendations",
    "referrals",
    "sightings",
)

# The holds still set: a short list of its own (migration 0042), which a planner may read
# for a case's holds.
STILL_SET = ("ix_observation_holds_active",)


def test_the_case_page_reads_the_case_not_the_agency(
    database: Database, settings: Settings
) -> None:
    with database.unit_of_work(write=True) as uow:
        make_agency(uow, code="agency-a")
        analyst = make_user(uow, agency_code="agency-a", username="analyst.a", roles=("analyst",))
        # The unit's other work: cases opened, decided and referred, each with its events.
        others = make_queue(uow, agency_code="agency-a", count=240)
        for case_id in others[:60]:
            decide_as_terrorist(uow, agency_code="agency-a", case_id=case_id, author=analyst)
        for case_id in others[60:80]:
            make_referral(uow, agency_code="agency-a", case_id=case_id, author=analyst)
        case_id = others[-1]
        make_referral(uow, agency_code="agency-a", case_id=case_id, author=analyst)
        # A partner's notices on other contents (held, referred): the case's are looked up.
        agency_ids = {"a": analyst.agency_id, "b": make_agency(uow, code="agency-b").id}
        make_partners(uow, agency_ids=agency_ids, secret=settings.secret_key)
        partner = uow.exchange.partner_by_code(analyst.agency_id, "agency-b")
        assert partner is not None
        for number in range(300):
            uow.exchange.add_partner_signal(
                analyst.agency_id,
                partner.id,
                kind="hold",
                signal_type="sha256",
                value=f"{number:064x}",
                at=datetime.now(UTC),
            )
        uow.commit()
    with TestClient(create_app(settings, database), base_url="https://testserver") as client:
        log_in(client, "analyst.a")
        with recorded_statements(database, reads_from(PER_CASE)) as reads:
            page = client.get(f"/cases/{case_id}")
    assert page.status_code == 200, page.text
    assert "audit_events" in " ".join(s for s, _ in reads)  # the history was read
    wrong = {}
    for statement, parameters in reads:
        plan = query_plan(database, statement, parameters, analyze=PER_CASE)
        if agency_wide_reads(plan, PER_CASE, sqlite=is_sqlite(database), partial=STILL_SET):
            wrong[statement] = plan
    assert not wrong, "\n\n".join(f"{s}\n-> {p}" for s, p in wrong.items())
