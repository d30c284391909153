"""Referrals to hosting providers: a voluntary referral against the host's terms, a French
administrative request (LCEN art. 6-1, 24 h) or a removal order (Regulation (EU) 2021/784
Art. 3, 1 h). A removal order needs the approval of a second person with the approver role."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from passerelle.core.errors import InvalidInput
from passerelle.core.identity import Jurisdiction
from passerelle.core.message import Message


class ReferralKind(enum.StrEnum):
    REFERRAL = "referral"
    FR_ADMIN_REQUEST = "fr_admin_request"
    TCO_REMOVAL_ORDER = "tco_removal_order"


class ReferralStatus(enum.StrEnum):
    AWAITING_APPROVAL = "awaiting_approval"
    READY = "ready"  # may be sent
    SEND_FAILED = "send_failed"  # the mail server refused or was unreachable: retry possible
    SENT = "sent"


DEADLINES: dict[ReferralKind, timedelta | None] = {
    ReferralKind.REFERRAL: None,
    ReferralKind.FR_ADMIN_REQUEST: timedelta(hours=24),
    ReferralKind.TCO_REMOVAL_ORDER: timedelta(hours=1),
}
# Who may issue what: the French administrative request exists only in French law; removal
# orders under Regulation 2021/784 are issued by authorities of EU member states.
ALLOWED: dict[Jurisdiction, frozenset[ReferralKind]] = {
    Jurisdiction.FRANCE: frozenset(ReferralKind),
    Jurisdiction.QUEBEC: frozenset({ReferralKind.REFERRAL}),
}
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[a-z0-9.-]{1,253}$")


def needs_approval(kind: ReferralKind) -> bool:
    return kind is ReferralKind.TCO_REMOVAL_ORDER


def deadline_for(kind: ReferralKind, sent_at: datetime) -> datetime | None:
    delay = DEADLINES[kind]
    return sent_at + delay if delay else None


def parse_kind(text: str, jurisdiction: Jurisdiction) -> ReferralKind:
    try:
        kind = ReferralKind(text)
    except ValueError:
        raise InvalidInput("unknown kind of referral: %(kind)s", field="kind", kind=text) from None
    if kind not in ALLOWED[jurisdiction]:
        raise InvalidInput(
            "a %(kind)s cannot be issued in jurisdiction %(jurisdiction)s",
            field="kind",
            kind=kind.value,
            jurisdiction=jurisdiction.value,
        )
    return kind


def parse_domain(text: str) -> str:
    domain = text.strip().lower().rstrip(".")
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidInput("not a domain name: %(text)s", field="domain", text=text) from None
    if not _DOMAIN.match(domain):
        raise InvalidInput("not a domain name: %(text)s", field="domain", text=text)
    return domain


def parse_email(text: str) -> str:
    email = text.strip()
    if not _EMAIL.match(email.lower()):
        raise InvalidInput("not an e-mail address: %(text)s", field="email", text=text)
    return email


@dataclass(frozen=True, slots=True)
class Host:
    id: str
    agency_id: str
    domain: str
    name: str
    email: str
    language: str


@dataclass(frozen=True, slots=True)
class Referral:
    id: str
    agency_id: str
    case_id: str
    host_id: str
    kind: ReferralKind
    status: ReferralStatus
    language: str
    url: str
    created_by: str
    created_at: datetime
    approved_by: str | None = None
    approved_at: datetime | None = None
    sent_at: datetime | None = None
    deadline_at: datetime | None = None
    last_error: Message | None = None
    statement: str = ""  # the statement of reasons written for the host
    acknowledged_at: datetime | None = None  # the host's acts, through its link
    removal_declared_at: datetime | None = None
    hold_override_at: datetime | None = None  # holds up to then were overridden by an approver
