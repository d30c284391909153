"""Putting scan results into the review queue, idempotently: an item is keyed by its SHA-256
and its canonical URL; seeing it again adds a sighting, never a second case."""

from __future__ import annotations

import enum
import json

from passerelle.core.audit import AuditEntry
from passerelle.core.ports import Candidate, ContentStore, ItemFindings, UnitOfWork
from passerelle.scan import ScanResult
from passerelle.services.search import index_preserved_text


class Queued(enum.StrEnum):
    OPENED = "opened"
    SEEN_AGAIN = "seen_again"
    ALREADY_RECORDED = "already_recorded"
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
    url_signal = result.signal("url")
    candidate = Candidate(
        findings=findings_of(result),
        url_hash=url_signal.value if url_signal else None,
        url=result.url,
        source=result.source,
        content=result.content,
    )
    return queue_candidate(
        uow, agency_code=agency_code, candidate=candidate, actor=actor, store=store
    )


def queue_candidate(
    uow: UnitOfWork,
    *,
    agency_code: str,
    candidate: Candidate,
    actor: str,
    store: ContentStore | None = None,
    once_per_source: bool = False,
) -> Queued:
    """Open a case for a matched item, or record a sighting of one the agency knows. With
    `once_per_source`, a sighting from the same source is recorded once (an import run twice
    adds nothing)."""
    agency = uow.agencies.get_by_code(agency_code)
    found = candidate.findings
    known = uow.queue.find_item(agency.id, found.sha256, candidate.url_hash)
    origin = "scan"
    if known is not None:
        if once_per_source and uow.queue.has_sighting(known.item_id, candidate.source):
            return Queued.ALREADY_RECORDED
        uow.queue.add_sighting(
            known.item_id, source=candidate.source, url=candidate.url, origin=origin
        )
        return Queued.SEEN_AGAIN
    item_id = uow.queue.add_item(
        agency_id=agency.id,
        sha256=found.sha256,
        url_hash=candidate.url_hash,
        url=candidate.url,
        media_type=found.media_type,
        signals_json=found.signals_json,
    )
    uow.queue.add_sighting(item_id, source=candidate.source, url=candidate.url, origin=origin)
    if store is not None and candidate.content is not None:
        store.put(candidate.content)
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
    if store is not None and candidate.content is not None:
        # Search: the preserved text's words, as keyed digests (purged with the content).
        index_preserved_text(
            uow, store, agency_id=agency.id, case_id=case_id, data=candidate.content
        )
    uow.audit.append(
        AuditEntry(
            action="case.opened",
            actor=actor,
            agency_id=agency.id,
            object_type="case",
            object_id=case_id,
            details={"sha256": found.sha256, "score": found.score, "source": origin},
        )
    )
    return Queued.OPENED
