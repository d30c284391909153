"""The case page reads what belongs to the case from indexes keyed by the case, on both
engines: never every audit event, decision, referral, complaint, recommendation or hold of
the agency, which grow with the unit's work (the page read the agency's whole audit log to
find the case's events: 1.3 ms for a few thousand events, and linear in the log)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from passerelle.db.session import Database
from passerelle.settings import Settings
from passerelle.web.app import create_app
from tests.conftest import log_in
from tests.factories import (
    decide_as_terrorist,
    make_agency,
    make_queue,
    make_referral,
    make_user,
)
from tests.plans import is_sqlite, query_plan, recorded_statements

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
FROM_PER_CASE = re.compile(r"\bFROM (" + "|".join(PER_CASE) + r")\b")
# SQLite: a read of a whole table, or of an index range bounded by the agency alone.
SQLITE_WHOLE = re.compile(r"\bSCAN (" + "|".join(PER_CASE) + r")\b")
SQLITE_AGENCY_ONLY = re.compile(
    r"\bSEARCH (" + "|".join(PER_CASE) + r") USING (?:COVERING )?INDEX \w+ \(agency_id=\?\)"
)
# PostgreSQL: the same, as its plans say it.
POSTGRES_WHOLE = re.compile(r"Seq Scan on (" + "|".join(PER_CASE) + r")\b")
POSTGRES_CONDITION = re.compile(r"Index Cond: (.*)")
POSTGRES_COLUMN = re.compile(r"\((\w+)\)(?:::\w+)? =|\b(\w+) = ")


def _agency_only(plan: str, sqlite: bool) -> list[str]:
    """The parts of a plan that read a per-case table whole or by the agency alone."""
    if sqlite:
        return SQLITE_WHOLE.findall(plan) + SQLITE_AGENCY_ONLY.findall(plan)
    found = POSTGRES_WHOLE.findall(plan)
    for condition in POSTGRES_CONDITION.findall(plan):
        columns = {a or b for a, b in POSTGRES_COLUMN.findall(condition)}
        if columns == {"agency_id"}:
            found.append(condition)
    return found


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
        uow.commit()
    with TestClient(create_app(settings, database), base_url="https://testserver") as client:
        log_in(client, "analyst.a")
        with recorded_statements(database, lambda s: bool(FROM_PER_CASE.search(s))) as reads:
            page = client.get(f"/cases/{case_id}")
    assert page.status_code == 200, page.text
    assert "audit_events" in " ".join(s for s, _ in reads)  # the history was read
    sqlite = is_sqlite(database)
    wrong = {}
    for statement, parameters in reads:
        if statement.lstrip().upper().startswith("SELECT"):
            plan = query_plan(database, statement, parameters, analyze=PER_CASE)
            if _agency_only(plan, sqlite):
                wrong[statement] = plan
    assert not wrong, "\n\n".join(f"{s}\n-> {p}" for s, p in wrong.items())
