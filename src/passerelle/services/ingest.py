"""Putting scan results into the review queue, idempotently: an item is keyed by its SHA-256
and its canonical URL; seeing it again adds a sighting, never a second case."""

from __future__ import annotations

import enum
import json

from passerelle.core.audit import AuditEntry
from passerelle.core.ports import ContentStore, ItemFindings, UnitOfWork
from passerelle.scan import ScanResult


class Queued(enum.StrEnum):
    OPENED = "opened"
    SEEN_AGAIN = "seen_again"
    NOT_QUEUED = "not_queued"


def findings_of(result: ScanResult) -> ItemFindings:
    """A scan result as the queue stores it."""
    return ItemFindings(
        sha256=result.sha256,
        media_type=result.media_type,
        signals_json=json.dumps({s.type: s.value for s in result.signals}, sort_keys=True),
        score=result.score,
        reasons_json=json.dumps(
            [e.as_dict() for e in result.explanations], ensure_ascii=False, sort_keys=True
        ),
        matches_json=json.dumps([m.as_dict() for m in result.matches], sort_keys=True),
        language=result.language,
        title=result.title,
    )


def queue_result(
    uow: UnitOfWork,
    *,
    agency_code: str,
    result: ScanResult,
    actor: str,
    store: ContentStore | None = None,
) -> Queued:
    """Open a case for a result with matches; record a sighting of one already known. With a
    store, the matched bytes are preserved (encrypted) for the analyst and the record."""
    if not result.matches:
        return Queued.NOT_QUEUED
    agency = uow.agencies.get_by_code(agency_code)
    url_signal = result.signal("url")
    url_hash = url_signal.value if url_signal else None
    known = uow.queue.find_item(agency.id, result.sha256, url_hash)
    origin = "scan"
    if known is not None:
        uow.queue.add_sighting(known.item_id, source=result.source, url=result.url, origin=origin)
        return Queued.SEEN_AGAIN
    found = findings_of(result)
    item_id = uow.queue.add_item(
        agency_id=agency.id,
        sha256=found.sha256,
        url_hash=url_hash,
        url=result.url,
        media_type=found.media_type,
        signals_json=found.signals_json,
    )
    uow.queue.add_sighting(item_id, source=result.source, url=result.url, origin=origin)
    if store is not None and result.content is not None:
        store.put(result.content)
    case_id = uow.queue.open_case(
        agency_id=agency.id,
        item_id=item_id,
        source=origin,
        score=found.score,
        reasons_json=found.reasons_json,
        matches_json=found.matches_json,
        language=found.language,
        title=found.title,
    )
    uow.audit.append(
        AuditEntry(
            action="case.opened",
            actor=actor,
            agency_id=agency.id,
            object_type="case",
            object_id=case_id,
            details={"sha256": result.sha256, "score": result.score, "source": origin},
        )
    )
    return Queued.OPENED
