"""Host actions on referrals and complaints, in SQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from passerelle.core.complaint import Complaint
from passerelle.core.errors import NotFound
from passerelle.db.models import ComplaintRow, ReferralRow


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment and moment.tzinfo is None else moment


def _complaint(row: ComplaintRow) -> Complaint:
    return Complaint(
        id=row.id,
        referral_id=row.referral_id,
        case_id=row.case_id,
        text=row.text,
        created_at=_aware(row.created_at) or row.created_at,
        deadline_at=_aware(row.deadline_at) or row.deadline_at,
        outcome=row.outcome,
        decided_by=row.decided_by,
        rationale=row.rationale,
    )


class SqlComplaintRepo:
    def __init__(self, session: Session) -> None:
        self._s = session

    def referral_agency(self, referral_id: str) -> tuple[str, str]:
        """(agency id, case id) of a referral, for the host's signed link (no login)."""
        row = self._s.get(ReferralRow, referral_id)
        if row is None:
            raise NotFound("referral not found")
        return row.agency_id, row.case_id

    def acknowledge(self, referral_id: str, when: datetime) -> None:
        row = self._s.get(ReferralRow, referral_id)
        if row is not None and row.acknowledged_at is None:
            row.acknowledged_at = when

    def declare_removed(self, referral_id: str, when: datetime) -> None:
        row = self._s.get(ReferralRow, referral_id)
        if row is not None and row.removal_declared_at is None:
            row.removal_declared_at = when

    def add(
        self,
        *,
        agency_id: str,
        referral_id: str,
        case_id: str,
        text: str,
        when: datetime,
        deadline: datetime,
    ) -> Complaint:
        row = ComplaintRow(
            id=str(uuid.uuid4()),
            agency_id=agency_id,
            referral_id=referral_id,
            case_id=case_id,
            text=text,
            created_at=when,
            deadline_at=deadline,
        )
        self._s.add(row)
        self._s.flush()
        return _complaint(row)

    def for_case(self, agency_id: str, case_id: str) -> list[Complaint]:
        rows = self._s.scalars(
            select(ComplaintRow)
            .where(ComplaintRow.agency_id == agency_id, ComplaintRow.case_id == case_id)
            .order_by(ComplaintRow.created_at)
        )
        return [_complaint(r) for r in rows]

    def get(self, agency_id: str, complaint_id: str) -> Complaint:
        row = self._s.get(ComplaintRow, complaint_id)
        if row is None or row.agency_id != agency_id:
            raise NotFound("complaint not found")
        return _complaint(row)

    def decide(
        self,
        agency_id: str,
        complaint_id: str,
        *,
        outcome: str,
        decided_by: str,
        rationale: str,
        when: datetime,
    ) -> None:
        row = self._s.get(ComplaintRow, complaint_id)
        if row is None or row.agency_id != agency_id:
            raise NotFound("complaint not found")
        row.outcome, row.decided_by, row.rationale, row.decided_at = (
            outcome,
            decided_by,
            rationale,
            when,
        )
