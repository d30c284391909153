"""The dashboard's work lists and the referrals list in SQL: each list is counted and its
first entries read through indexes, never by loading the agency's records."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session

from passerelle.core.message import load_message
from passerelle.core.referral import Referral
from passerelle.core.work import SHOWN, ReferralFilters, WorkItem, WorkKind, WorkList
from passerelle.db.models import (
    AgreementRow,
    CaseRow,
    ComplaintRow,
    DecisionRow,
    HostRow,
    PartnerRow,
    RecommendationRow,
    ReferralRow,
)
from passerelle.db.referral_repo import _referral as referral_of


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment and moment.tzinfo is None else moment


class SqlWorkRepo:
    def __init__(self, session: Session) -> None:
        self._s = session

    def _listed(self, kind: WorkKind, query: Any, order: list[Any], make: Any) -> WorkList:
        total = self._s.scalar(select(func.count()).select_from(query.subquery()))
        rows = self._s.execute(query.order_by(*order).limit(SHOWN))
        return WorkList(kind, int(total or 0), [make(row) for row in rows])

    def awaiting_approval(self, agency_id: str, viewer: str) -> WorkList:
        """Removal orders waiting for an approver other than the one who prepared them."""
        query = select(ReferralRow).where(
            ReferralRow.agency_id == agency_id,
            ReferralRow.status == "awaiting_approval",
            ReferralRow.created_by != viewer,
        )
        return self._listed(
            WorkKind.AWAITING_APPROVAL,
            query,
            [ReferralRow.created_at, ReferralRow.id],
            lambda row: WorkItem(
                row[0].id, row[0].case_id, row[0].url, _aware(row[0].created_at), row[0].created_by
            ),
        )

    def deadlines(self, agency_id: str, until: datetime) -> WorkList:
        """Referrals sent, content not yet gone, whose deadline passes before `until`
        (the overdue ones too)."""
        query = select(ReferralRow).where(
            ReferralRow.agency_id == agency_id,
            ReferralRow.deadline_at.is_not(None),
            ReferralRow.deadline_at < until,
            ReferralRow.offline_at.is_(None),
            ReferralRow.removal_declared_at.is_(None),
        )
        return self._listed(
            WorkKind.DEADLINES,
            query,
            [ReferralRow.deadline_at, ReferralRow.id],
            lambda row: WorkItem(row[0].id, row[0].case_id, row[0].url, _aware(row[0].deadline_at)),
        )

    def complaints(self, agency_id: str) -> WorkList:
        query = select(ComplaintRow).where(
            ComplaintRow.agency_id == agency_id, ComplaintRow.outcome.is_(None)
        )
        return self._listed(
            WorkKind.COMPLAINTS,
            query,
            [ComplaintRow.deadline_at, ComplaintRow.id],
            lambda row: WorkItem(
                row[0].id, row[0].case_id, row[0].text[:120], _aware(row[0].deadline_at)
            ),
        )

    def recommendations(self, agency_id: str) -> WorkList:
        """Controllers' recommendations that no decision on their case followed yet."""
        answered = exists().where(
            DecisionRow.case_id == RecommendationRow.case_id,
            DecisionRow.decided_at > RecommendationRow.created_at,
        )
        query = select(RecommendationRow).where(RecommendationRow.agency_id == agency_id, ~answered)
        return self._listed(
            WorkKind.RECOMMENDATIONS,
            query,
            [RecommendationRow.created_at, RecommendationRow.id],
            lambda row: WorkItem(
                row[0].id,
                row[0].case_id,
                row[0].text[:120],
                _aware(row[0].created_at),
                row[0].controller,
            ),
        )

    def failed_sendings(self, agency_id: str) -> WorkList:
        query = select(ReferralRow).where(
            ReferralRow.agency_id == agency_id, ReferralRow.status == "send_failed"
        )
        return self._listed(
            WorkKind.FAILED_SENDINGS,
            query,
            [ReferralRow.created_at, ReferralRow.id],
            lambda row: WorkItem(
                row[0].id,
                row[0].case_id,
                row[0].url,
                _aware(row[0].created_at),
                problem=load_message(row[0].last_error_json, row[0].last_error),
            ),
        )

    def assigned(self, agency_id: str, username: str) -> WorkList:
        query = select(CaseRow).where(
            CaseRow.agency_id == agency_id,
            CaseRow.assigned_to == username,
            CaseRow.status == "open",
        )
        return self._listed(
            WorkKind.ASSIGNED,
            query,
            [CaseRow.score.desc(), CaseRow.created_at, CaseRow.id],
            lambda row: WorkItem(
                row[0].id, row[0].id, row[0].title or str(row[0].score), _aware(row[0].created_at)
            ),
        )

    def proposals(self, agency_id: str) -> WorkList:
        """Agreements a partner proposed to the agency, not answered yet."""
        query = (
            select(AgreementRow, PartnerRow.name)
            .join(PartnerRow, PartnerRow.id == AgreementRow.partner_id)
            .where(
                AgreementRow.agency_id == agency_id,
                AgreementRow.status == "proposed",
                AgreementRow.role == "receiver",
            )
        )
        return self._listed(
            WorkKind.PROPOSALS,
            query,
            [AgreementRow.created_at, AgreementRow.id],
            lambda row: WorkItem(row[0].id, None, row[1], _aware(row[0].created_at)),
        )

    def referrals(
        self,
        agency_id: str,
        filters: ReferralFilters,
        *,
        now: datetime,
        before: tuple[datetime, str] | None,
        limit: int,
    ) -> tuple[int, list[tuple[Referral, str]]]:
        """(how many match, a page of (referral, host domain) newest first after `before`)."""
        query = (
            select(ReferralRow, HostRow.domain)
            .join(HostRow, HostRow.id == ReferralRow.host_id)
            .where(ReferralRow.agency_id == agency_id)
        )
        if filters.kind is not None:
            query = query.where(ReferralRow.kind == filters.kind.value)
        if filters.status is not None:
            query = query.where(ReferralRow.status == filters.status.value)
        if filters.host:
            query = query.where(HostRow.domain == filters.host)
        if filters.overdue:
            query = query.where(
                ReferralRow.deadline_at < now,
                ReferralRow.offline_at.is_(None),
                ReferralRow.removal_declared_at.is_(None),
            )
        total = self._s.scalar(select(func.count()).select_from(query.subquery()))
        if before is not None:
            moment, ident = before
            query = query.where(
                (ReferralRow.created_at < moment)
                | and_(ReferralRow.created_at == moment, ReferralRow.id < ident)
            )
        rows = self._s.execute(
            query.order_by(ReferralRow.created_at.desc(), ReferralRow.id.desc()).limit(limit)
        )
        return int(total or 0), [(referral_of(row[0]), row[1]) for row in rows]
