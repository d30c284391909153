"""Cases: an item awaiting, or having had, human review. Scores only order the queue."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from passerelle.core.errors import InvalidInput
from passerelle.core.priority import Explanation


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


def parse_queue_filters(
    *,
    status: str = "open",
    source: str = "",
    language: str = "",
    bank: str = "",
    tier: str = "",
    assigned_to: str = "",
) -> QueueFilters:
    """Filters as typed in the queue's form; an empty value means "any"."""
    chosen_status: CaseStatus | None = None
    if status and status != "any":
        try:
            chosen_status = CaseStatus(status)
        except ValueError:
            raise InvalidInput(f"unknown status {status!r}", field="status") from None
    if source and source not in SOURCES:
        raise InvalidInput(f"unknown source {source!r}", field="source")
    if language and (len(language) > 8 or not language.isalpha()):
        raise InvalidInput(f"unknown language {language!r}", field="language")
    if len(bank) > 64 or len(tier) > 32:
        raise InvalidInput("filter value too long")
    return QueueFilters(
        status=chosen_status,
        source=source or None,
        language=language or None,
        bank=bank or None,
        tier=tier or None,
        assigned_to=assigned_to or None,
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
