"""Decisions in SQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from passerelle.core.decision import Decision, DecisionInput, Reason, Recommendation, Verdict
from passerelle.core.taxonomy import Category
from passerelle.db.models import DecisionRow, RecommendationRow


@cache
def _case_decisions() -> Any:
    """A case's decisions, oldest first: built once (read by every case page and referral)."""
    return (
        select(DecisionRow)
        .where(
            DecisionRow.agency_id == bindparam("agency_id"),
            DecisionRow.case_id == bindparam("case_id"),
        )
        .order_by(DecisionRow.decided_at)
    )


def _to_decision(row: DecisionRow) -> Decision:
    return Decision(
        id=row.id,
        case_id=row.case_id,
        decided_by=row.decided_by,
        verdict=Verdict(row.verdict),
        category=Category(row.category) if row.category else None,
        reason=Reason(row.reason) if row.reason else None,
        exemption_checked=row.exemption_checked,
        rationale=row.rationale,
        legal_basis=row.legal_basis,
        bank=row.bank,
        decided_at=row.decided_at if row.decided_at.tzinfo else row.decided_at.replace(tzinfo=UTC),
    )


class SqlDecisionRepo:
    def __init__(self, session: Session) -> None:
        self._s = session

    def add(
        self, *, agency_id: str, case_id: str, decided_by: str, decision: DecisionInput
    ) -> Decision:
        row = DecisionRow(
            id=str(uuid.uuid4()),
            case_id=case_id,
            agency_id=agency_id,
            decided_by=decided_by,
            verdict=decision.verdict.value,
            category=decision.category.value if decision.category else None,
            reason=decision.reason.value if decision.reason else None,
            exemption_checked=decision.exemption_checked,
            rationale=decision.rationale,
            legal_basis=decision.legal_basis,
            bank=decision.add_to_bank,
            decided_at=datetime.now(UTC),
        )
        self._s.add(row)
        self._s.flush()
        return _to_decision(row)

    def list_for_case(self, agency_id: str, case_id: str) -> list[Decision]:
        rows = self._s.scalars(_case_decisions(), {"agency_id": agency_id, "case_id": case_id})
        return [_to_decision(r) for r in rows]

    def add_recommendation(
        self, *, agency_id: str, case_id: str, controller: str, text: str
    ) -> Recommendation:
        row = RecommendationRow(
            id=str(uuid.uuid4()),
            agency_id=agency_id,
            case_id=case_id,
            controller=controller,
            text=text,
            created_at=datetime.now(UTC),
        )
        self._s.add(row)
        self._s.flush()
        return Recommendation(row.id, row.case_id, row.controller, row.text, row.created_at)

    def recommendations(self, agency_id: str, case_id: str) -> list[Recommendation]:
        rows = self._s.scalars(
            select(RecommendationRow)
            .where(RecommendationRow.agency_id == agency_id, RecommendationRow.case_id == case_id)
            .order_by(RecommendationRow.created_at)
        )
        return [
            Recommendation(
                r.id,
                r.case_id,
                r.controller,
                r.text,
                r.created_at if r.created_at.tzinfo else r.created_at.replace(tzinfo=UTC),
            )
            for r in rows
        ]
