"""Cases: an item awaiting, or having had, human review. Scores only order the queue."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from passerelle.core.errors import InvalidInput
from passerelle.core.priority import Explanation
from passerelle.core.timestamps import parse_day


class CaseStatus(enum.StrEnum):
    OPEN = "open"
    DECIDED = "decided"
    CLOSED = "closed"


SOURCES = ("scan", "public", "partner", "api")


@dataclass(frozen=True, slots=True)
class QueueFilters:
    status: CaseStatus | None = CaseStatus.OPEN
    source: str | None = None
    language: str | None = None
    bank: str | None = None
    tier: str | None = None
    assigned_to: str | None = None  # a username: "assigned to me" in the console
    opened_from: date | None = None  # opened on or after this day (UTC)
    opened_to: date | None = None  # opened on or before this day (UTC)


class QueueSort(enum.StrEnum):
    """The orders of the queue. Each is total (the case id breaks ties), so that a page
    starts exactly after the last case of the one before (keyset paging)."""

    SCORE = "score"  # most urgent first; the oldest first among equal scores
    SCORE_ASC = "score_asc"  # least urgent first (public reports, score 0): SCORE reversed
    OPENED = "opened"  # newest first
    OPENED_ASC = "opened_asc"  # oldest first
    DEADLINE = "deadline"  # cases with a referral awaiting removal, the soonest deadline first


PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_PAGE_SIZE = 50


@dataclass(frozen=True, slots=True)
class QueueKey:
    """Where a case stands in an order: the values the order sorts by, then the case id."""

    sort: QueueSort
    moment: datetime  # opened, or the deadline for QueueSort.DEADLINE
    case_id: str
    score: int = 0

    def dump(self) -> str:
        stamp = self.moment.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        return f"{self.sort.value}~{self.score}~{stamp}~{self.case_id}"


def parse_queue_key(text: str) -> QueueKey:
    """A position in the queue as carried in a page link; refused when damaged."""
    parts = text.split("~")
    try:
        sort, score, stamp, case_id = parts
        moment = datetime.strptime(stamp, "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=UTC)
        key = QueueKey(QueueSort(sort), moment, case_id, int(score))
    except ValueError:
        raise InvalidInput("this page link is damaged; start from the first page") from None
    if not case_id or len(case_id) > 36:
        raise InvalidInput("this page link is damaged; start from the first page")
    return key


@dataclass(frozen=True, slots=True)
class PageRequest:
    """Which page of an order: the first, the one after or before a key, or the last."""

    sort: QueueSort = QueueSort.SCORE
    size: int = DEFAULT_PAGE_SIZE
    after: QueueKey | None = None
    before: QueueKey | None = None
    last: bool = False


def parse_page_request(
    *, sort: str = "", size: str = "", after: str = "", before: str = "", last: str = ""
) -> PageRequest:
    try:
        chosen = QueueSort(sort or QueueSort.SCORE.value)
    except ValueError:
        raise InvalidInput("unknown order %(value)s", field="sort", value=repr(sort)) from None
    try:
        count = int(size) if size else DEFAULT_PAGE_SIZE
    except ValueError:
        count = 0
    if count not in PAGE_SIZES:
        raise InvalidInput("a page holds 25, 50, 100, 200 cases", field="size")  # PAGE_SIZES
    after_key = parse_queue_key(after) if after else None
    before_key = parse_queue_key(before) if before else None
    for key in (after_key, before_key):
        if key is not None and key.sort is not chosen:
            raise InvalidInput("this page link is damaged; start from the first page")
    return PageRequest(chosen, count, after_key, before_key, bool(last))


def _parse_day(text: str, field_name: str) -> date | None:
    if not text:
        return None
    return parse_day(text, field_name)


def parse_queue_filters(
    *,
    status: str = "open",
    source: str = "",
    language: str = "",
    bank: str = "",
    tier: str = "",
    assigned_to: str = "",
    opened_from: str = "",
    opened_to: str = "",
) -> QueueFilters:
    """Filters as typed in the queue's form; an empty value means "any"."""
    chosen_status: CaseStatus | None = None
    if status and status != "any":
        try:
            chosen_status = CaseStatus(status)
        except ValueError:
            raise InvalidInput(
                "unknown status %(value)s", field="status", value=repr(status)
            ) from None
    if source and source not in SOURCES:
        raise InvalidInput("unknown source %(value)s", field="source", value=repr(source))
    if language and (len(language) > 8 or not language.isalpha()):
        raise InvalidInput("unknown language %(value)s", field="language", value=repr(language))
    if len(bank) > 64 or len(tier) > 32:
        raise InvalidInput("filter value too long")
    first, last = _parse_day(opened_from, "from"), _parse_day(opened_to, "to")
    if first and last and last < first:
        raise InvalidInput("the end of the period is before its start", field="to")
    return QueueFilters(
        status=chosen_status,
        source=source or None,
        language=language or None,
        bank=bank or None,
        tier=tier or None,
        assigned_to=assigned_to or None,
        opened_from=first,
        opened_to=last,
    )


@dataclass(frozen=True, slots=True)
class CaseSummary:
    id: str
    status: CaseStatus
    score: int
    source: str
    media_type: str
    url: str | None
    title: str | None
    language: str | None
    top_reason: Explanation | None
    banks: tuple[str, ...]
    tiers: tuple[str, ...]
    created_at: datetime
    legal_hold_until: datetime | None = None
    assigned_to: str | None = None


@dataclass(frozen=True, slots=True)
class Sighting:
    source: str
    url: str | None
    origin: str
    seen_at: datetime


@dataclass(frozen=True, slots=True)
class CaseDetail:
    summary: CaseSummary
    sha256: str
    signals: dict[str, str]
    matches: list[dict[str, Any]]
    reasons: list[Explanation]
    sightings: list[Sighting] = field(default_factory=list)
    purged: bool = False  # its retention ended: the agency no longer has its content
