"""Hosting providers and referrals in SQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from passerelle.core.errors import Conflict, NotFound
from passerelle.core.message import Message, dump_message, load_message
from passerelle.core.referral import Host, Referral, ReferralKind, ReferralStatus
from passerelle.db.models import HostRow, ReferralRow


@cache
def _case_referrals() -> Any:
    """A case's referrals, oldest first: built once (read by every case page and referral)."""
    return (
        select(ReferralRow)
        .where(
            ReferralRow.agency_id == bindparam("agency_id"),
            ReferralRow.case_id == bindparam("case_id"),
        )
        .order_by(ReferralRow.created_at)
    )


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment and moment.tzinfo is None else moment


def _host(row: HostRow) -> Host:
    return Host(row.id, row.agency_id, row.domain, row.name, row.email, row.language)


def _referral(row: ReferralRow) -> Referral:
    return Referral(
        id=row.id,
        agency_id=row.agency_id,
        case_id=row.case_id,
        host_id=row.host_id,
        kind=ReferralKind(row.kind),
        status=ReferralStatus(row.status),
        language=row.language,
        url=row.url,
        created_by=row.created_by,
        created_at=_aware(row.created_at) or row.created_at,
        approved_by=row.approved_by,
        approved_at=_aware(row.approved_at),
        sent_at=_aware(row.sent_at),
        deadline_at=_aware(row.deadline_at),
        last_error=load_message(row.last_error_json, row.last_error),
        statement=row.statement or "",
        acknowledged_at=_aware(row.acknowledged_at),
        removal_declared_at=_aware(row.removal_declared_at),
        hold_override_at=_aware(row.hold_override_at),
    )


@cache
def _hosts_named() -> Any:
    """The agency's directory entries of some domains: built once (read by every referral)."""
    return select(HostRow).where(
        HostRow.agency_id == bindparam("agency_id"),
        HostRow.domain.in_(bindparam("domains", expanding=True)),
    )


class SqlReferralRepo:
    def __init__(self, session: Session) -> None:
        self._s = session

    def add_host(
        self, *, agency_id: str, domain: str, name: str, email: str, language: str
    ) -> Host:
        taken = select(HostRow.id).where(HostRow.agency_id == agency_id, HostRow.domain == domain)
        if self._s.scalar(taken):
            raise Conflict("%(domain)s is already in the directory", domain=domain)
        row = HostRow(
            id=str(uuid.uuid4()),
            agency_id=agency_id,
            domain=domain,
            name=name,
            email=email,
            language=language,
        )
        self._s.add(row)
        self._s.flush()
        return _host(row)

    def update_host(
        self, agency_id: str, host_id: str, *, name: str, email: str, language: str
    ) -> Host:
        row = self._s.get(HostRow, host_id)
        if row is None or row.agency_id != agency_id:
            raise NotFound("hosting provider not found")
        row.name, row.email, row.language = name, email, language
        self._s.flush()
        return _host(row)

    def hosts(self, agency_id: str) -> list[Host]:
        rows = self._s.scalars(
            select(HostRow).where(HostRow.agency_id == agency_id).order_by(HostRow.domain)
        )
        return [_host(r) for r in rows]

    def host_for(self, agency_id: str, hostname: str) -> Host | None:
        """The directory entry of a hostname or of its closest parent domain."""
        labels = hostname.lower().split(".")
        candidates = [".".join(labels[i:]) for i in range(len(labels) - 1)]
        rows = {
            r.domain: r
            for r in self._s.scalars(
                _hosts_named(), {"agency_id": agency_id, "domains": candidates}
            )
        }
        for candidate in candidates:
            if candidate in rows:
                return _host(rows[candidate])
        return None

    def get_host(self, agency_id: str, host_id: str) -> Host:
        row = self._s.get(HostRow, host_id)
        if row is None or row.agency_id != agency_id:
            raise NotFound("hosting provider not found")
        return _host(row)

    def add(self, referral: Referral) -> Referral:
        self._s.add(
            ReferralRow(
                id=referral.id or str(uuid.uuid4()),
                agency_id=referral.agency_id,
                case_id=referral.case_id,
                host_id=referral.host_id,
                kind=referral.kind.value,
                status=referral.status.value,
                language=referral.language,
                url=referral.url,
                created_by=referral.created_by,
                created_at=referral.created_at,
                statement=referral.statement or None,
                hold_override_at=referral.hold_override_at,
            )
        )
        self._s.flush()
        return referral

    def get(self, agency_id: str, referral_id: str) -> Referral:
        row = self._s.get(ReferralRow, referral_id)
        if row is None or row.agency_id != agency_id:
            raise NotFound("referral not found")
        return _referral(row)

    def for_case(self, agency_id: str, case_id: str) -> list[Referral]:
        rows = self._s.scalars(_case_referrals(), {"agency_id": agency_id, "case_id": case_id})
        return [_referral(r) for r in rows]

    def approve(self, agency_id: str, referral_id: str, approver: str, when: datetime) -> None:
        row = self._row(agency_id, referral_id)
        row.status, row.approved_by, row.approved_at = ReferralStatus.READY.value, approver, when

    def mark_sent(
        self, agency_id: str, referral_id: str, when: datetime, deadline: datetime | None
    ) -> None:
        row = self._row(agency_id, referral_id)
        row.status, row.sent_at, row.deadline_at = ReferralStatus.SENT.value, when, deadline
        row.last_error = row.last_error_json = None

    def override_holds(self, agency_id: str, referral_id: str, when: datetime) -> None:
        self._row(agency_id, referral_id).hold_override_at = when
        self._s.flush()

    def send_failed(self, agency_id: str, referral_id: str, error: Message) -> None:
        row = self._row(agency_id, referral_id)
        row.status, row.last_error = ReferralStatus.SEND_FAILED.value, error.english()[:1000]
        row.last_error_json = dump_message(error)

    def overdue_count(self, agency_id: str, now: datetime) -> int:
        """How many referrals are past their deadline with their content not yet gone
        (neither seen offline nor declared removed): those the referrals list shows as
        overdue, counted from the index of the referrals still pending (migration 0042)."""
        return int(
            self._s.scalar(
                select(func.count())
                .select_from(ReferralRow)
                .where(
                    ReferralRow.agency_id == agency_id,
                    ReferralRow.deadline_at.is_not(None),
                    ReferralRow.deadline_at < now,
                    ReferralRow.offline_at.is_(None),
                    ReferralRow.removal_declared_at.is_(None),
                )
            )
            or 0
        )

    def _row(self, agency_id: str, referral_id: str) -> ReferralRow:
        row = self._s.get(ReferralRow, referral_id)
        if row is None or row.agency_id != agency_id:
            raise NotFound("referral not found")
        return row
