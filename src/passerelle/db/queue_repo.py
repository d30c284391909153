"""Items, sightings and cases in SQL: what `--into-queue` writes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from passerelle.core.ports import QueuedItem
from passerelle.db.models import CaseRow, ItemRow, SightingRow


class SqlQueueRepo:
    def __init__(self, session: Session) -> None:
        self._s = session

    def find_item(self, agency_id: str, sha256: str, url_hash: str | None) -> QueuedItem | None:
        same = ItemRow.sha256 == sha256
        if url_hash:
            same = or_(same, ItemRow.url_hash == url_hash)
        item = self._s.scalar(
            select(ItemRow)
            .where(ItemRow.agency_id == agency_id, same)
            .order_by(ItemRow.first_seen_at)
        )
        if item is None:
            return None
        case_id = self._s.scalar(select(CaseRow.id).where(CaseRow.item_id == item.id))
        return QueuedItem(item_id=item.id, case_id=case_id)

    def add_item(
        self,
        *,
        agency_id: str,
        sha256: str,
        url_hash: str | None,
        url: str | None,
        media_type: str,
        signals_json: str,
    ) -> str:
        row = ItemRow(
            id=str(uuid.uuid4()),
            agency_id=agency_id,
            sha256=sha256,
            url_hash=url_hash,
            url=url,
            media_type=media_type,
            signals_json=signals_json,
            first_seen_at=datetime.now(UTC),
        )
        self._s.add(row)
        self._s.flush()
        return row.id

    def add_sighting(self, item_id: str, *, source: str, url: str | None, origin: str) -> None:
        self._s.add(
            SightingRow(
                item_id=item_id, source=source, url=url, origin=origin, seen_at=datetime.now(UTC)
            )
        )

    def open_case(
        self,
        *,
        agency_id: str,
        item_id: str,
        source: str,
        score: int,
        reasons_json: str,
        matches_json: str,
        language: str | None,
        title: str | None,
    ) -> str:
        row = CaseRow(
            id=str(uuid.uuid4()),
            agency_id=agency_id,
            item_id=item_id,
            status="open",
            source=source,
            score=score,
            reasons_json=reasons_json,
            matches_json=matches_json,
            language=language,
            title=title,
            created_at=datetime.now(UTC),
        )
        self._s.add(row)
        self._s.flush()
        return row.id

    def count_cases(self, agency_id: str) -> int:
        count = self._s.scalar(
            select(func.count()).select_from(CaseRow).where(CaseRow.agency_id == agency_id)
        )
        return int(count or 0)
