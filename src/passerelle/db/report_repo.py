"""The facts of a period for the transparency report."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from passerelle.core.decision import Reason, Verdict
from passerelle.core.report import CaseFact, DecisionFact, ReferralFact
from passerelle.core.taxonomy import TIER_WEIGHT, Tier
from passerelle.db.models import (
    CaseRow,
    ComplaintRow,
    DecisionRow,
    RecommendationRow,
    ReferralRow,
)


def _top_tier(matches_json: str) -> str | None:
    tiers = [Tier(m["labels"]["tier"]) for m in json.loads(matches_json) if m["labels"].get("tier")]
    return max(tiers, key=lambda t: TIER_WEIGHT[t]).value if tiers else None


class SqlReportRepo:
    def __init__(self, session: Session) -> None:
        self._s = session

    def cases(self, agency_id: str, start: datetime, end: datetime) -> list[CaseFact]:
        rows = self._s.execute(
            select(CaseRow.id, CaseRow.source, CaseRow.matches_json).where(
                CaseRow.agency_id == agency_id,
                CaseRow.created_at >= start,
                CaseRow.created_at < end,
            )
        )
        return [CaseFact(case_id, source, _top_tier(matches)) for case_id, source, matches in rows]

    def decisions(self, agency_id: str, start: datetime, end: datetime) -> list[DecisionFact]:
        rows = self._s.execute(
            select(
                DecisionRow.case_id, DecisionRow.verdict, DecisionRow.category, DecisionRow.reason
            )
            .where(
                DecisionRow.agency_id == agency_id,
                DecisionRow.decided_at >= start,
                DecisionRow.decided_at < end,
            )
            .order_by(DecisionRow.decided_at)
        )
        return [
            DecisionFact(case_id, Verdict(verdict), category, Reason(reason) if reason else None)
            for case_id, verdict, category, reason in rows
        ]

    def referrals(self, agency_id: str, start: datetime, end: datetime) -> list[ReferralFact]:
        rows = self._s.execute(
            select(
                ReferralRow.case_id, ReferralRow.kind, ReferralRow.sent_at, ReferralRow.offline_at
            ).where(
                ReferralRow.agency_id == agency_id,
                ReferralRow.created_at >= start,
                ReferralRow.created_at < end,
            )
        )
        facts = []
        for case_id, kind, sent_at, offline_at in rows:
            hours = None
            if sent_at is not None and offline_at is not None:
                hours = (offline_at - sent_at).total_seconds() / 3600
            facts.append(ReferralFact(case_id, kind, sent_at is not None, hours))
        return facts

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
