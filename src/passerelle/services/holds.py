"""Observation holds without the content: the unit's holds listed, and a hold set or lifted
from a case's reference, for liaison officers, who manage holds but do not open cases
(exposure to the material stays with those whose work needs it)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from passerelle.core.errors import InvalidInput, NotFound, PermissionDenied
from passerelle.core.identity import Permission, User
from passerelle.core.ports import UnitOfWork
from passerelle.core.search import SearchKind, parse_search
from passerelle.core.signals.url import URL
from passerelle.services.exchange import lift_observation_hold, set_observation_hold

MAX_LISTED = 500
_CASE_ID = re.compile(
    r"(?:^|/cases/)([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:[/?#]|$)"
)


@dataclass(frozen=True, slots=True)
class HeldCase:
    """A hold as the holds page shows it: the case's reference, never its content."""

    case_id: str
    reason: str
    set_by: str
    set_at: datetime


def _may_manage(viewer: User) -> None:
    if not (viewer.can(Permission.APPROVE_ORDER) or viewer.can(Permission.MANAGE_PARTNERS)):
        raise PermissionDenied("only approvers and liaison officers manage observation holds")


def list_holds(uow: UnitOfWork, *, viewer: User) -> list[HeldCase]:
    """The unit's observation holds in force, the newest first."""
    if not (viewer.can(Permission.READ_CASES) or viewer.can(Permission.MANAGE_PARTNERS)):
        raise PermissionDenied("only approvers and liaison officers manage observation holds")
    return [
        HeldCase(case_id, hold.reason, hold.set_by, hold.set_at)
        for case_id, hold in uow.exchange.active_holds(viewer.agency_id, MAX_LISTED)
    ]


def find_held_case(uow: UnitOfWork, *, viewer: User, reference: str) -> list[str]:
    """The cases of the unit a reference names: a case's number or the address of its page,
    a public report's reference (PSL-…), or the address of the content itself."""
    text = reference.strip()
    if not text:
        raise InvalidInput(
            "give the case: its number, the address of its page, a report reference"
            " or the address of the content",
            field="case",
        )
    agency = viewer.agency_id
    found = _CASE_ID.search(text.lower())
    if found:
        uow.queue.get_case(agency, found.group(1))  # NotFound outside the unit
        return [found.group(1)]
    try:
        query = parse_search(text)
    except InvalidInput:
        query = None
    cases: list[str] = []
    if query is not None and query.kind is SearchKind.REFERENCE:
        case_id = uow.queue.case_for_reference(agency, query.value)
        cases = [case_id] if case_id else []
    elif query is not None and query.kind is SearchKind.URL:
        items = uow.queue.items_where(agency, url_hash=URL.compute(query.value).value)
        cases = [case.id for _, case in uow.queue.cases_of_items(agency, items)]
    else:
        raise InvalidInput(
            "not a case number, a case page, a report reference or an address: %(text)s",
            field="case",
            text=text[:200],
        )
    if not cases:
        raise NotFound("no case of this unit matches %(text)s", text=text[:200])
    return cases


def hold_by_reference(uow: UnitOfWork, *, viewer: User, reference: str, reason: str) -> int:
    """Set the observation hold on every case the reference names; how many."""
    _may_manage(viewer)
    cases = find_held_case(uow, viewer=viewer, reference=reference)
    for case_id in cases:
        set_observation_hold(uow, viewer=viewer, case_id=case_id, reason=reason)
    return len(cases)


def lift_hold(uow: UnitOfWork, *, viewer: User, case_id: str) -> None:
    _may_manage(viewer)
    uow.queue.get_case(viewer.agency_id, case_id)  # NotFound outside the unit
    lift_observation_hold(uow, viewer=viewer, case_id=case_id)
