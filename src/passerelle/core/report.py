"""The transparency report of a period, computed from the records alone (DESIGN red line 5):
cases, decisions, exemptions, referrals by kind, controllers' recommendations, by category of
Art. 2(7) and by tier. Figures with nothing to measure (no referral sent) are None, never zero."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime

from passerelle.core.decision import Reason, Verdict

EXEMPTIONS = frozenset(
    {Reason.JOURNALISM, Reason.RESEARCH, Reason.EDUCATION, Reason.ART, Reason.COUNTER_SPEECH}
)


@dataclass(frozen=True, slots=True)
class CaseFact:
    case_id: str
    source: str
    tier: str | None  # the most urgent tier among the case's matches


@dataclass(frozen=True, slots=True)
class DecisionFact:
    case_id: str
    verdict: Verdict
    category: str | None
    reason: Reason | None


@dataclass(frozen=True, slots=True)
class ReferralFact:
    case_id: str
    kind: str
    sent: bool
    hours_to_removal: float | None = None  # from sending to the first re-check that found it gone


@dataclass(frozen=True, slots=True)
class TransparencyReport:
    start: date
    end: date
    cases: int
    cases_by_source: dict[str, int]
    cases_by_tier: dict[str, int]
    decisions: int
    terrorist_by_category: dict[str, int]
    not_terrorist_by_reason: dict[str, int]
    exemptions: int
    referrals_by_kind: dict[str, int]
    referrals_sent: int
    recommendations: int
    complaints: int = 0
    reinstatements: int = 0
    share_offline: float | None = None
    hours_to_removal_median: float | None = None
    hours_to_removal_p90: float | None = None
    audit_head: str | None = None  # the audit log's head when the report was made

    def as_dict(self) -> dict[str, object]:
        return {
            "period": {"start": self.start.isoformat(), "end": self.end.isoformat()},
            "cases": self.cases,
            "cases_by_source": self.cases_by_source,
            "cases_by_tier": self.cases_by_tier,
            "decisions": self.decisions,
            "terrorist_by_category": self.terrorist_by_category,
            "not_terrorist_by_reason": self.not_terrorist_by_reason,
            "exemptions": self.exemptions,
            "referrals_by_kind": self.referrals_by_kind,
            "referrals_sent": self.referrals_sent,
            "recommendations": self.recommendations,
            "complaints": self.complaints,
            "reinstatements": self.reinstatements,
            "share_offline": self.share_offline,
            "hours_to_removal_median": self.hours_to_removal_median,
            "hours_to_removal_p90": self.hours_to_removal_p90,
            "audit_head": self.audit_head,
        }

    def rows(self) -> list[tuple[str, str, int]]:
        """(section, key, count) lines, for CSV."""
        lines = [
            ("cases", "total", self.cases),
            ("decisions", "total", self.decisions),
            ("exemptions", "total", self.exemptions),
            ("referrals", "sent", self.referrals_sent),
            ("recommendations", "total", self.recommendations),
            ("complaints", "total", self.complaints),
            ("reinstatements", "total", self.reinstatements),
        ]
        for section, counts in (
            ("cases_by_source", self.cases_by_source),
            ("cases_by_tier", self.cases_by_tier),
            ("terrorist_by_category", self.terrorist_by_category),
            ("not_terrorist_by_reason", self.not_terrorist_by_reason),
            ("referrals_by_kind", self.referrals_by_kind),
        ):
            lines.extend((section, key, value) for key, value in sorted(counts.items()))
        return lines


@dataclass(frozen=True, slots=True)
class ReportFigures:
    """The counts a report is made of, as the database sums them: cases by source and by
    tier, final decisions by (verdict, category, reason), referrals by kind, the number sent,
    and the hours to removal of those found gone."""

    cases_by_source: dict[str, int]
    cases_by_tier: dict[str, int]
    finals: dict[tuple[Verdict, str | None, Reason | None], int]
    referrals_by_kind: dict[str, int]
    referrals_sent: int
    hours_to_removal: list[float]
    recommendations: int = 0
    complaints: int = 0
    reinstatements: int = 0


def compute_report(
    *,
    start: date,
    end: date,
    cases: list[CaseFact],
    decisions: list[DecisionFact],
    referrals: list[ReferralFact],
    recommendations: int,
    complaints: int = 0,
    reinstatements: int = 0,
) -> TransparencyReport:
    """Cases opened, decisions taken, referrals made, complaints and recommendations recorded
    in the period; a case decided twice counts by its last decision. Share offline and time to
    removal are over the referrals sent; None when there is none (never shown as 0)."""
    last: dict[str, DecisionFact] = {}
    for decision in decisions:
        last[decision.case_id] = decision
    figures = ReportFigures(
        cases_by_source=dict(Counter(c.source for c in cases)),
        cases_by_tier=dict(Counter(c.tier or "none" for c in cases)),
        finals=dict(Counter((d.verdict, d.category, d.reason) for d in last.values())),
        referrals_by_kind=dict(Counter(r.kind for r in referrals)),
        referrals_sent=sum(1 for r in referrals if r.sent),
        hours_to_removal=[
            r.hours_to_removal for r in referrals if r.sent and r.hours_to_removal is not None
        ],
        recommendations=recommendations,
        complaints=complaints,
        reinstatements=reinstatements,
    )
    return report_from_figures(start=start, end=end, figures=figures)


def report_from_figures(*, start: date, end: date, figures: ReportFigures) -> TransparencyReport:
    """The report of a period from the counts of its records (see `compute_report`)."""
    terrorist: Counter[str] = Counter()
    other: Counter[str] = Counter()
    exemptions = 0
    for (verdict, category, reason), count in figures.finals.items():
        if verdict is Verdict.TERRORIST:
            terrorist[category or "?"] += count
        elif verdict is Verdict.NOT_TERRORIST:
            other[reason.value if reason else "?"] += count
        if reason in EXEMPTIONS:
            exemptions += count
    sent = figures.referrals_sent
    removed = figures.hours_to_removal
    return TransparencyReport(
        start=start,
        end=end,
        cases=sum(figures.cases_by_source.values()),
        cases_by_source=dict(figures.cases_by_source),
        cases_by_tier=dict(figures.cases_by_tier),
        decisions=sum(figures.finals.values()),
        terrorist_by_category=dict(terrorist),
        not_terrorist_by_reason=dict(other),
        exemptions=exemptions,
        referrals_by_kind=dict(figures.referrals_by_kind),
        referrals_sent=sent,
        recommendations=figures.recommendations,
        complaints=figures.complaints,
        reinstatements=figures.reinstatements,
        share_offline=round(len(removed) / sent, 4) if sent else None,
        hours_to_removal_median=percentile(removed, 50),
        hours_to_removal_p90=percentile(removed, 90),
    )


def percentile(values: list[float], rank: int) -> float | None:
    """Nearest-rank percentile: the smallest value with at least `rank` % of values at or below."""
    if not values:
        return None
    ordered = sorted(values)
    position = max(1, math.ceil(rank / 100 * len(ordered)))
    return round(ordered[position - 1], 2)


def period_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    from datetime import UTC, time, timedelta

    return (
        datetime.combine(start, time.min, UTC),
        datetime.combine(end + timedelta(days=1), time.min, UTC),
    )
