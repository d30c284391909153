"""The queue's pages are read from an index in the queue's order on both engines: no
temporary sort of the cases, however many there are (issue: 100,000 cases, 1.5 s a page)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import event, text

from passerelle.core.case import CaseStatus, PageRequest, QueueFilters, QueueKey, QueueSort
from passerelle.db.session import Database
from tests.factories import make_agency

KEY = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("sort", [s for s in QueueSort if s is not QueueSort.DEADLINE])
@pytest.mark.parametrize("status", [CaseStatus.OPEN, None])
def test_a_deep_page_is_read_in_index_order(
    database: Database, sort: QueueSort, status: CaseStatus | None
) -> None:
    with database.unit_of_work(write=True) as uow:
        agency = make_agency(uow)
        uow.commit()
    statements: list[tuple[str, object]] = []

    def keep(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if "FROM cases" in statement and "count(" not in statement:
            statements.append((statement, parameters))

    event.listen(database.engine, "before_cursor_execute", keep)
    try:
        with database.unit_of_work() as uow:
            page = PageRequest(sort=sort, after=QueueKey(sort, KEY, "x", 50))
            uow.queue.page_cases(agency.id, QueueFilters(status=status), page)
    finally:
        event.remove(database.engine, "before_cursor_execute", keep)
    (statement, parameters), *_ = statements
    with database.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            plan = " | ".join(
                str(row[-1])
                for row in conn.exec_driver_sql(
                    "EXPLAIN QUERY PLAN " + statement,
                    parameters,  # type: ignore[arg-type]
                )
            )
            assert "TEMP B-TREE" not in plan, plan
            assert "ix_cases_queue" in plan, plan
        else:
            # An empty table is scanned whatever the indexes: forbid what can be avoided.
            conn.execute(text("SET enable_seqscan = off"))
            conn.execute(text("SET enable_sort = off"))
            plan = " | ".join(
                str(row[0])
                for row in conn.exec_driver_sql(
                    "EXPLAIN " + statement,
                    parameters,  # type: ignore[arg-type]
                )
            )
            assert "Sort" not in plan, plan
            assert "ix_cases_queue" in plan, plan
