"""Public reports in SQL, and the hourly rate limit by keyed source hash."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from passerelle.core.public_report import PublicReport
from passerelle.db.models import PublicReportRow


# The rate limit's statements, run at every public report: built once (building them cost
# more than running them).
@cache
def _forget_statement() -> Any:
    return (
        update(PublicReportRow)
        .where(
            PublicReportRow.created_at < bindparam("before"),
            PublicReportRow.source_hash.is_not(None),
        )
        .values(source_hash=None)
    )


@cache
def _count_statement() -> Any:
    return (
        select(func.count())
        .select_from(PublicReportRow)
        .where(
            PublicReportRow.source_hash == bindparam("source_hash"),
            PublicReportRow.created_at >= bindparam("since"),
        )
    )


class SqlPublicReportRepo:
    def __init__(self, session: Session) -> None:
        self._s = session

    def forget_sources(self, before: datetime) -> None:
        """Drop the source hashes older than the rate-limit window."""
        self._s.execute(_forget_statement(), {"before": before})

    def count_from(self, source_hash: str, since: datetime) -> int:
        count = self._s.scalar(_count_statement(), {"source_hash": source_hash, "since": since})
        return int(count or 0)

    def add(
        self,
        *,
        reference: str,
        agency_id: str,
        case_id: str | None,
        url: str,
        category: str | None,
        description: str,
        source_hash: str,
        when: datetime,
    ) -> None:
        self._s.add(
            PublicReportRow(
                reference=reference,
                agency_id=agency_id,
                case_id=case_id,
                url=url,
                category=category,
                description=description,
                source_hash=source_hash,
                created_at=when,
            )
        )
        self._s.flush()

    def for_case(self, agency_id: str, case_id: str) -> list[PublicReport]:
        """Every report of the case's address, oldest first."""
        rows = self._s.scalars(
            select(PublicReportRow)
            .where(PublicReportRow.agency_id == agency_id, PublicReportRow.case_id == case_id)
            .order_by(PublicReportRow.created_at, PublicReportRow.reference)
        )
        return [
            PublicReport(
                r.reference,
                r.url,
                r.category,
                r.description,
                r.created_at if r.created_at.tzinfo else r.created_at.replace(tzinfo=UTC),
            )
            for r in rows
        ]


WINDOW = timedelta(hours=1)
