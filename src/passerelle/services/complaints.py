"""What a hosting provider does through the signed link of a notice (acknowledge, declare
removal, complain), and the review of complaints by someone other than the person who decided.
A reinstatement withdraws the bank entries the decision added."""

from __future__ import annotations

from datetime import UTC, datetime

from passerelle.core.audit import AuditEntry
from passerelle.core.case import CaseStatus
from passerelle.core.complaint import ANSWER_WITHIN, Complaint, Outcome
from passerelle.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from passerelle.core.hostlink import check_host_link
from passerelle.core.identity import Permission, User
from passerelle.core.message import Message
from passerelle.core.ports import UnitOfWork
from passerelle.core.referral import Referral
from passerelle.services.banks import record_retraction

HOST_ACTOR = "host"


def open_host_link(
    uow: UnitOfWork,
    *,
    secret: str,
    referral_id: str,
    stamp: int,
    signature: str,
    now: datetime | None = None,
) -> Referral:
    """The referral a valid, unexpired link names (PermissionDenied otherwise)."""
    check_host_link(secret, referral_id, stamp, signature, now or datetime.now(UTC))
    agency_id, _ = uow.complaints.referral_agency(referral_id)
    return uow.referrals.get(agency_id, referral_id)


def host_acts(
    uow: UnitOfWork, *, referral: Referral, action: str, text: str = ""
) -> Complaint | None:
    moment = datetime.now(UTC)
    if action == "acknowledge":
        uow.complaints.acknowledge(referral.id, moment)
        event = "referral.acknowledged"
        complaint = None
    elif action == "removed":
        uow.complaints.declare_removed(referral.id, moment)
        event = "referral.removal_declared"
        complaint = None
    elif action == "complain":
        clean = text.strip()
        if not 10 <= len(clean) <= 5000:
            raise InvalidInput("write the complaint (10 to 5000 characters)", field="text")
        complaint = uow.complaints.add(
            agency_id=referral.agency_id,
            referral_id=referral.id,
            case_id=referral.case_id,
            text=clean,
            when=moment,
            deadline=moment + ANSWER_WITHIN,
        )
        event = "complaint.received"
    else:
        raise NotFound("no such action")
    uow.audit.append(
        AuditEntry(
            event,
            HOST_ACTOR,
            referral.agency_id,
            "referral",
            referral.id,
            {"complaint": complaint.id} if complaint else {},
        )
    )
    return complaint


def decide_complaint(
    uow: UnitOfWork, *, viewer: User, complaint_id: str, outcome: str, rationale: str
) -> Complaint:
    if not viewer.can(Permission.REVIEW):
        raise PermissionDenied("only analysts and approvers decide complaints")
    complaint = uow.complaints.get(viewer.agency_id, complaint_id)
    if complaint.outcome is not None:
        raise Conflict("this complaint has already been decided")
    decisions = uow.decisions.list_for_case(viewer.agency_id, complaint.case_id)
    if decisions and decisions[-1].decided_by == viewer.username:
        raise PermissionDenied(
            "a complaint is reviewed by someone other than the person who decided"
        )
    try:
        chosen = Outcome(outcome)
    except ValueError:
        raise InvalidInput(
            "choose: decision upheld or content reinstated", field="outcome"
        ) from None
    clean = rationale.strip()
    if len(clean) < 20:
        raise InvalidInput("write the rationale (at least 20 characters)", field="rationale")
    uow.complaints.decide(
        viewer.agency_id,
        complaint_id,
        outcome=chosen.value,
        decided_by=viewer.username,
        rationale=clean,
        when=datetime.now(UTC),
    )
    if chosen is Outcome.REINSTATED:
        _withdraw(uow, viewer, complaint.case_id, decisions[-1].bank if decisions else None)
        uow.queue.set_status(viewer.agency_id, complaint.case_id, CaseStatus.CLOSED)
    uow.audit.append(
        AuditEntry(
            "complaint.decided",
            viewer.username,
            viewer.agency_id,
            "case",
            complaint.case_id,
            {"complaint": complaint_id, "outcome": chosen.value},
        )
    )
    return uow.complaints.get(viewer.agency_id, complaint_id)


def _withdraw(uow: UnitOfWork, viewer: User, case_id: str, bank_name: str | None) -> None:
    """Remove from the decision's bank the entries that decision added (their note names the
    case); entries the bank held before stay."""
    if not bank_name:
        return
    bank = uow.banks.get_by_name(viewer.agency_id, bank_name)
    added = [e for e in uow.banks.entries([bank.id]) if e.note == f"case {case_id}"]
    for entry in added:
        kind, value = entry.signal.type, entry.signal.value
        try:
            removed = uow.banks.remove_entry(bank.id, kind, value)
        except NotFound:
            continue
        record_retraction(uow, bank, removed)
        uow.audit.append(
            AuditEntry(
                "bank.entry_removed",
                viewer.username,
                viewer.agency_id,
                "bank",
                bank.id,
                {
                    "bank": bank.name,
                    "signal_type": kind,
                    "value": value,
                    "reason": Message(
                        "reinstated after a complaint on case %(case)s", {"case": case_id}
                    ).as_dict(),
                },
            )
        )
