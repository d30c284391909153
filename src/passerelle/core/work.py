"""What waits for someone: the lists of the dashboard, and the filters of the referrals
list. Each entry links to the object it is about."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from passerelle.core.errors import InvalidInput
from passerelle.core.message import Message
from passerelle.core.referral import ReferralKind, ReferralStatus

SHOWN = 10  # entries of one list on the dashboard; the count says how many there are


class WorkKind(enum.StrEnum):
    AWAITING_APPROVAL = "awaiting_approval"  # removal orders waiting for a second approver
    DEADLINES = "deadlines"  # referrals sent whose deadline falls in the next hours
    COMPLAINTS = "complaints"  # complaints not answered yet, with their two-week due date
    RECOMMENDATIONS = "recommendations"  # controllers' recommendations no decision followed
    FAILED_SENDINGS = "failed_sendings"
    ASSIGNED = "assigned"  # open cases assigned to the viewer
    PROPOSALS = "proposals"  # agreements partners proposed, awaiting an answer


@dataclass(frozen=True, slots=True)
class WorkItem:
    object_id: str  # the referral, complaint, case or agreement
    case_id: str | None
    label: str  # a kind of referral, an address, a partner's name: data, not a sentence
    due: datetime | None = None
    by: str | None = None  # who prepared, complained about, or recommended it
    problem: Message | None = None  # why a sending failed, put into words when shown


@dataclass(frozen=True, slots=True)
class WorkList:
    kind: WorkKind
    total: int
    items: list[WorkItem]


@dataclass(frozen=True, slots=True)
class ReferralFilters:
    kind: ReferralKind | None = None
    status: ReferralStatus | None = None
    host: str | None = None  # a domain of the directory
    overdue: bool = False


def parse_referral_filters(
    *, kind: str = "", status: str = "", host: str = "", overdue: str = ""
) -> ReferralFilters:
    try:
        chosen_kind = ReferralKind(kind) if kind else None
    except ValueError:
        raise InvalidInput(
            "unknown kind of referral %(value)s", field="kind", value=repr(kind)
        ) from None
    try:
        chosen_status = ReferralStatus(status) if status else None
    except ValueError:
        raise InvalidInput("unknown state %(value)s", field="status", value=repr(status)) from None
    if len(host) > 253:
        raise InvalidInput("filter value too long", field="host")
    return ReferralFilters(chosen_kind, chosen_status, host.strip().lower() or None, bool(overdue))
