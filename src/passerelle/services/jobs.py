"""Running persisted jobs: each due job is claimed with a lease in its own transaction, run,
and rescheduled; a second worker never runs the same job at the same time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from passerelle.core.audit import AuditEntry
from passerelle.core.content import Content
from passerelle.core.errors import (
    InvalidInput,
    PasserelleError,
    PermissionDenied,
)
from passerelle.core.identity import Permission, User
from passerelle.core.job import FETCH_REPORTS, INTERVALS, LEASE, PURGE, RECHECK, SYNC, Job
from passerelle.core.message import Message, message_of
from passerelle.core.ports import ContentStore, Fetch, Fetched, UnitOfWork
from passerelle.core.recheck import Observation, verdict
from passerelle.core.timestamps import parse_day
from passerelle.scan import ScanOptions, fingerprint
from passerelle.services.leases import Lease, LeaseLost
from passerelle.services.matchers import MatcherCache
from passerelle.services.public import fetch_reported_pages
from passerelle.services.removals import prune_folded_removals
from passerelle.services.sync import Pull, no_pull, sync_agency

UnitOfWorkFactory = Callable[[], AbstractContextManager[UnitOfWork]]
ORPHAN_GRACE = timedelta(days=1)  # stray files younger than this may be a write in progress


@dataclass(frozen=True, slots=True)
class JobRun:
    """What a job did (`summary`) and why it failed (`failure`), as messages shown in the
    reader's language; `detail` and `error` are their English words, for logs."""

    kind: str
    agency_id: str
    summary: Message
    failure: Message | None = None

    @property
    def detail(self) -> str:
        return self.summary.english()

    @property
    def error(self) -> str | None:
        return self.failure.english() if self.failure else None


@dataclass(frozen=True, slots=True)
class JobTools:
    """What the jobs need from the outside, wired by the runner."""

    fetch: Fetch
    store: ContentStore | None = None
    retention: timedelta = timedelta(days=183)
    pull: Pull = no_pull
    # The agencies' matchers, from their indexes on disk (kept by the runner between rounds).
    matchers: MatcherCache | None = None
    # Where those indexes are: the daily purge prunes the withdrawals they have folded in.
    index_root: Path | None = None


def schedule_defaults(uow: UnitOfWork, now: datetime | None = None) -> None:
    moment = now or datetime.now(UTC)
    for agency in uow.agencies.list():
        uow.jobs.ensure(RECHECK, agency.id, moment)
        uow.jobs.ensure(PURGE, agency.id, moment)
        uow.jobs.ensure(FETCH_REPORTS, agency.id, moment)
        uow.jobs.ensure(SYNC, agency.id, moment)


def run_due_jobs(
    open_uow: UnitOfWorkFactory,
    *,
    worker: str,
    fetch: Fetch,
    now: datetime | None = None,
    store: ContentStore | None = None,
    retention: timedelta = timedelta(days=183),
    pull: Pull = no_pull,
    open_read: UnitOfWorkFactory | None = None,
    matchers: MatcherCache | None = None,
    index_root: Path | None = None,
) -> Iterator[JobRun]:
    """Run each due job this worker can claim. Transactions stay short and no network work
    happens inside one: a job is claimed (a lease) in one transaction, its pages are fetched
    with none open, each result is written in its own (renewing the lease), and the job is
    released in a last one. `open_read`, if given, opens the transactions that only read;
    `matchers` gives the jobs that match their agency's index on disk, kept in `index_root`."""
    tools = JobTools(fetch, store, retention, pull, matchers, index_root)
    reading = open_read or open_uow
    moment = now or datetime.now(UTC)
    with reading() as uow:
        due = uow.jobs.due(moment)
    for job in due:
        with open_uow() as uow:
            claimed = uow.jobs.claim(job.id, worker, moment, max(moment, datetime.now(UTC)) + LEASE)
            uow.commit()
        if not claimed:
            continue  # another worker has it
        lease = Lease(job.id, worker)
        try:
            detail, failure = _run(open_uow, reading, job, tools, moment, lease), None
        except LeaseLost as exc:
            yield JobRun(job.kind, job.agency_id, Message("stopped"), message_of(exc))
            continue
        except PasserelleError as exc:
            detail, failure = Message("failed"), message_of(exc)
        with open_uow() as uow:
            uow.jobs.finish(
                job.id,
                next_run=moment + INTERVALS[job.kind],
                error=failure,
                now=moment,
                worker=worker,
            )
            uow.commit()
        yield JobRun(job.kind, job.agency_id, detail, failure)


def _run(
    open_uow: UnitOfWorkFactory,
    reading: UnitOfWorkFactory,
    job: Job,
    tools: JobTools,
    now: datetime,
    lease: Lease,
) -> Message:
    if job.kind == SYNC:  # pages pulled outside any transaction, applied one by one
        return sync_agency(
            open_uow, agency_id=job.agency_id, pull=tools.pull, now=now, each=lease.renew
        )
    if job.kind == FETCH_REPORTS:
        return fetch_reported_pages(
            open_uow,
            agency_id=job.agency_id,
            fetch=tools.fetch,
            store=tools.store,
            now=now,
            open_read=reading,
            each=lease.renew,
            matchers=tools.matchers,
        )
    if job.kind == RECHECK:
        return _recheck(open_uow, reading, job, tools, now, lease)
    if job.kind == PURGE:  # local work only: one transaction
        with open_uow() as uow:
            detail = _purge(uow, job, tools, now)
            uow.commit()
        _refresh_statistics(open_uow, reading)
        return detail
    raise PasserelleError("unknown job kind %(kind)s", kind=repr(job.kind))


def _recheck(
    open_uow: UnitOfWorkFactory,
    reading: UnitOfWorkFactory,
    job: Job,
    tools: JobTools,
    now: datetime,
    lease: Lease,
) -> Message:
    """Fetch each referred address again (no transaction open) and record what it shows,
    each in a short transaction of its own."""
    with reading() as uow:
        targets = uow.jobs.referrals_to_recheck(job.agency_id)
    offline = unknown = 0
    for referral_id, url, expected in targets:
        result = verdict(url, expected, _observe(url, tools.fetch(url)))
        with open_uow() as uow:
            lease.renew(uow)
            if result is None:
                unknown += 1
            else:
                online, detail = result
                uow.jobs.record_check(referral_id, when=now, online=online, detail=detail)
                if not online:
                    offline += 1
                    uow.audit.append(
                        AuditEntry(
                            "referral.offline_seen",
                            "job",
                            job.agency_id,
                            "referral",
                            referral_id,
                            {"detail": detail.as_dict()},
                        )
                    )
            uow.commit()
    return Message(
        "%(checked)s checked, %(offline)s newly offline, %(unknown)s not reachable",
        {"checked": len(targets), "offline": offline, "unknown": unknown},
    )


def _observe(url: str, answer: Fetched | None) -> Observation | None:
    """What a re-check saw: for a 2xx answer, the signals of the body, computed as a scan
    computes them."""
    if answer is None:
        return None
    signals: dict[str, str] = {}
    if 200 <= answer.status < 300:
        found = fingerprint(Content(source=url, data=answer.data), ScanOptions())
        signals = {s.type: s.value for s in found.signals}
    return Observation(answer.status, answer.final_url, signals)


def _purge(uow: UnitOfWork, job: Job, tools: JobTools, now: datetime) -> Message:
    """Purge the preserved content of items whose retention ended (offline for longer than the
    retention, no legal hold running); each purge audited. The store is shared by every agency
    and addressed by SHA-256: the bytes themselves are deleted only when no item of any agency
    still keeps them (another agency's item, under a hold or not yet offline, keeps them)."""
    pruned = (
        prune_folded_removals(uow, agency_id=job.agency_id, index_root=tools.index_root)
        if tools.index_root is not None
        else 0
    )
    folded: Message | str = (
        Message("; %(count)s withdrawals folded into the index forgotten", {"count": pruned})
        if pruned
        else ""
    )
    if tools.store is None:
        return Message("no content store: nothing purged%(folded)s", {"folded": folded})
    purged = 0
    for item_id, sha256 in uow.jobs.purgeable(job.agency_id, now - tools.retention, now):
        uow.jobs.mark_purged(item_id, now)
        if not uow.jobs.is_content_kept(sha256):
            tools.store.delete(sha256)
        uow.audit.append(
            AuditEntry(
                "content.purged",
                "job",
                job.agency_id,
                "item",
                item_id,
                {"sha256": sha256, "retention_days": tools.retention.days},
            )
        )
        purged += 1
    # Files left by a crashed write (staged, or stored with no item): a day is far longer
    # than any write in progress takes.
    swept = tools.store.sweep(uow.jobs.kept_content, grace_seconds=ORPHAN_GRACE.total_seconds())
    cleaned = swept.published + swept.deleted
    stray: Message | str = (
        Message(", %(count)s stray files put right", {"count": cleaned}) if cleaned else ""
    )
    return Message(
        "%(purged)s purged%(stray)s%(folded)s",
        {"purged": purged, "stray": stray, "folded": folded},
    )


def _refresh_statistics(open_uow: UnitOfWorkFactory, reading: UnitOfWorkFactory) -> None:
    """Daily, after the purge: the database planner's statistics of each table that has
    doubled since they were taken (SQLite), each table in a short write transaction of its
    own, so that the unit's writers wait for one table's analysis at most; the tables are
    chosen in a read transaction."""
    with reading() as uow:
        tables = uow.jobs.tables_to_analyse()
    for table in tables:
        with open_uow() as uow:
            uow.jobs.analyse(table)
            uow.commit()


def parse_hold_end(text: str) -> datetime | None:
    """The end of a hold typed as YYYY-MM-DD (the whole day, UTC); empty ends the hold."""
    if not text.strip():
        return None
    try:
        day = parse_day(text, "until")
    except InvalidInput:
        raise InvalidInput("the date must be YYYY-MM-DD", field="until") from None
    return datetime.combine(day, time.max, UTC)


def set_legal_hold(
    uow: UnitOfWork, *, viewer: User, case_id: str, until: datetime | None, reason: str
) -> None:
    """Extend the retention of a case's content (or end the hold with `until=None`)."""
    if not (viewer.can(Permission.APPROVE_ORDER) or viewer.can(Permission.MANAGE_PARTNERS)):
        raise PermissionDenied("approvers and liaisons set legal holds")
    if until is not None and len(reason.strip()) < 10:
        raise InvalidInput("say why the content is held (at least 10 characters)", field="reason")
    uow.jobs.set_hold(viewer.agency_id, case_id, until)
    uow.audit.append(
        AuditEntry(
            "case.hold_set" if until else "case.hold_ended",
            viewer.username,
            viewer.agency_id,
            "case",
            case_id,
            {"until": until.isoformat() if until else None, "reason": reason.strip()},
        )
    )
