"""Putting scan results into the review queue, idempotently: an item is keyed by its SHA-256
and its canonical URL; seeing it again adds a sighting (once per source and address), never a
second case.

Many candidates go in by batches, one transaction each (`queue_batch`): their content is
staged before the transaction and published after its commit, so that a crash at any point
leaves neither a case without its content for long (`sweep_content` publishes what committed)
nor content that no case refers to (it sweeps away what did not)."""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager

from passerelle.core.audit import AuditEntry
from passerelle.core.ports import (
    Candidate,
    ContentStore,
    ItemFindings,
    StagedContent,
    Swept,
    UnitOfWork,
)
from passerelle.core.search import distinct_words
from passerelle.core.video import thumbnail_name
from passerelle.scan import ScanResult, compared_text
from passerelle.services.search import index_preserved_text

UnitOfWorkFactory = Callable[[], AbstractContextManager[UnitOfWork]]
Preserve = Callable[[bytes], object]


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


def candidate_of(result: ScanResult) -> Candidate:
    url_signal = result.signal("url")
    return Candidate(
        findings=findings_of(result),
        url_hash=url_signal.value if url_signal else None,
        url=result.url,
        source=result.source,
        content=result.content,
        thumbnails=result.thumbnails,
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
    return queue_candidate(
        uow, agency_code=agency_code, candidate=candidate_of(result), actor=actor, store=store
    )


def queue_candidate(
    uow: UnitOfWork,
    *,
    agency_code: str,
    candidate: Candidate,
    actor: str,
    store: ContentStore | None = None,
) -> Queued:
    """Open a case for a matched item, or record a sighting of one the agency knows (a
    sighting from the same source and address is recorded once: a run repeated adds
    nothing). The content is written at once: for many, `queue_batch` is crash-safe."""
    agency = uow.agencies.get_by_code(agency_code)
    preserve = store.put if store is not None else None
    return _queue_one(uow, agency.id, candidate, actor, store, preserve)


def _queue_one(
    uow: UnitOfWork,
    agency_id: str,
    candidate: Candidate,
    actor: str,
    store: ContentStore | None,
    preserve: Preserve | None,
) -> Queued:
    found = candidate.findings
    origin = "scan"
    known = uow.queue.find_item(agency_id, found.sha256, candidate.url_hash)
    if known is not None:
        added = uow.queue.add_sighting(
            known.item_id, source=candidate.source, url=candidate.url, origin=origin
        )
        return Queued.SEEN_AGAIN if added else Queued.ALREADY_RECORDED
    item_id = uow.queue.add_item(
        agency_id=agency_id,
        sha256=found.sha256,
        url_hash=candidate.url_hash,
        url=candidate.url,
        media_type=found.media_type,
        signals_json=found.signals_json,
    )
    uow.queue.add_sighting(item_id, source=candidate.source, url=candidate.url, origin=origin)
    if preserve is not None and candidate.content is not None:
        preserve(candidate.content)
        if store is not None:
            for moment, picture in candidate.thumbnails:
                store.put_derived(found.sha256, thumbnail_name(moment), picture)
    case_id = uow.queue.open_case(
        agency_id=agency_id,
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
            uow, store, agency_id=agency_id, case_id=case_id, data=candidate.content
        )
    uow.audit.append(
        AuditEntry(
            action="case.opened",
            actor=actor,
            agency_id=agency_id,
            object_type="case",
            object_id=case_id,
            details={"sha256": found.sha256, "score": found.score, "source": origin},
        )
    )
    return Queued.OPENED


def queue_batch(
    open_uow: UnitOfWorkFactory,
    *,
    agency_code: str,
    candidates: Sequence[Candidate],
    actor: str,
    store: ContentStore | None = None,
) -> list[Queued]:
    """Queue many candidates in one transaction. New content is staged during it and
    published only after the commit (discarded if it fails), so that a crash leaves no stored
    file that no item refers to."""
    staged: list[StagedContent] = []
    preserve: Preserve | None = None
    if store is not None:
        stage = store.stage
        preserve = lambda data: staged.append(stage(data))  # noqa: E731
    try:
        with open_uow() as uow:
            agency = uow.agencies.get_by_code(agency_code)
            outcomes = _queue_many(uow, agency.id, candidates, actor, store, preserve)
            uow.commit()
    except BaseException:
        if store is not None:
            for each in staged:
                store.discard(each)
        raise
    if store is not None:
        for each in staged:
            store.publish(each)
    return outcomes


def _queue_many(
    uow: UnitOfWork,
    agency_id: str,
    candidates: Sequence[Candidate],
    actor: str,
    store: ContentStore | None,
    preserve: Preserve | None,
) -> list[Queued]:
    """What `_queue_one` does for each candidate in turn, with the same outcomes, in a few
    statements for the whole batch: the items looked up at once, the new ones written at
    once, their audit events chained at once. A candidate whose content or address came
    earlier in the same batch is a sighting of that item, as it would be one by one."""
    known = uow.queue.find_items(agency_id, [(c.findings.sha256, c.url_hash) for c in candidates])
    fresh: list[Candidate] = []
    by_sha: dict[str, int] = {}  # of a new item: its place in `fresh`
    by_url: dict[str, int] = {}
    seen_of: list[tuple[int, int | str]] = []  # (candidate, new item's place or known item)
    for number, (candidate, item) in enumerate(zip(candidates, known, strict=True)):
        sha, url_hash = candidate.findings.sha256, candidate.url_hash
        if item is not None:
            seen_of.append((number, item.item_id))
        elif sha in by_sha:
            seen_of.append((number, by_sha[sha]))
        elif url_hash and url_hash in by_url:
            seen_of.append((number, by_url[url_hash]))
        else:
            by_sha[sha] = len(fresh)
            if url_hash:
                by_url.setdefault(url_hash, len(fresh))
            fresh.append(candidate)
    origin = "scan"
    made = uow.queue.add_new(agency_id, fresh, origin=origin)
    seen = {number for number, _ in seen_of}
    results = {n: Queued.OPENED for n in range(len(candidates)) if n not in seen}
    for number, target in seen_of:
        item_id = made[target].item_id if isinstance(target, int) else target
        candidate = candidates[number]
        added = uow.queue.add_sighting(
            item_id, source=candidate.source, url=candidate.url, origin=origin
        )
        results[number] = Queued.SEEN_AGAIN if added else Queued.ALREADY_RECORDED
    words: list[tuple[str, list[str]]] = []
    for candidate, queued in zip(fresh, made, strict=True):
        if preserve is not None and candidate.content is not None:
            preserve(candidate.content)
            if store is not None:
                for moment, picture in candidate.thumbnails:
                    store.put_derived(candidate.findings.sha256, thumbnail_name(moment), picture)
        if store is not None and candidate.content is not None:
            text = compared_text(candidate.content)
            if text:
                words.append((queued.item_id, store.blind_words(distinct_words(text))))
    uow.queue.add_word_keys(agency_id, words)
    uow.audit.append_many(
        [
            AuditEntry(
                action="case.opened",
                actor=actor,
                agency_id=agency_id,
                object_type="case",
                object_id=str(queued.case_id),
                details={
                    "sha256": candidate.findings.sha256,
                    "score": candidate.findings.score,
                    "source": origin,
                },
            )
            for candidate, queued in zip(fresh, made, strict=True)
        ]
    )
    return [results[number] for number in range(len(candidates))]


def refresh_statistics(open_uow: UnitOfWorkFactory) -> None:
    """After a large ingest: the planner's statistics brought up to date (indexes stay used)."""
    with open_uow() as uow:
        uow.queue.refresh_statistics()
        uow.commit()


def sweep_content(
    open_uow: UnitOfWorkFactory,
    store: ContentStore,
    *,
    grace_seconds: float,
    staged_only: bool = False,
) -> Swept:
    """Bring the content store back in step with the database after a crash: publish staged
    content whose transaction committed, delete files that no item refers to (older than
    `grace_seconds`)."""
    with open_uow() as uow:
        return store.sweep(
            uow.jobs.kept_content, grace_seconds=grace_seconds, staged_only=staged_only
        )
