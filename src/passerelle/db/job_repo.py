"""Persisted jobs with leases, and URL re-checks, in SQL.

Claiming is one conditional UPDATE (free, or lease expired): on SQLite and PostgreSQL alike,
only one of two workers racing for a job sees its row updated."""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, delete, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from passerelle.core.job import Job
from passerelle.core.message import Message, dump_message, load_message
from passerelle.db.models import (
    AgencyRow,
    CaseRow,
    ItemKeyRow,
    ItemRow,
    JobRow,
    RecheckRow,
    ReferralRow,
)

# A table is analysed again when it holds this many times the rows its statistics say: the
# cost of exact statistics stays proportional to the growth (each row analysed about twice).
GROWTH = 2


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment and moment.tzinfo is None else moment


def _job(row: JobRow) -> Job:
    return Job(
        row.id,
        row.kind,
        row.agency_id,
        _aware(row.run_at) or row.run_at,
        row.runs,
        load_message(row.last_error_json, row.last_error),
        _aware(row.last_run_at),
    )


class SqlJobRepo:
    def __init__(self, session: Session) -> None:
        self._s = session

    def ensure(self, kind: str, agency_id: str, run_at: datetime) -> None:
        """The job exists once: two runners starting together both find it missing, and the
        second one's insert is a no-op instead of a unique-key error (PostgreSQL lets both
        read before either writes)."""
        exists = select(JobRow.id).where(JobRow.kind == kind, JobRow.agency_id == agency_id)
        if self._s.scalar(exists) is not None:
            return
        postgres = self._s.get_bind().dialect.name == "postgresql"
        dialect_insert = postgresql_insert if postgres else sqlite_insert
        values = {
            "id": str(uuid.uuid4()),
            "kind": kind,
            "agency_id": agency_id,
            "run_at": run_at,
            "runs": 0,
        }
        self._s.execute(
            dialect_insert(JobRow)
            .values(values)
            .on_conflict_do_nothing(index_elements=["kind", "agency_id"])
        )

    def due(self, now: datetime) -> list[Job]:
        rows = self._s.scalars(
            select(JobRow)
            .where(
                JobRow.run_at <= now, or_(JobRow.locked_until.is_(None), JobRow.locked_until < now)
            )
            .order_by(JobRow.run_at)
        )
        return [_job(r) for r in rows]

    def claim(self, job_id: str, worker: str, now: datetime, until: datetime) -> bool:
        result = self._s.execute(
            update(JobRow)
            .where(
                JobRow.id == job_id,
                JobRow.run_at <= now,  # still due: not already run by another worker meanwhile
                or_(JobRow.locked_until.is_(None), JobRow.locked_until < now),
            )
            .values(locked_by=worker, locked_until=until)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def hold(
        self, kind: str, agency_id: str, worker: str, now: datetime, until: datetime
    ) -> str | None:
        """Take the lease of the agency's job of `kind` out of its schedule (a person asked
        for that work now); its id, or None while another worker holds it."""
        self.ensure(kind, agency_id, now)
        job_id = self._s.scalar(
            select(JobRow.id).where(JobRow.kind == kind, JobRow.agency_id == agency_id)
        )
        result = self._s.execute(
            update(JobRow)
            .where(
                JobRow.id == job_id,
                or_(JobRow.locked_until.is_(None), JobRow.locked_until < now),
            )
            .values(locked_by=worker, locked_until=until)
        )
        return job_id if result.rowcount == 1 else None  # type: ignore[attr-defined]

    def release(self, job_id: str, worker: str) -> None:
        """Give a lease taken with `hold` back, the job's schedule unchanged."""
        self._s.execute(
            update(JobRow)
            .where(JobRow.id == job_id, JobRow.locked_by == worker)
            .values(locked_by=None, locked_until=None)
        )

    def renew(self, job_id: str, worker: str, until: datetime) -> bool:
        """Extend `worker`'s lease on a job; False if the lease was lost (it ran out and
        another worker claimed the job)."""
        result = self._s.execute(
            update(JobRow)
            .where(JobRow.id == job_id, JobRow.locked_by == worker)
            .values(locked_until=until)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def finish(
        self,
        job_id: str,
        *,
        next_run: datetime,
        error: Message | None,
        now: datetime,
        worker: str | None = None,
    ) -> None:
        """Release the job and schedule its next run; with `worker`, only if that worker
        still holds it."""
        row = self._s.get(JobRow, job_id)
        if row is None or (worker is not None and row.locked_by != worker):
            return
        row.locked_by, row.locked_until = None, None
        row.run_at, row.last_run_at = next_run, now
        row.last_error = error.english() if error else None
        row.last_error_json = dump_message(error) if error else None
        row.runs += 1

    def all_jobs(self) -> list[Job]:
        return [_job(r) for r in self._s.scalars(select(JobRow).order_by(JobRow.kind))]

    def referrals_to_recheck(self, agency_id: str) -> list[tuple[str, str, dict[str, str]]]:
        """(referral id, URL, signals of the referred item) of referrals sent and not yet
        seen offline."""
        rows = self._s.execute(
            select(ReferralRow.id, ReferralRow.url, ItemRow.signals_json)
            .join(CaseRow, CaseRow.id == ReferralRow.case_id)
            .join(ItemRow, ItemRow.id == CaseRow.item_id)
            .where(
                ReferralRow.agency_id == agency_id,
                ReferralRow.sent_at.is_not(None),
                ReferralRow.offline_at.is_(None),
            )
        )
        return [(referral_id, url, json.loads(signals)) for referral_id, url, signals in rows]

    def record_check(
        self, referral_id: str, *, when: datetime, online: bool, detail: Message
    ) -> None:
        self._s.add(
            RecheckRow(
                referral_id=referral_id,
                checked_at=when,
                online=online,
                detail=detail.english()[:500],
                detail_json=dump_message(detail),
            )
        )
        if not online:
            row = self._s.get(ReferralRow, referral_id)
            if row is not None and row.offline_at is None:
                row.offline_at = when

    def purgeable(
        self, agency_id: str, offline_before: datetime, now: datetime
    ) -> list[tuple[str, str]]:
        """(item id, SHA-256) of items whose content went offline before `offline_before`,
        not purged yet, and under no legal hold still running."""
        rows = self._s.execute(
            select(ItemRow.id, ItemRow.sha256)
            .join(CaseRow, CaseRow.item_id == ItemRow.id)
            .join(ReferralRow, ReferralRow.case_id == CaseRow.id)
            .where(
                ItemRow.agency_id == agency_id,
                ItemRow.purged_at.is_(None),
                ReferralRow.offline_at.is_not(None),
                ReferralRow.offline_at < offline_before,
                or_(CaseRow.legal_hold_until.is_(None), CaseRow.legal_hold_until < now),
            )
            .distinct()
        )
        return [(item_id, sha256) for item_id, sha256 in rows]

    def mark_purged(self, item_id: str, when: datetime) -> None:
        row = self._s.get(ItemRow, item_id)
        if row is not None:
            row.purged_at = when
            # The search index of its text goes with the content.
            self._s.execute(
                delete(ItemKeyRow).where(ItemKeyRow.item_id == item_id, ItemKeyRow.kind == "word")
            )
            self._s.flush()

    def is_content_kept(self, sha256: str) -> bool:
        """Whether any item of any agency still refers to these bytes (not purged): the store
        is shared, so the bytes go only with the last reference."""
        kept = self._s.scalar(
            select(ItemRow.id)
            .where(_in_any_agency(), ItemRow.sha256 == sha256, ItemRow.purged_at.is_(None))
            .limit(1)
        )
        return kept is not None

    def kept_content(self, sha256s: Collection[str]) -> set[str]:
        """Those of `sha256s` that some item of any agency still refers to (not purged)."""
        if not sha256s:
            return set()
        rows = self._s.scalars(
            select(ItemRow.sha256)
            .where(
                _in_any_agency(),
                ItemRow.sha256.in_(list(sha256s)),
                ItemRow.purged_at.is_(None),
            )
            .distinct()
        )
        return set(rows)

    def tables_to_analyse(self) -> list[str]:
        """SQLite: the tables whose planner statistics are missing or stale — none yet, or
        the table has grown `GROWTH`-fold since they were taken. Rows written one at a time by
        the console and the jobs never refresh them otherwise (bulk ingest runs `PRAGMA
        optimize`); PostgreSQL's autovacuum does it there (none here)."""
        if self._s.get_bind().dialect.name != "sqlite":
            return []
        recorded: dict[str, int] = {}
        if self._s.scalar(text("SELECT 1 FROM sqlite_schema WHERE name = 'sqlite_stat1'")):
            for table, stat in self._s.execute(text("SELECT tbl, stat FROM sqlite_stat1")):
                rows = int(str(stat).split()[0])
                recorded[table] = max(recorded.get(table, 0), rows)
        stale = []
        for table in self._tables():
            known = recorded.get(table)
            # The largest rowid bounds the rows from above: only a table it says may have
            # grown is counted (rows deleted leave it high).
            quoted = _quoted(table)
            largest = self._s.scalar(text(f"SELECT max(rowid) FROM {quoted}")) or 0  # noqa: S608
            if not largest or (known is not None and largest < GROWTH * max(known, 1)):
                continue
            rows = self._s.scalar(text(f"SELECT count(*) FROM {quoted}")) or 0  # noqa: S608
            if rows and (known is None or rows >= GROWTH * max(known, 1)):
                stale.append(table)
        return stale

    def analyse(self, table: str) -> None:
        """Take the table's statistics again, exactly (a sample of each index, `PRAGMA
        analysis_limit`, would record at most about a thousand rows per key, making an
        agency's or a status's index look a hundred times as selective as it is)."""
        if table not in self._tables():
            raise ValueError(f"no table {table!r} to analyse")
        self._s.execute(text(f"ANALYZE {_quoted(table)}"))

    def _tables(self) -> list[str]:
        return list(
            self._s.scalars(
                text(
                    "SELECT name FROM sqlite_schema WHERE type = 'table'"
                    " AND name NOT LIKE 'sqlite_%' AND sql NOT LIKE 'CREATE VIRTUAL%'"
                    " ORDER BY name"
                )
            )
        )

    def set_hold(self, agency_id: str, case_id: str, until: datetime | None) -> None:
        row = self._s.get(CaseRow, case_id)
        if row is None or row.agency_id != agency_id:
            from passerelle.core.errors import NotFound

            raise NotFound("case not found")
        row.legal_hold_until = until


def _in_any_agency() -> ColumnElement[bool]:
    """Items of every agency, said so that a look-up by SHA-256 reads the items' key
    (agency, SHA-256) once per agency, a handful of ranges: there is no index on SHA-256
    alone for every new item to write."""
    return ItemRow.agency_id.in_(select(AgencyRow.id))


def _quoted(table: str) -> str:
    """A table name of the schema itself (no value of anyone's is ever here), quoted."""
    return '"' + table.replace('"', '""') + '"'
