"""Reports from the public: a URL, an optional category, a short description. Each report
becomes a case whose source is "public" (or a sighting of a case already open for that URL).
Nothing identifies the person: no name, no e-mail, and the source address only as a keyed
hash kept one hour for the rate limit."""

from __future__ import annotations

import json
import secrets
import tempfile
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from passerelle.core.address import Network, describe_host_refusal
from passerelle.core.audit import AuditEntry
from passerelle.core.content import URI_LIST, Content
from passerelle.core.errors import InvalidInput, RateLimited
from passerelle.core.match import Matcher
from passerelle.core.message import Message
from passerelle.core.ports import ContentStore, Fetch, Fetched, UnitOfWork
from passerelle.core.priority import prioritise
from passerelle.core.signals.url import URL, canonicalize_url
from passerelle.core.taxonomy import parse_category
from passerelle.scan import ScanOptions, ScanResult, scan
from passerelle.services.ingest import findings_of
from passerelle.services.matchers import MatcherCache
from passerelle.services.search import index_preserved_text

WINDOW = timedelta(hours=1)
# A message id: the form shows it in the reporter's language.
NOT_PUBLIC = (
    "This address does not lead to the public web (a local or private network):"
    " please report only public pages."
)
MAX_DESCRIPTION = 2000
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def new_reference() -> str:
    return "PSL-" + "".join(secrets.choice(_ALPHABET) for _ in range(8))


def submit_public_report(
    uow: UnitOfWork,
    *,
    agency_code: str,
    url: str,
    category: str,
    description: str,
    source_hash: str,
    per_hour: int,
    matcher: Matcher | None = None,
    now: datetime | None = None,
    allowed: Sequence[Network] = (),
) -> str:
    """Record a report and return its reference for the acknowledgement. An address that does
    not lead to the public web (a private or loopback IP, `localhost`) is refused, unless its
    network is in `allowed` (the fetcher's allow-list)."""
    moment = now or datetime.now(UTC)
    try:
        canonical = canonicalize_url(url)
    except InvalidInput as exc:
        raise InvalidInput(exc.template, field="url", **exc.params) from None
    # Judged as typed, never resolved here: the fetcher checks every DNS answer later.
    if describe_host_refusal(urlsplit(canonical).hostname or "", allowed) is not None:
        raise InvalidInput(NOT_PUBLIC, field="url")
    chosen = parse_category(category).value if category.strip() else None
    text = description.strip()
    if len(text) > MAX_DESCRIPTION:
        raise InvalidInput(
            "the description is limited to %(limit)s characters",
            field="description",
            limit=MAX_DESCRIPTION,
        )
    uow.public_reports.forget_sources(moment - WINDOW)
    if uow.public_reports.count_from(source_hash, moment - WINDOW) >= per_hour:
        raise RateLimited("too many reports from this connection; please try again in an hour")
    agency = uow.agencies.get_by_code(agency_code)
    signal = URL.compute(canonical)
    known = uow.queue.find_item(agency.id, signal.value, signal.value)
    reference = new_reference()
    # The report's events are chained together, in order, under one lock of the audit head.
    events: list[AuditEntry] = []
    if known is not None:
        uow.queue.add_sighting(
            known.item_id, source=f"public:{reference}", url=canonical, origin="public"
        )
        case_id = known.case_id
    else:
        outcome = (matcher or Matcher.build([], [])).match([signal])
        priority = prioritise(outcome, source="public")
        item_id = uow.queue.add_item(
            agency_id=agency.id,
            sha256=signal.value,  # no content fetched yet: the item is its address
            url_hash=signal.value,
            url=canonical,
            media_type=URI_LIST,
            signals_json=json.dumps({"url": signal.value}),
        )
        uow.queue.add_sighting(
            item_id, source=f"public:{reference}", url=canonical, origin="public"
        )
        case_id = uow.queue.open_case(
            agency_id=agency.id,
            item_id=item_id,
            source="public",
            score=priority.score,
            reasons_json=json.dumps([e.as_dict() for e in priority.explanations], sort_keys=True),
            matches_json=json.dumps([m.as_dict() for m in outcome.matches], sort_keys=True),
            language=None,
            title=None,
        )
        events.append(
            AuditEntry(
                "case.opened",
                "public",
                agency.id,
                "case",
                case_id,
                {"source": "public", "reference": reference},
            )
        )
    uow.public_reports.add(
        reference=reference,
        agency_id=agency.id,
        case_id=case_id,
        url=canonical,
        category=chosen,
        description=text,
        source_hash=source_hash,
        when=moment,
    )
    events.append(
        AuditEntry(
            "public_report.received",
            "public",
            agency.id,
            "public_report",
            reference,
            {"case": case_id, "category": chosen},
        )
    )
    uow.audit.append_many(events)
    return reference


FETCH_BACKOFF_START, FETCH_BACKOFF_MAX = timedelta(minutes=10), timedelta(days=1)
UnitOfWorkFactory = Callable[[], AbstractContextManager[UnitOfWork]]


def fetch_reported_pages(
    open_uow: UnitOfWorkFactory,
    *,
    agency_id: str,
    fetch: Fetch,
    store: ContentStore | None,
    now: datetime,
    open_read: UnitOfWorkFactory | None = None,
    each: Callable[[UnitOfWork], None] = lambda uow: None,
    matchers: MatcherCache | None = None,
) -> Message:
    """Fetch, once, the page of each public report not fetched yet, and put it on its case.
    Pages are matched against the agency's index on disk, through `matchers` (the runner
    keeps one from round to round: it follows the bank generation, nothing is rebuilt from
    the banks); without one, an index in a temporary folder serves this run.
    A page that answers 4xx is recorded as unavailable; a 5xx or no answer is tried again
    later, backing off (10 minutes, then twice as long each time, at most a day).

    No transaction is open while a page is fetched or scanned: the list is read first, then
    each answer is written in a short transaction of its own (in which `each` runs too, for
    the job to renew its lease)."""
    reading = open_read or open_uow
    if matchers is None:
        with tempfile.TemporaryDirectory(prefix="passerelle-index-") as scratch:
            return fetch_reported_pages(
                open_uow,
                agency_id=agency_id,
                fetch=fetch,
                store=store,
                now=now,
                open_read=reading,
                each=each,
                matchers=MatcherCache(Path(scratch)),
            )
    matcher = matchers.matcher(agency_id, reading)
    with reading() as uow:
        targets = uow.queue.reports_to_fetch(agency_id, now)
    counts = {"fetched": 0, "unavailable": 0, "unreachable": 0}
    for case_id, url, failures in targets:
        answer = fetch(url)  # network: no transaction open
        page = None
        if answer is not None and 200 <= answer.status < 300:
            content = Content(source=url, data=answer.data, url=url, origin="public")
            page = (content, scan(content, matcher, ScanOptions(language="always")))
        with open_uow() as uow:
            each(uow)
            outcome = _record_answer(uow, agency_id, case_id, failures, answer, page, store, now)
            uow.commit()
        counts[outcome] += 1
    return Message(
        "%(fetched)s fetched, %(unavailable)s unavailable, %(unreachable)s not reachable",
        dict(counts),
    )


def fetch_delay(failures: int) -> timedelta:
    """How long to wait before fetching again a page that failed `failures + 1` times."""
    return min(FETCH_BACKOFF_START * (1 << min(failures, 10)), FETCH_BACKOFF_MAX)


def _record_answer(
    uow: UnitOfWork,
    agency_id: str,
    case_id: str,
    failures: int,
    answer: Fetched | None,
    page: tuple[Content, ScanResult] | None,
    store: ContentStore | None,
    now: datetime,
) -> str:
    if answer is None or answer.status >= 500:
        uow.queue.record_fetch_failure(agency_id, case_id, retry_at=now + fetch_delay(failures))
        return "unreachable"
    if page is None:
        uow.queue.record_fetch(agency_id, case_id, when=now, found=None)
        _audit_case(uow, "case.page_unavailable", agency_id, case_id, {"status": answer.status})
        return "unavailable"
    content, result = page
    attach_scanned(
        uow,
        agency_id=agency_id,
        case_id=case_id,
        content=content,
        result=result,
        store=store,
        actor="job",
        now=now,
    )
    return "fetched"


def attach_page(
    uow: UnitOfWork,
    *,
    agency_id: str,
    case_id: str,
    content: Content,
    matcher: Matcher,
    store: ContentStore | None,
    actor: str,
    now: datetime,
) -> None:
    """Scan a reported page like any content, preserve it (encrypted) for the analyst who
    decides, and let the case show it: its text, its matches, its priority. When the agency
    already has that very content on another case, the report becomes a sighting there."""
    result = scan(content, matcher, ScanOptions(language="always"))
    attach_scanned(
        uow,
        agency_id=agency_id,
        case_id=case_id,
        content=content,
        result=result,
        store=store,
        actor=actor,
        now=now,
    )


def attach_scanned(
    uow: UnitOfWork,
    *,
    agency_id: str,
    case_id: str,
    content: Content,
    result: ScanResult,
    store: ContentStore | None,
    actor: str,
    now: datetime,
) -> None:
    """Put a page already scanned on its case (see `attach_page`)."""
    other = uow.queue.find_item(agency_id, result.sha256, None)
    if other is not None and other.case_id != case_id:
        uow.queue.record_fetch(agency_id, case_id, when=now, found=None)
        uow.queue.add_sighting(
            other.item_id, source=f"public:{case_id}", url=content.url, origin="public"
        )
        _audit_case(
            uow,
            "case.page_fetched",
            agency_id,
            case_id,
            {"sha256": result.sha256, "same_as_case": other.case_id},
            actor=actor,
        )
        return
    uow.queue.record_fetch(agency_id, case_id, when=now, found=findings_of(result))
    if store is not None:
        store.put(content.data)
        index_preserved_text(uow, store, agency_id=agency_id, case_id=case_id, data=content.data)
    _audit_case(
        uow,
        "case.page_fetched",
        agency_id,
        case_id,
        {"sha256": result.sha256, "score": result.score, "matches": len(result.matches)},
        actor=actor,
    )


def _audit_case(
    uow: UnitOfWork,
    action: str,
    agency_id: str,
    case_id: str,
    details: dict[str, object],
    *,
    actor: str = "job",
) -> None:
    uow.audit.append(AuditEntry(action, actor, agency_id, "case", case_id, details))
