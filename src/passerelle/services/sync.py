"""Pulling partners' feeds: the sync job and a liaison's "sync now".

Each page is pulled outside any database transaction and applied in a transaction of its
own: the partner may be served by this very instance (both demo units share one database),
whose feed endpoint needs the database while we wait for its answer. The job's lease is
renewed in each of those transactions (`each`): a runner whose lease ran out during a slow
pull, and was taken over by another, stops there without applying what it pulled."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta

from passerelle.core.audit import AuditEntry
from passerelle.core.errors import ExternalServiceError, PasserelleError, PermissionDenied
from passerelle.core.exchange import FeedPage, Partner
from passerelle.core.identity import Permission, User
from passerelle.core.job import LEASE, SYNC
from passerelle.core.message import Message, message_of
from passerelle.core.ports import UnitOfWork
from passerelle.services.exchange import expire_partner_entries, take_page
from passerelle.services.leases import Lease, LeaseLost

UnitOfWorkFactory = Callable[[], AbstractContextManager[UnitOfWork]]
# One verified page of a partner's feed: (partner, our code, our sealed key, cursor).
Pull = Callable[[Partner, str, str, int], FeedPage]
# Run in each write transaction of a sync: the job renews its lease there (or raises).
Each = Callable[[UnitOfWork], None]
MAX_PAGES = 20  # per partner and run; the next run goes on from the cursor
BACKOFF_START, BACKOFF_MAX = timedelta(minutes=1), timedelta(hours=6)


def no_pull(partner: Partner, subscriber: str, key: str, cursor: int) -> FeedPage:
    raise ExternalServiceError("no way to reach partners is configured")


def _nothing(uow: UnitOfWork) -> None:
    return None


def sync_agency(
    open_uow: UnitOfWorkFactory,
    *,
    agency_id: str,
    pull: Pull,
    now: datetime,
    each: Each = _nothing,
) -> Message:
    """Pull each partner due from its cursor. A page that fails a check is refused whole and
    logged; a partner that cannot be reached is tried again later, backing off. `each` runs
    in every write transaction (the job's lease renewal)."""
    with open_uow() as uow:
        partners = [
            p
            for p in _reachable(uow, agency_id, now)
            if not (p.next_sync_at and p.next_sync_at > now)
        ]
    counts = {"pulled": 0, "refused": 0, "unreachable": 0}
    for partner in partners:
        outcome, pages = _pull_partner(open_uow, agency_id, partner, pull, now, each)
        counts["pulled"] += pages
        if outcome in counts:
            counts[outcome] += 1
    with open_uow() as uow:
        each(uow)
        expired = expire_partner_entries(uow, agency_id=agency_id, now=now)
        uow.commit()
    return Message(
        "%(pulled)s pages pulled, %(refused)s refused, %(unreachable)s unreachable,"
        " %(expired)s expired",
        {**counts, "expired": expired},
    )


def sync_partner_now(
    open_uow: UnitOfWorkFactory, *, viewer: User, partner_id: str, pull: Pull, now: datetime
) -> str:
    """A liaison pulls one partner at once, whatever its back-off; the request is audited
    and the outcome is in the partner's sync log. Returns "ok", "refused", "unreachable",
    "idle" (no agreement in force, or no address) or "busy": the agency's sync is running
    (the job, or another "sync now"), whose lease this one takes as the job does, so that
    two syncs never pull the same page and apply it twice."""
    if not viewer.can(Permission.MANAGE_PARTNERS):
        raise PermissionDenied("only liaison officers manage partners and agreements")
    worker = f"sync-now:{viewer.username}:{uuid.uuid4().hex[:12]}"
    with open_uow() as uow:
        partner = uow.exchange.get_partner(viewer.agency_id, partner_id)
        job_id = uow.jobs.hold(SYNC, viewer.agency_id, worker, now, datetime.now(UTC) + LEASE)
        if job_id is None:
            return "busy"  # nothing written: the running sync goes on
        uow.audit.append(
            AuditEntry(
                "partner.sync_requested",
                viewer.username,
                viewer.agency_id,
                "partner",
                partner.id,
                {"code": partner.code},
            )
        )
        uow.commit()
        reachable = {p.id for p in _reachable(uow, viewer.agency_id, now)}
    lease = Lease(job_id, worker)
    try:
        if partner.id not in reachable:
            return "idle"
        outcome, _ = _pull_partner(open_uow, viewer.agency_id, partner, pull, now, lease.renew)
    except LeaseLost:
        return "busy"  # it outlived its lease and the job took over: it applied nothing more
    finally:
        with open_uow() as uow:
            uow.jobs.release(job_id, worker)
            uow.commit()
    return outcome


def _reachable(uow: UnitOfWork, agency_id: str, now: datetime) -> list[Partner]:
    """Partners with an address and an agreement in force."""
    return [
        p
        for p in uow.exchange.partners(agency_id)
        if p.base_url and any(a.flowing(now) for a in uow.exchange.agreements(agency_id, p.id))
    ]


def _pull_partner(
    open_uow: UnitOfWorkFactory,
    agency_id: str,
    partner: Partner,
    pull: Pull,
    now: datetime,
    each: Each = _nothing,
) -> tuple[str, int]:
    """Pull pages until the partner has no more (or MAX_PAGES); the outcome and the number of
    pages taken in."""
    with open_uow() as uow:
        code = uow.agencies.get(agency_id).code
        key = uow.exchange.active_key(agency_id)
    if key is None:
        raise PasserelleError("%(agency)s has no signing key", agency=code)
    pages = 0
    for _ in range(MAX_PAGES):
        try:
            page = pull(partner, code, key[1], partner.cursor)  # no transaction open here
        except ExternalServiceError as exc:
            _record_failure(open_uow, partner, now, exc, each)
            return "unreachable", pages
        except PasserelleError as exc:  # Refused, InvalidInput: a page we cannot accept
            _record_refusal(open_uow, partner, now, exc, each)
            return "refused", pages
        with open_uow() as uow:
            each(uow)  # the lease lost (another runner took over): stop, nothing applied
            if uow.exchange.lock_partner(agency_id, partner.id).cursor != partner.cursor:
                # Another sync applied pages meanwhile (after a lease ran out): this page is
                # theirs already, and applying it would move the cursor back.
                return "busy", pages
            try:
                take_page(uow, partner=partner, page=page, now=now)
            except PasserelleError as exc:
                uow.rollback()
                _record_refusal(open_uow, partner, now, exc, each)
                return "refused", pages
            uow.commit()
            partner = uow.exchange.get_partner(agency_id, partner.id)
        pages += 1
        if not page.more:
            break
    return "ok", pages


def _record_failure(
    open_uow: UnitOfWorkFactory, partner: Partner, now: datetime, exc: Exception, each: Each
) -> None:
    delay = min(BACKOFF_START * 2 ** min(partner.failures, 10), BACKOFF_MAX)
    with open_uow() as uow:
        each(uow)
        uow.exchange.record_sync(
            partner.id,
            at=now,
            outcome="unreachable",
            detail=Message(
                "%(error)s; next try in %(minutes)s min",
                {"error": message_of(exc), "minutes": int(delay.total_seconds() // 60)},
            ),
            next_sync_at=now + delay,
        )
        uow.commit()


def _record_refusal(
    open_uow: UnitOfWorkFactory, partner: Partner, now: datetime, exc: Exception, each: Each
) -> None:
    with open_uow() as uow:
        each(uow)
        uow.exchange.record_sync(partner.id, at=now, outcome="refused", detail=message_of(exc))
        uow.commit()
