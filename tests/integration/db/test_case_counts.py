"""Cases and decisions are counted by the database as they change, whatever path changes
them, on SQLite and PostgreSQL (migration 0035): after a random sequence of cases opened,
decided, changed, moved and deleted, of decisions taken (several on one case, out of order,
at the same second) and deleted, the kept counts equal a fresh count, the queue's counts
and the transparency report equal those counted from the rows, and `passerelle bank
recount` repairs a drift, audited. The queue's count and the report read these counts rather
than every case (issue: a year's report 1.6 s at 100,000 cases)."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from itertools import product
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import delete, insert, select, text, update

from passerelle.cli.main import cli
from passerelle.core.case import CaseStatus, PageRequest, QueueFilters, QueueSort
from passerelle.db.models import CaseRow, DecisionRow, ItemRow
from passerelle.db.session import Database
from tests.factories import make_agency

YEAR = datetime(2026, 1, 1, tzinfo=UTC)
TIERS = [None, "promotional", "crisis", "threat_to_life"]
STATUSES = (CaseStatus.OPEN, CaseStatus.DECIDED, None)
VERDICTS = [
    ("terrorist", "a", None),
    ("terrorist", "b", None),
    ("not_terrorist", None, "journalism"),
]


def _moment(rng: random.Random) -> datetime:
    """A time in the first weeks of 2026, often at midnight or on the same second."""
    day = YEAR + timedelta(days=rng.randrange(40))
    return day if rng.random() < 0.2 else day + timedelta(seconds=rng.randrange(86400))


def _open_cases(conn, rng: random.Random, agency_id: str, count: int) -> None:  # type: ignore[no-untyped-def]
    items, cases = [], []
    for _ in range(count):
        item_id = str(uuid.uuid4())
        items.append(
            {
                "id": item_id,
                "agency_id": agency_id,
                "sha256": uuid.uuid4().hex * 2,
                "media_type": "text/html",
                "signals_json": "{}",
                "first_seen_at": YEAR,
            }
        )
        cases.append(
            {
                "id": str(uuid.uuid4()),
                "agency_id": agency_id,
                "item_id": item_id,
                "status": "open",
                "source": rng.choice(["scan", "public"]),
                "score": rng.randrange(100),
                "reasons_json": "[]",
                "matches_json": "[]",
                "language": rng.choice([None, "fr", "en"]),
                "created_at": _moment(rng),
                "top_tier": rng.choice(TIERS),
            }
        )
    conn.execute(insert(ItemRow), items)
    conn.execute(insert(CaseRow), cases)


def _change(database: Database, rng: random.Random, agencies: list[str]) -> None:
    """One random change, through the repositories or in plain SQL (one row or many)."""
    agency_id = rng.choice(agencies)
    with database.engine.begin() as conn:
        cases = list(conn.scalars(select(CaseRow.id).where(CaseRow.agency_id == agency_id)))
        action = rng.choice(
            ["open", "open", "decide", "decide", "again", "tier", "move", "many", "drop", "undo"]
        )
        if action == "open" or not cases:
            _open_cases(conn, rng, agency_id, rng.randrange(1, 6))
        elif action in ("decide", "again"):
            case_id = rng.choice(cases)
            verdict, category, reason = rng.choice(VERDICTS)
            existing = conn.scalar(
                select(DecisionRow.decided_at).where(DecisionRow.case_id == case_id)
            )
            conn.execute(
                insert(DecisionRow).values(
                    id=str(uuid.uuid4()),
                    case_id=case_id,
                    agency_id=agency_id,
                    decided_by="analyste",
                    verdict=verdict,
                    category=category,
                    reason=reason,
                    exemption_checked=True,
                    rationale="Essai.",
                    decided_at=existing if existing and rng.random() < 0.3 else _moment(rng),
                )
            )
            conn.execute(update(CaseRow).where(CaseRow.id == case_id).values(status="decided"))
        elif action == "tier":
            conn.execute(
                update(CaseRow)
                .where(CaseRow.id == rng.choice(cases))
                .values(top_tier=rng.choice(TIERS), source=rng.choice(["scan", "public"]))
            )
        elif action == "move":
            conn.execute(
                update(CaseRow)
                .where(CaseRow.id == rng.choice(cases))
                .values(created_at=_moment(rng), language=rng.choice([None, "fr"]))
            )
        elif action == "many":
            conn.execute(
                update(CaseRow)
                .where(CaseRow.agency_id == agency_id, CaseRow.score < rng.randrange(100))
                .values(status=rng.choice(["open", "decided", "closed"]))
            )
        elif action == "drop":
            undecided = conn.scalar(
                select(CaseRow.id).where(
                    CaseRow.agency_id == agency_id,
                    ~CaseRow.id.in_(select(DecisionRow.case_id)),
                )
            )
            if undecided:
                conn.execute(delete(CaseRow).where(CaseRow.id == undecided))
        else:
            decision = conn.scalar(select(DecisionRow.id).where(DecisionRow.agency_id == agency_id))
            if decision:
                # Not something the product does: the counts and supersession times follow.
                conn.execute(delete(DecisionRow).where(DecisionRow.id == decision))


def _reference(conn, agency_id: str, start: datetime, end: datetime):  # type: ignore[no-untyped-def]
    """The report's case and decision figures counted from the rows, one by one."""
    sources: Counter[str] = Counter()
    tiers: Counter[str] = Counter()
    for source, tier, created in conn.execute(
        select(CaseRow.source, CaseRow.top_tier, CaseRow.created_at).where(
            CaseRow.agency_id == agency_id
        )
    ):
        if start <= created.replace(tzinfo=UTC) < end:
            sources[source] += 1
            tiers[tier or "none"] += 1
    last: dict[str, tuple[datetime, str, tuple[str, str | None, str | None]]] = {}
    for row in conn.execute(select(DecisionRow).where(DecisionRow.agency_id == agency_id)):
        decision = row[0] if isinstance(row[0], DecisionRow) else row
        moment = decision.decided_at.replace(tzinfo=UTC)
        if start <= moment < end:
            mine = (moment, decision.id, (decision.verdict, decision.category, decision.reason))
            if decision.case_id not in last or mine[:2] > last[decision.case_id][:2]:
                last[decision.case_id] = mine
    finals = Counter(value[2] for value in last.values())
    return dict(sources), dict(tiers), dict(finals)


def _figures(database: Database, agency_id: str, start: datetime, end: datetime):  # type: ignore[no-untyped-def]
    with database.unit_of_work() as uow:
        figures = uow.reports.figures(agency_id, start, end)
    finals = {
        (verdict.value, category, reason.value if reason else None): count
        for (verdict, category, reason), count in figures.finals.items()
    }
    return figures.cases_by_source, figures.cases_by_tier, finals


def test_kept_counts_follow_every_change_and_the_report_reads_them(database: Database) -> None:
    rng = random.Random(33)
    with database.unit_of_work(write=True) as uow:
        agencies = [make_agency(uow, code="unite-a").id, make_agency(uow, code="unite-b").id]
        uow.commit()
    for _step in range(120):
        _change(database, rng, agencies)
    with database.unit_of_work() as uow:
        for agency_id in agencies:
            assert uow.reports.kept_case_counts(agency_id) == uow.reports.fresh_case_counts(
                agency_id
            )
            assert uow.reports.kept_decision_counts(agency_id) == uow.reports.fresh_decision_counts(
                agency_id
            )
            assert sum(uow.reports.kept_case_counts(agency_id).values()) > 0
            assert uow.reports.kept_score_counts(agency_id) == uow.reports.fresh_score_counts(
                agency_id
            )
    with database.unit_of_work(write=True) as uow:
        drifted = [uow.reports.recount(agency) for agency in agencies]
        assert drifted == [{"cases": 0, "decisions": 0, "superseded": 0}] * 2
        uow.commit()
    periods = [
        (YEAR, YEAR + timedelta(days=366)),
        (YEAR + timedelta(days=3), YEAR + timedelta(days=9)),
        (YEAR + timedelta(days=2, hours=5), YEAR + timedelta(days=20, minutes=7)),
        (YEAR + timedelta(days=4, hours=1), YEAR + timedelta(days=4, hours=23)),
    ]
    periods += [
        (a, b) for a, b in (sorted([_moment(rng), _moment(rng)]) for _ in range(6)) if a < b
    ]
    with database.engine.connect() as conn:
        for agency_id in agencies:
            for start, end in periods:
                assert _figures(database, agency_id, start, end) == _reference(
                    conn, agency_id, start, end
                ), (start, end)
    with database.unit_of_work() as uow:
        for agency_id in agencies:
            for filters in (
                QueueFilters(),
                QueueFilters(status=None),
                QueueFilters(source="scan", language="fr", tier="crisis"),
                QueueFilters(status=CaseStatus.DECIDED, opened_from=date(2026, 1, 5)),
                QueueFilters(opened_from=date(2026, 1, 3), opened_to=date(2026, 1, 3)),
            ):
                kept = uow.queue.count_filtered(agency_id, filters)
                counted = uow.queue.count_filtered(agency_id, filters, count_rows=True)
                assert kept == counted, filters
    # Where a page stands in a score order, from the kept counts by score: as counted.
    with database.unit_of_work() as uow:
        for agency_id in agencies:
            for sort, status in product((QueueSort.SCORE, QueueSort.SCORE_ASC), STATUSES):
                filters = QueueFilters(status=status)
                page = PageRequest(sort=sort, size=7)
                cases, keys, _ = uow.queue.page_cases(agency_id, filters, page)
                ordered = [c.id for c in cases]
                while keys:
                    page = PageRequest(sort=sort, size=7, after=keys[-1])
                    cases, keys, before = uow.queue.page_cases(agency_id, filters, page)
                    if cases:
                        assert before == len(ordered), (sort, status)
                    ordered += [c.id for c in cases]
                assert len(ordered) == uow.queue.count_filtered(agency_id, filters)


def test_a_recount_repairs_drifted_counts_audited(database: Database, tmp_path: Path) -> None:
    rng = random.Random(5)
    with database.unit_of_work(write=True) as uow:
        agency_id = make_agency(uow, code="unite-a").id
        uow.commit()
    for _step in range(30):
        _change(database, rng, [agency_id])
    with database.engine.begin() as conn:
        conn.execute(text("UPDATE case_counts SET n = n + 5 WHERE status = 'open'"))
        conn.execute(text("DELETE FROM decision_counts"))
    with database.unit_of_work() as uow:
        assert uow.reports.kept_case_counts(agency_id) != uow.reports.fresh_case_counts(agency_id)
        open_cases = uow.queue.count_filtered(agency_id, QueueFilters(), count_rows=True)
    env = {
        "PASSERELLE_ENV": "dev",
        "PASSERELLE_DATABASE_URL": database.engine.url.render_as_string(hide_password=False),
        "PASSERELLE_DATA_DIR": str(tmp_path / "var"),
    }
    result = CliRunner().invoke(cli, ["bank", "recount"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("unite-a: case counts: ") and lines[0].endswith(" corrected")
    assert lines[1].startswith("unite-a: decision counts: ")
    with database.unit_of_work() as uow:
        assert uow.reports.kept_case_counts(agency_id) == uow.reports.fresh_case_counts(agency_id)
        assert uow.reports.kept_decision_counts(agency_id) == (
            uow.reports.fresh_decision_counts(agency_id)
        )
        assert uow.queue.count_filtered(agency_id, QueueFilters()) == open_cases
        (event,) = [
            e
            for e in uow.audit.list_for_object(agency_id, "agency", agency_id)
            if e.action == "counts.recounted"
        ]
        assert event.actor == "cli" and event.details["cases"] > 0
    again = CliRunner().invoke(cli, ["bank", "recount"], env=env, catch_exceptions=False)
    assert again.output == "unite-a: counts right\n"
