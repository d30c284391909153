"""View models: what templates receive instead of domain objects or rows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from passerelle.core.audit import AuditEvent
from passerelle.core.case import CaseDetail, CaseSummary
from passerelle.core.decision import Decision
from passerelle.core.identity import User
from passerelle.core.priority import Explanation, timecode
from passerelle.web.history import actor_label, describe, fields, object_label


@dataclass(frozen=True, slots=True)
class AuditRow:
    seq: int
    occurred_at: str
    actor: str
    action: str
    object_type: str
    object_id: str
    details: str
    hash: str
    prev_hash: str


def audit_row(event: AuditEvent) -> AuditRow:
    return AuditRow(
        seq=event.seq,
        occurred_at=event.occurred_at.replace("T", " ")[:19] + " UTC",
        actor=event.actor,
        action=event.action,
        object_type=event.object_type,
        object_id=event.object_id,
        details=event.details_json if event.details_json != "{}" else "",
        hash=event.hash,
        prev_hash=event.prev_hash,
    )


@dataclass(frozen=True, slots=True)
class AuditLine:
    """An audit event in words: when, who, what, on what, and its details as fields."""

    seq: int
    occurred_at: str
    actor: str
    sentence: str
    object_type: str  # a case or a referral links to its page
    object_label: str
    object_id: str
    fields: list[tuple[str, str]]
    record: AuditRow  # the technical record (code, JSON, hashes), for the event's own page


def audit_line(event: AuditEvent, translate: Callable[[str], str]) -> AuditLine:
    details = event.details
    return AuditLine(
        seq=event.seq,
        occurred_at=event.occurred_at.replace("T", " ")[:16] + " UTC",
        actor=actor_label(event.actor, translate),
        sentence=describe(event.action, details, translate),
        object_type=event.object_type,
        object_label=object_label(event.object_type, translate),
        object_id=event.object_id,
        fields=fields(details, translate),
        record=audit_row(event),
    )


@dataclass(frozen=True, slots=True)
class UserView:
    id: str
    username: str
    display_name: str
    roles: tuple[str, ...]
    locale: str
    is_active: bool


def user_view(user: User) -> UserView:
    return UserView(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        roles=tuple(sorted(r.value for r in user.roles)),
        locale=user.locale.value,
        is_active=user.is_active,
    )


ROLE_LABELS = {
    "analyst": "analyst",
    "approver": "approver",
    "controller": "controller",
    "liaison": "liaison officer",
    "admin": "administrator",
}


def number(value: int, locale: str) -> str:
    """A whole number as its readers write it: 100 000 in French (a narrow no-break space
    between thousands), 100,000 in English (a Jinja filter: `total|number(locale)`)."""
    grouped = f"{value:,}"
    return grouped.replace(",", "\u202f") if locale == "fr" else grouped


def role_label(role: str, gettext: Callable[[str], str]) -> str:
    """A role's name in the reader's language (a Jinja filter: `roles|map('role_label', _)`)."""
    return gettext(ROLE_LABELS.get(role, role))


@dataclass(frozen=True, slots=True)
class CaseRowView:
    id: str
    score: int
    status: str
    source: str
    media_type: str
    where: str
    language: str
    banks: str
    tiers: tuple[str, ...]
    top_reason: str
    created_at: str
    assigned_to: str


def say(explanation: Explanation, gettext: Callable[[str], str]) -> str:
    """A reason in the reader's language."""
    template = gettext(explanation.template)
    return template % dict(explanation.params) if explanation.params else template


def case_row(case: CaseSummary, gettext: Callable[[str], str]) -> CaseRowView:
    return CaseRowView(
        id=case.id,
        score=case.score,
        status=case.status.value,
        source=case.source,
        media_type=case.media_type,
        where=case.title or case.url or "",
        language=case.language or "",
        banks=", ".join(case.banks),
        tiers=case.tiers,
        top_reason=say(case.top_reason, gettext) if case.top_reason else "",
        created_at=case.created_at.strftime("%Y-%m-%d %H:%M"),
        assigned_to=case.assigned_to or "",
    )


@dataclass(frozen=True, slots=True)
class SegmentView:
    """One matched stretch: where it starts in the case's video (seconds; None when the case
    is an image matching a frame of a banked video), and how it reads ("0:12–0:47 ↔
    0:06–0:41": this video against the banked one)."""

    at: float | None
    label: str


def segment_views(match: dict[str, Any]) -> list[SegmentView]:
    video = match.get("video") or {}
    views = []
    for segment in video.get("segments", []):
        start, end = float(segment["query_start"]), float(segment["query_end"])
        banked = (float(segment["banked_start"]), float(segment["banked_end"]))
        if match["signal_type"] == "vpdq" and video.get("query_share") is None:
            views.append(SegmentView(None, f"↔ {timecode(banked[0])}"))
            continue
        label = timecode(start) if start == end else f"{timecode(start)}–{timecode(end)}"
        if match["signal_type"] == "vpdq":
            label += f" ↔ {timecode(banked[0])}–{timecode(banked[1])}"
        views.append(SegmentView(start, label))
    return views


@dataclass(frozen=True, slots=True)
class MatchView:
    bank: str
    origin: str
    signal_type: str
    value: str
    distance: str
    threshold: str
    category: str
    tier: str
    tags: str
    segments: list[SegmentView] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class CaseDetailView:
    row: CaseRowView
    url: str | None
    sha256: str
    signals: list[tuple[str, str]]
    matches: list[MatchView]
    reasons: list[str]
    sightings: list[tuple[str, str, str]]


def case_detail_view(detail: CaseDetail, gettext: Callable[[str], str]) -> CaseDetailView:
    matches = [
        MatchView(
            bank=m["bank"],
            origin=m.get("origin", "own"),
            signal_type=m["signal_type"],
            value=m["value"],
            distance=f"{m['distance']:g}",
            threshold=f"{m['threshold']:g}",
            category=m["labels"].get("category") or "",
            tier=m["labels"].get("tier") or "",
            tags=", ".join(m["labels"].get("tags", [])),
            segments=segment_views(m),
        )
        for m in detail.matches
    ]
    return CaseDetailView(
        row=case_row(detail.summary, gettext),
        url=detail.summary.url,
        sha256=detail.sha256,
        signals=sorted(detail.signals.items()),
        matches=matches,
        reasons=[say(r, gettext) for r in detail.reasons],
        sightings=[
            (s.seen_at.strftime("%Y-%m-%d %H:%M"), s.source, s.url or "") for s in detail.sightings
        ],
    )


@dataclass(frozen=True, slots=True)
class DecisionView:
    decided_by: str
    decided_at: str
    verdict: str
    category: str
    reason: str
    legal_basis: str
    rationale: str
    bank: str


def decision_view(decision: Decision) -> DecisionView:
    return DecisionView(
        decided_by=decision.decided_by,
        decided_at=decision.decided_at.strftime("%Y-%m-%d %H:%M"),
        verdict=decision.verdict.value,
        category=decision.category.value if decision.category else "",
        reason=decision.reason.value if decision.reason else "",
        legal_basis=decision.legal_basis or "",
        rationale=decision.rationale,
        bank=decision.bank or "",
    )
