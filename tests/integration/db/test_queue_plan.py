"""The queue's pages are read from an index in the queue's order on both engines: no
temporary sort of the cases, however many there are (issue: 100,000 cases, 1.5 s a page)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, update

from passerelle.core.case import CaseStatus, PageRequest, QueueFilters, QueueKey, QueueSort
from passerelle.db.models import CaseRow, ItemRow
from passerelle.db.session import Database
from tests.factories import make_agency
from tests.plans import query_plan, recorded_statements

KEY = datetime(2026, 1, 1, tzinfo=UTC)


def _reads_a_page(statement: str) -> bool:
    return "FROM cases" in statement and "count(" not in statement


@pytest.mark.parametrize("sort", [s for s in QueueSort if s is not QueueSort.DEADLINE])
@pytest.mark.parametrize("status", [CaseStatus.OPEN, None])
def test_a_deep_page_is_read_in_index_order(
    database: Database, sort: QueueSort, status: CaseStatus | None
) -> None:
    with database.unit_of_work(write=True) as uow:
        agency = make_agency(uow)
        uow.commit()
    with (
        recorded_statements(database, _reads_a_page) as statements,
        database.unit_of_work() as uow,
    ):
        page = PageRequest(sort=sort, after=QueueKey(sort, KEY, "x", 50))
        uow.queue.page_cases(agency.id, QueueFilters(status=status), page)
    (statement, parameters), *_ = statements
    # An empty table is scanned whatever the indexes: forbid what can be avoided.
    plan = query_plan(database, statement, parameters, forbid=["seqscan", "sort"])
    assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan
    assert "ix_cases_queue" in plan, plan


def test_a_persons_cases_are_read_from_the_index_of_assigned_cases(database: Database) -> None:
    """The dashboard's "assigned to me": among thousands of unassigned open cases (the
    planner's statistics up to date), a person's few are read from the index that holds only
    assigned cases, in the queue's order; not by walking every open case of the agency."""
    with database.unit_of_work(write=True) as uow:
        agency = make_agency(uow)
        uow.commit()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    items, cases = [], []
    for number in range(3000):
        item_id = str(uuid.uuid4())
        items.append(
            {
                "id": item_id,
                "agency_id": agency.id,
                "sha256": f"{number:064x}",
                "media_type": "text/html",
                "signals_json": "{}",
                "first_seen_at": start,
            }
        )
        cases.append(
            {
                "id": str(uuid.uuid4()),
                "agency_id": agency.id,
                "item_id": item_id,
                "status": "open",
                "source": "scan",
                "score": number % 100,
                "reasons_json": "[]",
                "matches_json": "[]",
                "created_at": start + timedelta(seconds=number),
            }
        )
    with database.engine.begin() as conn:
        conn.execute(insert(ItemRow), items)
        conn.execute(insert(CaseRow), cases)
        conn.execute(
            update(CaseRow).where(CaseRow.id == cases[7]["id"]).values(assigned_to="analyste")
        )
        conn.exec_driver_sql("ANALYZE")
    with (
        recorded_statements(database, lambda s: "assigned_to" in s) as kept,
        database.unit_of_work() as uow,
    ):
        listed = uow.work.assigned(agency.id, "analyste")
    assert [item.case_id for item in listed.items] == [cases[7]["id"]]
    assert kept
    for statement, parameters in kept:
        plan = query_plan(database, statement, parameters, forbid=["seqscan", "sort"])
        assert "ix_cases_assigned" in plan and "ix_cases_assigned_to" not in plan, plan
        assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan


def test_related_cases_are_found_from_the_items_not_every_case_of_the_agency(
    database: Database,
) -> None:
    """Deconfliction on the case page and before a referral: the other cases on the same
    address or bytes are read from the items' indexes, never by walking every case of the
    agency (4,000 cases: each look-up was a read of all of them on SQLite); another agency's
    case on the same address is not among them."""
    with database.unit_of_work(write=True) as uow:
        agency, other = make_agency(uow), make_agency(uow, code="qc", jurisdiction="CA-QC")
        uow.commit()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    items, cases = [], []

    def add(agency_id: str, number: int, url_hash: str) -> str:
        item_id, case_id = str(uuid.uuid4()), str(uuid.uuid4())
        items.append(
            {
                "id": item_id,
                "agency_id": agency_id,
                "sha256": f"{number:064x}",
                "url_hash": url_hash,
                "media_type": "text/html",
                "signals_json": "{}",
                "first_seen_at": start,
            }
        )
        cases.append(
            {
                "id": case_id,
                "agency_id": agency_id,
                "item_id": item_id,
                "status": "open",
                "source": "scan",
                "score": 1,
                "reasons_json": "[]",
                "matches_json": "[]",
                "created_at": start + timedelta(seconds=number),
            }
        )
        return case_id

    for number in range(4000):
        add(agency.id, number, f"{number:064x}")
    shared = "f" * 64
    first = add(agency.id, 5000, shared)  # the same address, other bytes (it changed)
    second = add(agency.id, 5001, shared)
    add(other.id, 5002, shared)  # Québec's case on that address is not France's to see
    with database.engine.begin() as conn:
        conn.execute(insert(ItemRow), items)
        conn.execute(insert(CaseRow), cases)
    with (
        recorded_statements(database, lambda s: "FROM cases JOIN items" in s) as kept,
        database.unit_of_work() as uow,
    ):
        related = uow.queue.related_cases(agency.id, second)
    assert related == [(first, None)]
    assert kept
    for statement, parameters in kept:
        plan = query_plan(database, statement, parameters, forbid=["seqscan", "sort"])
        assert "ix_cases_agency_id" not in plan and "SCAN" not in plan, plan
