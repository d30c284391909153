"""What waits for each person, by role: the dashboard's lists and the referrals list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from passerelle.core.errors import PermissionDenied
from passerelle.core.identity import Permission, User
from passerelle.core.ports import UnitOfWork
from passerelle.core.referral import Referral
from passerelle.core.timestamps import dump_timestamp, parse_page_key
from passerelle.core.work import ReferralFilters, WorkList

DEADLINE_HOURS = 6  # deadlines passing within these hours are listed (and those passed)
REFERRALS_PAGE = 50


def work_lists(uow: UnitOfWork, *, viewer: User, now: datetime) -> list[WorkList]:
    """The lists of the dashboard this person acts on, most pressing first."""
    agency = viewer.agency_id
    reviews = viewer.can(Permission.REVIEW)
    found: list[WorkList] = []
    if viewer.can(Permission.APPROVE_ORDER):
        found.append(uow.work.awaiting_approval(agency, viewer.username))
    if reviews or viewer.can(Permission.READ_AUDIT):
        found.append(uow.work.deadlines(agency, now + timedelta(hours=DEADLINE_HOURS)))
    if reviews:
        found.append(uow.work.failed_sendings(agency))
        found.append(uow.work.complaints(agency))
        found.append(uow.work.recommendations(agency))
        found.append(uow.work.assigned(agency, viewer.username))
    if viewer.can(Permission.MANAGE_PARTNERS):
        found.append(uow.work.proposals(agency))
    return found


@dataclass(frozen=True, slots=True)
class ReferralPage:
    total: int
    referrals: list[tuple[Referral, str]]  # with the host's domain
    next_key: str | None


def list_referrals(
    uow: UnitOfWork, *, viewer: User, filters: ReferralFilters, before: str, now: datetime
) -> ReferralPage:
    """A page of the agency's referrals, newest first, by keyset: their addresses, hosts and
    states, no content, so for the liaison officers too, as each referral is."""
    if not viewer.can(Permission.READ_REFERRALS):
        raise PermissionDenied("only reviewers, controllers and liaison officers read referrals")
    key = parse_page_key(before, "before") if before else None
    total, rows = uow.work.referrals(
        viewer.agency_id, filters, now=now, before=key, limit=REFERRALS_PAGE + 1
    )
    more = len(rows) > REFERRALS_PAGE
    rows = rows[:REFERRALS_PAGE]
    last = rows[-1][0] if rows else None
    next_key = f"{dump_timestamp(last.created_at)}~{last.id}" if more and last else None
    return ReferralPage(total, rows, next_key)
