"""Internal notes on cases in SQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from passerelle.core.note import CaseNote
from passerelle.db.models import CaseNoteRow


def _note(row: CaseNoteRow) -> CaseNote:
    moment = row.created_at
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return CaseNote(row.id, row.case_id, row.written_by, row.text, moment)


class SqlNoteRepo:
    def __init__(self, session: Session) -> None:
        self._s = session

    def add(
        self, *, agency_id: str, case_id: str, author: str, text: str, when: datetime
    ) -> CaseNote:
        row = CaseNoteRow(
            id=str(uuid.uuid4()),
            agency_id=agency_id,
            case_id=case_id,
            written_by=author,
            text=text,
            created_at=when,
        )
        self._s.add(row)
        self._s.flush()
        return _note(row)

    def for_case(self, agency_id: str, case_id: str) -> list[CaseNote]:
        rows = self._s.scalars(
            select(CaseNoteRow)
            .where(CaseNoteRow.agency_id == agency_id, CaseNoteRow.case_id == case_id)
            .order_by(CaseNoteRow.created_at, CaseNoteRow.id)
        )
        return [_note(r) for r in rows]
