"""The facts of a period for the transparency report."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from passerelle.core.decision import Reason, Verdict
from passerelle.core.report import ReportFigures
from passerelle.db.models import (
    CaseRow,
    ComplaintRow,
    DecisionRow,
    RecommendationRow,
    ReferralRow,
)


def _aware(moment: datetime | None) -> datetime:
    if moment is None:  # the query keeps only rows where it is set
        raise ValueError("a time is missing")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class SqlReportRepo:
    def __init__(self, session: Session) -> None:
        self._s = session

    def figures(self, agency_id: str, start: datetime, end: datetime) -> ReportFigures:
        """The counts of the period, summed by the database: nothing is read case by case."""
        opened = (
            CaseRow.agency_id == agency_id,
            CaseRow.created_at >= start,
            CaseRow.created_at < end,
        )
        # One pass over an index holding these columns (migration 0025): no case row is read.
        by_source: dict[str, int] = {}
        by_tier: dict[str, int] = {}
        for source, tier, count in self._s.execute(
            select(CaseRow.source, CaseRow.top_tier, func.count())
            .where(*opened)
            .group_by(CaseRow.source, CaseRow.top_tier)
        ):
            by_source[source] = by_source.get(source, 0) + count
            by_tier[tier or "none"] = by_tier.get(tier or "none", 0) + count
        # A case decided twice in the period counts by its last decision.
        ranked = (
            select(
                DecisionRow.verdict,
                DecisionRow.category,
                DecisionRow.reason,
                func.row_number()
                .over(
                    partition_by=DecisionRow.case_id,
                    order_by=(DecisionRow.decided_at.desc(), DecisionRow.id.desc()),
                )
                .label("rank"),
            )
            .where(
                DecisionRow.agency_id == agency_id,
                DecisionRow.decided_at >= start,
                DecisionRow.decided_at < end,
            )
            .subquery()
        )
        finals = {
            (Verdict(verdict), category, Reason(reason) if reason else None): count
            for verdict, category, reason, count in self._s.execute(
                select(ranked.c.verdict, ranked.c.category, ranked.c.reason, func.count())
                .where(ranked.c.rank == 1)
                .group_by(ranked.c.verdict, ranked.c.category, ranked.c.reason)
            )
        }
        made = (
            ReferralRow.agency_id == agency_id,
            ReferralRow.created_at >= start,
            ReferralRow.created_at < end,
        )
        by_kind = {
            kind: count
            for kind, count in self._s.execute(
                select(ReferralRow.kind, func.count()).where(*made).group_by(ReferralRow.kind)
            )
        }
        sent = self._s.scalar(
            select(func.count())
            .select_from(ReferralRow)
            .where(*made, ReferralRow.sent_at.is_not(None))
        )
        # Only the referrals found gone are read (two times each), for the percentiles.
        hours = [
            (_aware(offline) - _aware(sent_at)).total_seconds() / 3600
            for sent_at, offline in self._s.execute(
                select(ReferralRow.sent_at, ReferralRow.offline_at).where(
                    *made, ReferralRow.sent_at.is_not(None), ReferralRow.offline_at.is_not(None)
                )
            )
        ]
        complaints, reinstatements = self.complaints(agency_id, start, end)
        return ReportFigures(
            cases_by_source=by_source,
            cases_by_tier=by_tier,
            finals=finals,
            referrals_by_kind=by_kind,
            referrals_sent=int(sent or 0),
            hours_to_removal=hours,
            recommendations=self.recommendations(agency_id, start, end),
            complaints=complaints,
            reinstatements=reinstatements,
        )

    def complaints(self, agency_id: str, start: datetime, end: datetime) -> tuple[int, int]:
        """(complaints received, reinstatements decided) in the period."""
        received = self._s.scalar(
            select(func.count())
            .select_from(ComplaintRow)
            .where(
                ComplaintRow.agency_id == agency_id,
                ComplaintRow.created_at >= start,
                ComplaintRow.created_at < end,
            )
        )
        reinstated = self._s.scalar(
            select(func.count())
            .select_from(ComplaintRow)
            .where(
                ComplaintRow.agency_id == agency_id,
                ComplaintRow.outcome == "reinstated",
                ComplaintRow.decided_at >= start,
                ComplaintRow.decided_at < end,
            )
        )
        return int(received or 0), int(reinstated or 0)

    def recommendations(self, agency_id: str, start: datetime, end: datetime) -> int:
        count = self._s.scalar(
            select(func.count())
            .select_from(RecommendationRow)
            .where(
                RecommendationRow.agency_id == agency_id,
                RecommendationRow.created_at >= start,
                RecommendationRow.created_at < end,
            )
        )
        return int(count or 0)
