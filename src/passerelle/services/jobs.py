"""Running persisted jobs: each due job is claimed with a lease in its own transaction, run,
and rescheduled; a second worker never runs the same job at the same time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from passerelle.core.audit import AuditEntry
from passerelle.core.content import Content
from passerelle.core.errors import (
    InvalidInput,
    PasserelleError,
    PermissionDenied,
)
from passerelle.core.identity import Permission, User
from passerelle.core.job import FETCH_REPORTS, INTERVALS, LEASE, PURGE, RECHECK, SYNC, Job
from passerelle.core.ports import ContentStore, Fetch, Fetched, UnitOfWork
from passerelle.core.recheck import Observation, verdict
from passerelle.scan import ScanOptions, fingerprint
from passerelle.services.banks import load_matcher
from passerelle.services.public import fetch_reported_pages
from passerelle.services.sync import Pull, no_pull, sync_agency

UnitOfWorkFactory = Callable[[], AbstractContextManager[UnitOfWork]]


@dataclass(frozen=True, slots=True)
class JobRun:
    kind: str
    agency_id: str
    detail: str
    error: str | None


@dataclass(frozen=True, slots=True)
class JobTools:
    """What the jobs need from the outside, wired by the runner."""

    fetch: Fetch
    store: ContentStore | None = None
    retention: timedelta = timedelta(days=183)
    pull: Pull = no_pull


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
) -> Iterator[JobRun]:
    tools = JobTools(fetch, store, retention, pull)
    moment = now or datetime.now(UTC)
    with open_uow() as uow:
        due = uow.jobs.due(moment)
    for job in due:
        with open_uow() as uow:
            claimed = uow.jobs.claim(job.id, worker, moment, moment + LEASE)
            uow.commit()
        if not claimed:
            continue  # another worker has it
        if job.kind == SYNC:  # network: outside any transaction, pages applied one by one
            try:
                detail, error = (
                    sync_agency(open_uow, agency_id=job.agency_id, pull=tools.pull, now=moment),
                    None,
                )
            except PasserelleError as exc:
                detail, error = "failed", str(exc)
            with open_uow() as uow:
                uow.jobs.finish(
                    job.id, next_run=moment + INTERVALS[job.kind], error=error, now=moment
                )
                uow.commit()
            yield JobRun(job.kind, job.agency_id, detail, error)
            continue
        with open_uow() as uow:
            try:
                detail = _run(uow, job, tools, moment)
                error = None
            except PasserelleError as exc:
                uow.rollback()
                detail, error = "failed", str(exc)
            uow.jobs.finish(job.id, next_run=moment + INTERVALS[job.kind], error=error, now=moment)
            uow.commit()
        yield JobRun(job.kind, job.agency_id, detail, error)


def _run(uow: UnitOfWork, job: Job, tools: JobTools, now: datetime) -> str:
    if job.kind == PURGE:
        return _purge(uow, job, tools, now)
    if job.kind == FETCH_REPORTS:
        agency = uow.agencies.get(job.agency_id)
        return fetch_reported_pages(
            uow,
            agency_id=agency.id,
            fetch=tools.fetch,
            matcher=load_matcher(uow, agency_code=agency.code),
            store=tools.store,
            now=now,
        )
    if job.kind != RECHECK:
        raise PasserelleError(f"unknown job kind {job.kind!r}")
    offline = unknown = 0
    targets = uow.jobs.referrals_to_recheck(job.agency_id)
    for referral_id, url, expected in targets:
        result = verdict(url, expected, _observe(url, tools.fetch(url)))
        if result is None:
            unknown += 1
            continue
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
                    {"detail": detail},
                )
            )
    return f"{len(targets)} checked, {offline} newly offline, {unknown} not reachable"


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


def _purge(uow: UnitOfWork, job: Job, tools: JobTools, now: datetime) -> str:
    """Purge the preserved content of items whose retention ended (offline for longer than the
    retention, no legal hold running); each purge audited. The store is shared by every agency
    and addressed by SHA-256: the bytes themselves are deleted only when no item of any agency
    still keeps them (another agency's item, under a hold or not yet offline, keeps them)."""
    if tools.store is None:
        return "no content store: nothing purged"
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
    return f"{purged} purged"


def parse_hold_end(text: str) -> datetime | None:
    """The end of a hold typed as YYYY-MM-DD (the whole day, UTC); empty ends the hold."""
    if not text.strip():
        return None
    try:
        return datetime.combine(date.fromisoformat(text.strip()), time.max, UTC)
    except ValueError:
        raise InvalidInput("the date must be YYYY-MM-DD", field="until") from None


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
