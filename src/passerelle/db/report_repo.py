"""The facts of a period for the transparency report."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from passerelle.core.decision import Reason, Verdict
from passerelle.core.report import ReportFigures
from passerelle.db.models import (
    CaseCountRow,
    CaseRow,
    CaseScoreCountRow,
    ComplaintRow,
    DecisionCountRow,
    DecisionRow,
    RecommendationRow,
    ReferralRow,
)


def _aware(moment: datetime | None) -> datetime:
    if moment is None:  # the query keeps only rows where it is set
        raise ValueError("a time is missing")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class SqlReportRepo:
    def __init__(self, session: Session) -> None:
        self._s = session

    def figures(self, agency_id: str, start: datetime, end: datetime) -> ReportFigures:
        """The counts of the period, from the kept counts of its whole days (migration 0035)
        and the rows of any part-day at its ends: a year costs the same at 100 or 100,000
        cases."""
        first, stop, edges = split_days(start, end)
        by_source: dict[str, int] = {}
        by_tier: dict[str, int] = {}
        for source, tier, count in self._case_counts(agency_id, first, stop, edges):
            by_source[source] = by_source.get(source, 0) + count
            by_tier[tier or "none"] = by_tier.get(tier or "none", 0) + count
        finals: dict[tuple[Verdict, str | None, Reason | None], int] = {}
        for verdict, category, reason, count in self._decision_counts(
            agency_id, first, stop, edges
        ):
            key = (Verdict(verdict), category or None, Reason(reason) if reason else None)
            finals[key] = finals.get(key, 0) + count
        # A case decided twice in the period counts by its last decision: take off those a
        # later decision of the period replaced (read from a partial index: few rows).
        for verdict, category, reason, count in self._s.execute(
            select(DecisionRow.verdict, DecisionRow.category, DecisionRow.reason, func.count())
            .where(
                DecisionRow.agency_id == agency_id,
                DecisionRow.superseded_at.is_not(None),
                DecisionRow.superseded_at < end,
                DecisionRow.decided_at >= start,
            )
            .group_by(DecisionRow.verdict, DecisionRow.category, DecisionRow.reason)
        ):
            key = (Verdict(verdict), category or None, Reason(reason) if reason else None)
            finals[key] = finals.get(key, 0) - count
        finals = {key: count for key, count in finals.items() if count}
        made = (
            ReferralRow.agency_id == agency_id,
            ReferralRow.created_at >= start,
            ReferralRow.created_at < end,
        )
        by_kind = {
            kind: count
            for kind, count in self._s.execute(
                select(ReferralRow.kind, func.count()).where(*made).group_by(ReferralRow.kind)
            )
        }
        sent = self._s.scalar(
            select(func.count())
            .select_from(ReferralRow)
            .where(*made, ReferralRow.sent_at.is_not(None))
        )
        # Only the referrals found gone are read (two times each), for the percentiles.
        hours = [
            (_aware(offline) - _aware(sent_at)).total_seconds() / 3600
            for sent_at, offline in self._s.execute(
                select(ReferralRow.sent_at, ReferralRow.offline_at).where(
                    *made, ReferralRow.sent_at.is_not(None), ReferralRow.offline_at.is_not(None)
                )
            )
        ]
        complaints, reinstatements = self.complaints(agency_id, start, end)
        return ReportFigures(
            cases_by_source=by_source,
            cases_by_tier=by_tier,
            finals=finals,
            referrals_by_kind=by_kind,
            referrals_sent=int(sent or 0),
            hours_to_removal=hours,
            recommendations=self.recommendations(agency_id, start, end),
            complaints=complaints,
            reinstatements=reinstatements,
        )

    def complaints(self, agency_id: str, start: datetime, end: datetime) -> tuple[int, int]:
        """(complaints received, reinstatements decided) in the period."""
        received = self._s.scalar(
            select(func.count())
            .select_from(ComplaintRow)
            .where(
                ComplaintRow.agency_id == agency_id,
                ComplaintRow.created_at >= start,
                ComplaintRow.created_at < end,
            )
        )
        reinstated = self._s.scalar(
            select(func.count())
            .select_from(ComplaintRow)
            .where(
                ComplaintRow.agency_id == agency_id,
                ComplaintRow.outcome == "reinstated",
                ComplaintRow.decided_at >= start,
                ComplaintRow.decided_at < end,
            )
        )
        return int(received or 0), int(reinstated or 0)

    def recommendations(self, agency_id: str, start: datetime, end: datetime) -> int:
        count = self._s.scalar(
            select(func.count())
            .select_from(RecommendationRow)
            .where(
                RecommendationRow.agency_id == agency_id,
                RecommendationRow.created_at >= start,
                RecommendationRow.created_at < end,
            )
        )
        return int(count or 0)

    def _case_counts(
        self, agency_id: str, first: date, stop: date, edges: list[tuple[datetime, datetime]]
    ) -> list[tuple[str, str | None, int]]:
        """(source, tier, count) of the cases opened in the whole days [first, stop) and in
        the part-days `edges`."""
        found: list[tuple[str, str | None, int]] = []
        if first < stop:
            found.extend(
                (source, tier or None, int(n))
                for source, tier, n in self._s.execute(
                    select(CaseCountRow.source, CaseCountRow.tier, func.sum(CaseCountRow.n))
                    .where(
                        CaseCountRow.agency_id == agency_id,
                        CaseCountRow.day >= first,
                        CaseCountRow.day < stop,
                    )
                    .group_by(CaseCountRow.source, CaseCountRow.tier)
                    .having(func.sum(CaseCountRow.n) != 0)
                )
            )
        for lower, upper in edges:
            found.extend(
                (source, tier, int(n))
                for source, tier, n in self._s.execute(
                    select(CaseRow.source, CaseRow.top_tier, func.count())
                    .where(
                        CaseRow.agency_id == agency_id,
                        CaseRow.created_at >= lower,
                        CaseRow.created_at < upper,
                    )
                    .group_by(CaseRow.source, CaseRow.top_tier)
                )
            )
        return found

    def _decision_counts(
        self, agency_id: str, first: date, stop: date, edges: list[tuple[datetime, datetime]]
    ) -> list[tuple[str, str | None, str | None, int]]:
        """(verdict, category, reason, count) of every decision taken in the whole days
        [first, stop) and in the part-days `edges`."""
        found: list[tuple[str, str | None, str | None, int]] = []
        if first < stop:
            kept = DecisionCountRow
            found.extend(
                (verdict, category or None, reason or None, int(n))
                for verdict, category, reason, n in self._s.execute(
                    select(kept.verdict, kept.category, kept.reason, func.sum(kept.n))
                    .where(kept.agency_id == agency_id, kept.day >= first, kept.day < stop)
                    .group_by(kept.verdict, kept.category, kept.reason)
                    .having(func.sum(kept.n) != 0)
                )
            )
        for lower, upper in edges:
            found.extend(
                (verdict, category, reason, int(n))
                for verdict, category, reason, n in self._s.execute(
                    select(
                        DecisionRow.verdict,
                        DecisionRow.category,
                        DecisionRow.reason,
                        func.count(),
                    )
                    .where(
                        DecisionRow.agency_id == agency_id,
                        DecisionRow.decided_at >= lower,
                        DecisionRow.decided_at < upper,
                    )
                    .group_by(DecisionRow.verdict, DecisionRow.category, DecisionRow.reason)
                )
            )
        return found

    def fresh_case_counts(self, agency_id: str) -> CountKeys:
        """The agency's case counts counted afresh from its cases (reads every case), keyed
        as case_counts keys them: (status, day, source, tier, language)."""
        found: CountKeys = {}
        for status, created, source, tier, language in self._s.execute(
            select(
                CaseRow.status,
                CaseRow.created_at,
                CaseRow.source,
                CaseRow.top_tier,
                CaseRow.language,
            ).where(CaseRow.agency_id == agency_id)
        ):
            day = _aware(created).astimezone(UTC).date().isoformat()
            key = (status, day, source, tier or "", language or "")
            found[key] = found.get(key, 0) + 1
        return found

    def kept_case_counts(self, agency_id: str) -> CountKeys:
        """The case counts the triggers keep for the agency (those not zero)."""
        kept = CaseCountRow
        rows = self._s.execute(
            select(kept.status, kept.day, kept.source, kept.tier, kept.language, kept.n).where(
                kept.agency_id == agency_id, kept.n != 0
            )
        )
        return {(row[0], row[1].isoformat(), *row[2:5]): int(row[5]) for row in rows}

    def fresh_score_counts(self, agency_id: str) -> CountKeys:
        """(status, score) → count, from the agency's cases (migration 0036)."""
        return {
            (status, str(score)): int(n)
            for status, score, n in self._s.execute(
                select(CaseRow.status, CaseRow.score, func.count())
                .where(CaseRow.agency_id == agency_id)
                .group_by(CaseRow.status, CaseRow.score)
            )
        }

    def kept_score_counts(self, agency_id: str) -> CountKeys:
        kept = CaseScoreCountRow
        rows = self._s.execute(
            select(kept.status, kept.score, kept.n).where(kept.agency_id == agency_id, kept.n != 0)
        )
        return {(status, str(score)): int(n) for status, score, n in rows}

    def fresh_decision_counts(self, agency_id: str) -> CountKeys:
        """(day, verdict, category, reason) → count, from the agency's decisions."""
        found: CountKeys = {}
        for decided, verdict, category, reason in self._s.execute(
            select(
                DecisionRow.decided_at,
                DecisionRow.verdict,
                DecisionRow.category,
                DecisionRow.reason,
            ).where(DecisionRow.agency_id == agency_id)
        ):
            day = _aware(decided).astimezone(UTC).date().isoformat()
            key = (day, verdict, category or "", reason or "")
            found[key] = found.get(key, 0) + 1
        return found

    def kept_decision_counts(self, agency_id: str) -> CountKeys:
        kept = DecisionCountRow
        rows = self._s.execute(
            select(kept.day, kept.verdict, kept.category, kept.reason, kept.n).where(
                kept.agency_id == agency_id, kept.n != 0
            )
        )
        return {(row[0].isoformat(), *row[1:4]): int(row[4]) for row in rows}

    def recount(self, agency_id: str) -> dict[str, int]:
        """Replace the agency's kept case counts (by day and by score), decision counts and
        the times its decisions were superseded by fresh ones, in the caller's transaction
        (on PostgreSQL, cases and decisions are locked against writers meanwhile). Returns
        how many counts (by key) and supersession times had drifted."""
        if self._s.get_bind().dialect.name == "postgresql":
            self._s.execute(text("LOCK TABLE cases, decisions IN SHARE ROW EXCLUSIVE MODE"))
        superseded = self._resupersede(agency_id)
        fresh_cases, kept_cases = (
            self.fresh_case_counts(agency_id),
            self.kept_case_counts(agency_id),
        )
        if fresh_cases != kept_cases:
            self._s.execute(delete(CaseCountRow).where(CaseCountRow.agency_id == agency_id))
            self._insert(CaseCountRow, agency_id, CASE_COUNT_KEYS, fresh_cases)
        fresh_scores, kept_scores = (
            self.fresh_score_counts(agency_id),
            self.kept_score_counts(agency_id),
        )
        if fresh_scores != kept_scores:
            self._s.execute(
                delete(CaseScoreCountRow).where(CaseScoreCountRow.agency_id == agency_id)
            )
            if fresh_scores:
                self._s.execute(
                    insert(CaseScoreCountRow),
                    [
                        {"agency_id": agency_id, "status": status, "score": int(score), "n": n}
                        for (status, score), n in fresh_scores.items()
                    ],
                )
        fresh_decisions = self.fresh_decision_counts(agency_id)
        kept_decisions = self.kept_decision_counts(agency_id)
        if fresh_decisions != kept_decisions:
            self._s.execute(delete(DecisionCountRow).where(DecisionCountRow.agency_id == agency_id))
            self._insert(DecisionCountRow, agency_id, DECISION_COUNT_KEYS, fresh_decisions)
        return {
            "cases": _drifted(fresh_cases, kept_cases) + _drifted(fresh_scores, kept_scores),
            "decisions": _drifted(fresh_decisions, kept_decisions),
            "superseded": superseded,
        }

    def _insert(
        self,
        table: type[CaseCountRow] | type[DecisionCountRow],
        agency_id: str,
        names: tuple[str, ...],
        counts: CountKeys,
    ) -> None:
        rows = []
        for key, n in counts.items():
            row: dict[str, object] = {
                "agency_id": agency_id,
                "n": n,
                **dict(zip(names, key, strict=True)),
            }
            row["day"] = date.fromisoformat(str(row["day"]))
            rows.append(row)
        if rows:
            self._s.execute(insert(table), rows)

    def _resupersede(self, agency_id: str) -> int:
        """Set each decision's `superseded_at` to its case's next decision time; returns how
        many were wrong."""
        rows = self._s.execute(
            select(DecisionRow.id, DecisionRow.case_id, DecisionRow.decided_at)
            .add_columns(DecisionRow.superseded_at)
            .where(DecisionRow.agency_id == agency_id)
            .order_by(DecisionRow.case_id, DecisionRow.decided_at, DecisionRow.id)
        ).all()
        wrong = 0
        for this, following in zip(rows, [*rows[1:], None], strict=True):
            due = following.decided_at if following and following.case_id == this.case_id else None
            kept = this.superseded_at
            if (_aware(kept) if kept else None) != (_aware(due) if due else None):
                wrong += 1
                self._s.execute(
                    update(DecisionRow).where(DecisionRow.id == this.id).values(superseded_at=due)
                )
        return wrong


def split_days(
    start: datetime, end: datetime
) -> tuple[date, date, list[tuple[datetime, datetime]]]:
    """[start, end) as the whole UTC days [first, stop) it covers and the part-days at its
    ends (none for a period from midnight to midnight, as reports are)."""
    start, end = _aware(start).astimezone(UTC), _aware(end).astimezone(UTC)
    first = start.date() if start.time() == time.min else start.date() + timedelta(days=1)
    stop = end.date()
    if first >= stop:
        return first, first, [(start, end)] if start < end else []
    edges = []
    if start < (opening := datetime.combine(first, time.min, UTC)):
        edges.append((start, opening))
    if (closing := datetime.combine(stop, time.min, UTC)) < end:
        edges.append((closing, end))
    return first, stop, edges


CountKeys = dict[tuple[str, ...], int]
CASE_COUNT_KEYS = ("status", "day", "source", "tier", "language")
DECISION_COUNT_KEYS = ("day", "verdict", "category", "reason")


def _drifted(fresh: CountKeys, kept: CountKeys) -> int:
    return sum(1 for key in fresh.keys() | kept.keys() if fresh.get(key) != kept.get(key))
