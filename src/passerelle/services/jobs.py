"""Running persisted jobs: each due job is claimed with a lease in its own transaction, run,
and rescheduled; a second worker never runs the same job at the same time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime

from passerelle.core.audit import AuditEntry
from passerelle.core.errors import PasserelleError
from passerelle.core.job import INTERVALS, LEASE, RECHECK, Job
from passerelle.core.ports import UnitOfWork

# (online, detail) of a URL, or None when it could not be told (network down, refused address).
Checker = Callable[[str], tuple[bool, str] | None]
UnitOfWorkFactory = Callable[[], AbstractContextManager[UnitOfWork]]


@dataclass(frozen=True, slots=True)
class JobRun:
    kind: str
    agency_id: str
    detail: str
    error: str | None


def schedule_defaults(uow: UnitOfWork, now: datetime | None = None) -> None:
    moment = now or datetime.now(UTC)
    for agency in uow.agencies.list():
        uow.jobs.ensure(RECHECK, agency.id, moment)


def run_due_jobs(
    open_uow: UnitOfWorkFactory, *, worker: str, checker: Checker, now: datetime | None = None
) -> Iterator[JobRun]:
    moment = now or datetime.now(UTC)
    with open_uow() as uow:
        due = uow.jobs.due(moment)
    for job in due:
        with open_uow() as uow:
            claimed = uow.jobs.claim(job.id, worker, moment, moment + LEASE)
            uow.commit()
        if not claimed:
            continue  # another worker has it
        with open_uow() as uow:
            try:
                detail = _run(uow, job, checker, moment)
                error = None
            except PasserelleError as exc:
                uow.rollback()
                detail, error = "failed", str(exc)
            uow.jobs.finish(job.id, next_run=moment + INTERVALS[job.kind], error=error, now=moment)
            uow.commit()
        yield JobRun(job.kind, job.agency_id, detail, error)


def _run(uow: UnitOfWork, job: Job, checker: Checker, now: datetime) -> str:
    if job.kind != RECHECK:
        raise PasserelleError(f"unknown job kind {job.kind!r}")
    offline = unknown = 0
    targets = uow.jobs.referrals_to_recheck(job.agency_id)
    for referral_id, url in targets:
        result = checker(url)
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
