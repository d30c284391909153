"""Reading the review queue: cases of the viewer's agency, most urgent first."""

from __future__ import annotations

from dataclasses import dataclass

from passerelle.core.audit import AuditEvent
from passerelle.core.case import (
    CaseDetail,
    CaseSummary,
    PageRequest,
    QueueFilters,
    QueueKey,
    QueueSort,
)
from passerelle.core.errors import InvalidInput, NotFound, PermissionDenied
from passerelle.core.identity import Permission, User
from passerelle.core.ports import ContentStore, UnitOfWork
from passerelle.core.signals.text import TEXT, witness_spans
from passerelle.core.video import frame_at, thumbnail_name
from passerelle.scan import compared_text


@dataclass(frozen=True, slots=True)
class QueuePage:
    """One page of the queue: its cases, where they stand among the `total` the filters
    keep (`first` is the position of the first, from 1), and the keys of the pages around."""

    cases: list[CaseSummary]
    total: int
    first: int
    request: PageRequest
    next_key: QueueKey | None
    previous_key: QueueKey | None

    @property
    def last(self) -> int:
        return self.first + len(self.cases) - 1 if self.cases else 0


def require_reader(viewer: User) -> None:
    # Analysts and approvers review; controllers read everything of their agency; nobody
    # else sees the material (administrators keep people, settings and banks).
    if not viewer.can(Permission.READ_CASES):
        raise PermissionDenied("only analysts, approvers and controllers read cases")


def list_queue(
    uow: UnitOfWork, *, viewer: User, filters: QueueFilters, page: PageRequest | None = None
) -> QueuePage:
    """A page of the queue, by keyset: as fast at the ten-thousandth page as at the first."""
    require_reader(viewer)
    wanted = page or PageRequest()
    total = uow.queue.count_filtered(viewer.agency_id, filters, wanted.sort)
    cases, keys, before = uow.queue.page_cases(viewer.agency_id, filters, wanted, total=total)
    if not cases and (wanted.after or wanted.before):
        # Past either end (the cases moved on since the link was made): the first page.
        wanted = PageRequest(wanted.sort, wanted.size)
        cases, keys, before = uow.queue.page_cases(viewer.agency_id, filters, wanted, total=total)
    first = before + 1 if cases else 0
    more_after = bool(cases) and before + len(cases) < total
    return QueuePage(
        cases=cases,
        total=total,
        first=first,
        request=wanted,
        next_key=keys[-1] if more_after else None,
        previous_key=keys[0] if cases and before > 0 else None,
    )


def count_queue(
    uow: UnitOfWork, *, viewer: User, filters: QueueFilters, sort: QueueSort = QueueSort.SCORE
) -> int:
    require_reader(viewer)
    return uow.queue.count_filtered(viewer.agency_id, filters, sort)


def next_case(
    uow: UnitOfWork, *, viewer: User, filters: QueueFilters, sort: QueueSort, after: str
) -> str | None:
    """The case that follows `after` in this order and these filters (the first of the
    queue when `after` is not in the order); None when the queue holds no further case."""
    require_reader(viewer)
    key = uow.queue.key_of(viewer.agency_id, after, sort)
    request = PageRequest(sort=sort, size=1, after=key)
    cases, _, _ = uow.queue.page_cases(viewer.agency_id, filters, request)
    following = [c.id for c in cases if c.id != after]
    return following[0] if following else None


def get_case(uow: UnitOfWork, *, viewer: User, case_id: str) -> tuple[CaseDetail, list[AuditEvent]]:
    """A case of the viewer's agency and its history; any other case is not found."""
    detail = read_case(uow, viewer=viewer, case_id=case_id)
    history = uow.audit.list_for_object(viewer.agency_id, "case", case_id)
    return detail, history


def read_case(uow: UnitOfWork, *, viewer: User, case_id: str) -> CaseDetail:
    """A case of the viewer's agency, without its history; any other case is not found."""
    require_reader(viewer)
    return uow.queue.get_case(viewer.agency_id, case_id)


def related_cases(uow: UnitOfWork, *, viewer: User, case_id: str) -> list[tuple[str, int | None]]:
    """Other cases of the viewer's agency on the same or nearly the same content, oldest
    first, with the PDQ distance of a near duplicate (None for the same content)."""
    require_reader(viewer)
    return uow.queue.related_cases(viewer.agency_id, case_id)


def case_content(
    uow: UnitOfWork, store: ContentStore, *, viewer: User, case_id: str
) -> tuple[bytes, str]:
    """The preserved bytes of a case's item and their media type, for the viewer's agency."""
    detail = read_case(uow, viewer=viewer, case_id=case_id)
    if detail.purged:
        # The bytes may still be in the shared store for another agency's item: never serve them.
        raise NotFound("content purged: its retention ended")
    return store.get(detail.sha256), detail.summary.media_type


def case_frame(
    uow: UnitOfWork, store: ContentStore, *, viewer: User, case_id: str, seconds: float
) -> bytes:
    """A thumbnail (JPEG) of the frame at `seconds` of a case's preserved video: the one kept
    (encrypted) with the content when it was preserved, else, for content preserved before
    thumbnails were kept, made from the content on request and not kept."""
    detail = read_case(uow, viewer=viewer, case_id=case_id)
    if detail.purged:
        raise NotFound("content purged: its retention ended")
    if not detail.summary.media_type.startswith("video/"):
        raise InvalidInput("this case holds no video")
    try:
        return store.get_derived(detail.sha256, thumbnail_name(seconds))
    except NotFound:
        return frame_at(store.get(detail.sha256), seconds)


@dataclass(frozen=True, slots=True)
class CaseText:
    """The text of a case's item in runs, each marked when it is a passage that matches."""

    runs: tuple[tuple[str, bool], ...]

    @property
    def highlighted(self) -> int:
        return sum(1 for _, marked in self.runs if marked)


MAX_SHOWN_TEXT = 200_000  # characters; longer texts are cut on the page, never silently matched


def case_text(store: ContentStore, detail: CaseDetail) -> CaseText | None:
    """The preserved text of a page or text case (one `get_case` gave the viewer), with the
    passages that witness each text match highlighted; None for images and videos or when
    nothing is preserved."""
    if detail.purged:
        return None
    try:
        data = store.get(detail.sha256)
    except NotFound:
        return None
    text = compared_text(data)
    if text is None:
        return None
    spans = sorted(
        span
        for match in detail.matches
        if match.get("signal_type") == TEXT.name
        for span in witness_spans(text, str(match["value"]))
    )
    text = text[:MAX_SHOWN_TEXT]
    runs: list[tuple[str, bool]] = []
    cursor = 0
    for start, end in spans:
        start, end = max(start, cursor), min(end, len(text))
        if start >= end:
            continue
        if start > cursor:
            runs.append((text[cursor:start], False))
        runs.append((text[start:end], True))
        cursor = end
    if cursor < len(text):
        runs.append((text[cursor:], False))
    return CaseText(tuple(runs))


@dataclass(frozen=True, slots=True)
class EarlierCase:
    case_id: str
    verdict: str | None
    decided_by: str | None
    referrals: tuple[str, ...]
    distance: int | None = None  # PDQ distance of a near duplicate; None for the same content


def earlier_cases(
    uow: UnitOfWork,
    *,
    viewer: User,
    case_id: str,
    related: list[tuple[str, int | None]] | None = None,
) -> list[EarlierCase]:
    """Deconfliction: other cases on the same or nearly the same content, with their
    decisions and referrals (`related`: the case's related cases when the caller has read
    them already)."""
    require_reader(viewer)
    if related is None:
        related = uow.queue.related_cases(viewer.agency_id, case_id)
    found = []
    for other, distance in related:
        decisions = uow.decisions.list_for_case(viewer.agency_id, other)
        referrals = uow.referrals.for_case(viewer.agency_id, other)
        found.append(
            EarlierCase(
                case_id=other,
                verdict=decisions[-1].verdict.value if decisions else None,
                decided_by=decisions[-1].decided_by if decisions else None,
                referrals=tuple(f"{r.kind.value} ({r.status.value})" for r in referrals),
                distance=distance,
            )
        )
    return found
