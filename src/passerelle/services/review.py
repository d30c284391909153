"""Deciding a case: a human verdict with its category or reason, the Art. 1(3) exemption
check, a rationale and a legal basis; optionally the item's signals go to a bank."""

from __future__ import annotations

from datetime import UTC, datetime

from passerelle.core.audit import AuditEntry, AuditEvent
from passerelle.core.bank import BankKind, BankOrigin, EntryInput, parse_bank_name
from passerelle.core.case import CaseStatus
from passerelle.core.decision import Decision, DecisionInput, Recommendation, Verdict
from passerelle.core.errors import Conflict, InvalidInput, PermissionDenied
from passerelle.core.identity import Permission, User
from passerelle.core.note import CaseNote, parse_note
from passerelle.core.ports import UnitOfWork
from passerelle.core.public_report import PublicReport
from passerelle.core.referral import Referral
from passerelle.core.taxonomy import Labels
from passerelle.services.banks import add_entries

BANKABLE = ("sha256", "md5", "pdq", "url", "text", "vpdq")


def decide_case(
    uow: UnitOfWork, *, viewer: User, case_id: str, decision: DecisionInput
) -> Decision:
    if not viewer.can(Permission.REVIEW):
        raise PermissionDenied("only analysts and approvers decide cases")
    detail = uow.queue.get_case(viewer.agency_id, case_id)
    if detail.summary.status is not CaseStatus.OPEN:
        raise Conflict("this case has already been decided")
    agency = uow.agencies.get(viewer.agency_id)
    if decision.add_to_bank:
        bank = uow.banks.get_by_name(agency.id, parse_bank_name(decision.add_to_bank))
        wanted = BankKind.POSITIVE if decision.verdict is Verdict.TERRORIST else BankKind.NEGATIVE
        if bank.origin is not BankOrigin.OWN or bank.kind is not wanted:
            raise InvalidInput(
                "bank %(name)s cannot take this decision: terrorist content goes to one of"
                " your positive banks, content found not terrorist to one of your negative banks",
                field="add_to_bank",
                name=repr(bank.name),
            )
        labels = Labels(category=decision.category, tags=frozenset({"decision"}))
        entries = [
            EntryInput(kind, value, labels, note=f"case {case_id}")
            for kind, value in detail.signals.items()
            if kind in BANKABLE
        ]
        add_entries(
            uow,
            agency_code=agency.code,
            bank_name=bank.name,
            entries=entries,
            actor=viewer.username,
            source=f"decision:{case_id}",
            decision={
                "verdict": decision.verdict.value,
                "category": decision.category.value if decision.category else None,
                "decided_at": datetime.now(UTC).isoformat(timespec="seconds"),
            },
        )
    recorded = uow.decisions.add(
        agency_id=agency.id, case_id=case_id, decided_by=viewer.username, decision=decision
    )
    uow.queue.set_status(agency.id, case_id, CaseStatus.DECIDED)
    uow.audit.append(
        AuditEntry(
            action="case.decided",
            actor=viewer.username,
            agency_id=agency.id,
            object_type="case",
            object_id=case_id,
            details={
                "decision": recorded.id,
                "verdict": decision.verdict.value,
                "category": decision.category.value if decision.category else None,
                "reason": decision.reason.value if decision.reason else None,
                "exemption_checked": decision.exemption_checked,
                "legal_basis": decision.legal_basis,
                "bank": decision.add_to_bank,
            },
        )
    )
    return recorded


def case_decisions(uow: UnitOfWork, *, viewer: User, case_id: str) -> list[Decision]:
    return uow.decisions.list_for_case(viewer.agency_id, case_id)


def recommend_lifting(uow: UnitOfWork, *, viewer: User, case_id: str, text: str) -> Recommendation:
    """A controller recommends lifting the measure taken on a case; it shows on the case and
    counts in the transparency report. It changes nothing by itself: people decide."""
    if not viewer.can(Permission.RECOMMEND):
        raise PermissionDenied("only controllers record recommendations")
    uow.queue.get_case(viewer.agency_id, case_id)  # the case must be of the controller's agency
    if not uow.decisions.list_for_case(viewer.agency_id, case_id):
        raise InvalidInput(
            "this case has no decision yet: there is no measure to lift", field="text"
        )
    clean = text.strip()
    if not 20 <= len(clean) <= 5000:
        raise InvalidInput("write the recommendation (20 to 5000 characters)", field="text")
    recommendation = uow.decisions.add_recommendation(
        agency_id=viewer.agency_id, case_id=case_id, controller=viewer.username, text=clean
    )
    uow.audit.append(
        AuditEntry(
            "case.lifting_recommended",
            viewer.username,
            viewer.agency_id,
            "case",
            case_id,
            {"recommendation": recommendation.id},
        )
    )
    return recommendation


def reviewers(uow: UnitOfWork, *, viewer: User) -> list[User]:
    """The active people of the viewer's agency who review cases (whom a case can go to)."""
    return [
        u
        for u in uow.users.list_in_agency(viewer.agency_id)
        if u.is_active and u.can(Permission.REVIEW)
    ]


def assign_case(uow: UnitOfWork, *, viewer: User, case_id: str, assignee: str) -> None:
    """Give a case to a reviewer of the agency (oneself to take it), or to nobody with an
    empty `assignee`. Analysts and approvers assign; the change is audited."""
    if not viewer.can(Permission.REVIEW):
        raise PermissionDenied("only analysts and approvers assign cases")
    chosen = assignee.strip() or None
    if chosen is not None and chosen not in {u.username for u in reviewers(uow, viewer=viewer)}:
        raise InvalidInput("choose an active analyst or approver of the unit", field="assignee")
    before = uow.queue.assign(viewer.agency_id, case_id, chosen, datetime.now(UTC))
    if before != chosen:
        uow.audit.append(
            AuditEntry(
                "case.assigned",
                viewer.username,
                viewer.agency_id,
                "case",
                case_id,
                {"to": chosen, "from": before},
            )
        )


def add_note(uow: UnitOfWork, *, viewer: User, case_id: str, text: str) -> CaseNote:
    """A short internal note on a case by one of the people who read it (analysts, approvers,
    controllers: DESIGN §3 keeps cases from the other roles). It shows in the case history;
    it is never shared with partners or hosts."""
    if not (viewer.can(Permission.REVIEW) or viewer.can(Permission.RECOMMEND)):
        raise PermissionDenied("only the unit's analysts, approvers and controllers write notes")
    uow.queue.get_case(viewer.agency_id, case_id)  # a case of the viewer's agency
    clean = parse_note(text)
    note = uow.notes.add(
        agency_id=viewer.agency_id,
        case_id=case_id,
        author=viewer.username,
        text=clean,
        when=datetime.now(UTC),
    )
    uow.audit.append(
        AuditEntry(
            "case.note_added",
            viewer.username,
            viewer.agency_id,
            "case",
            case_id,
            {"note": note.id, "text": clean},
        )
    )
    return note


def case_history(
    uow: UnitOfWork,
    *,
    viewer: User,
    case_id: str,
    referrals: list[Referral] | None = None,
) -> list[AuditEvent]:
    """What happened to a case and to its referrals (including what the host did through
    its link), in order (`referrals`: the case's, when the caller has read them already)."""
    events = list(uow.audit.list_for_object(viewer.agency_id, "case", case_id))
    if referrals is None:
        referrals = uow.referrals.for_case(viewer.agency_id, case_id)
    for referral in referrals:
        events.extend(uow.audit.list_for_object(viewer.agency_id, "referral", referral.id))
    return sorted(events, key=lambda e: e.seq)


def public_reports(uow: UnitOfWork, *, viewer: User, case_id: str) -> list[PublicReport]:
    """What members of the public said about the case's address, every report of it."""
    return uow.public_reports.for_case(viewer.agency_id, case_id)
