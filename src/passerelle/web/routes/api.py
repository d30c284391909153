"""The JSON API under /api/v1, authenticated by bearer tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from passerelle.core.audit import AuditEvent
from passerelle.core.identity import Agency, User
from passerelle.services.admin import get_agency_user, get_own_agency, list_agency_users
from passerelle.services.audit import get_agency_event, list_agency_events
from passerelle.web.context import ApiViewer, ReadUow
from passerelle.web.params import MAX_SQL_INTEGER

router = APIRouter(prefix="/api/v1", tags=["v1"])


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorOut(BaseModel):
    error: ErrorBody


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "Missing or invalid token"},
    403: {"model": ErrorOut, "description": "Role does not allow it"},
    404: {"model": ErrorOut, "description": "Not found (or not of your agency)"},
    422: {"model": ErrorOut, "description": "Invalid input"},
}


class AgencyOut(BaseModel):
    id: str
    code: str
    name: str
    jurisdiction: str
    created_at: datetime

    @classmethod
    def of(cls, agency: Agency) -> AgencyOut:
        return cls(
            id=agency.id,
            code=agency.code,
            name=agency.name,
            jurisdiction=agency.jurisdiction.value,
            created_at=agency.created_at,
        )


class UserOut(BaseModel):
    id: str
    agency_id: str
    username: str
    display_name: str
    roles: list[str]
    locale: str
    is_active: bool

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            id=user.id,
            agency_id=user.agency_id,
            username=user.username,
            display_name=user.display_name,
            roles=sorted(r.value for r in user.roles),
            locale=user.locale.value,
            is_active=user.is_active,
        )


class AuditEventOut(BaseModel):
    seq: int
    occurred_at: str
    action: str = Field(description="noun.past_verb")
    actor: str
    object_type: str
    object_id: str
    details: dict[str, object]
    prev_hash: str
    hash: str

    @classmethod
    def of(cls, event: AuditEvent) -> AuditEventOut:
        return cls(
            seq=event.seq,
            occurred_at=event.occurred_at,
            action=event.action,
            actor=event.actor,
            object_type=event.object_type,
            object_id=event.object_id,
            details=event.details,
            prev_hash=event.prev_hash,
            hash=event.hash,
        )


@router.get("/me", responses=ERRORS)
def me(viewer: ApiViewer) -> UserOut:
    """The user the token belongs to."""
    return UserOut.of(viewer)


@router.get("/agencies/{agency_id}", responses=ERRORS)
def agency(viewer: ApiViewer, uow: ReadUow, agency_id: str) -> AgencyOut:
    """Your own agency; any other agency is 404."""
    return AgencyOut.of(get_own_agency(uow, viewer=viewer, agency_id=agency_id))


@router.get("/users", responses=ERRORS)
def users(viewer: ApiViewer, uow: ReadUow) -> list[UserOut]:
    """The people of your agency (admins and controllers)."""
    return [UserOut.of(u) for u in list_agency_users(uow, viewer=viewer)]


@router.get("/users/{user_id}", responses=ERRORS)
def user(viewer: ApiViewer, uow: ReadUow, user_id: str) -> UserOut:
    return UserOut.of(get_agency_user(uow, viewer=viewer, user_id=user_id))


@router.get("/audit/events", responses=ERRORS)
def audit_events(
    viewer: ApiViewer,
    uow: ReadUow,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before: Annotated[int | None, Query(ge=1, le=MAX_SQL_INTEGER)] = None,
) -> list[AuditEventOut]:
    """Your agency's audit events, newest first (controllers and admins)."""
    events = list_agency_events(uow, viewer=viewer, limit=limit, before_seq=before)
    return [AuditEventOut.of(e) for e in events]


@router.get("/audit/events/{seq}", responses=ERRORS)
def audit_event(
    viewer: ApiViewer, uow: ReadUow, seq: Annotated[int, Path(ge=1, le=MAX_SQL_INTEGER)]
) -> AuditEventOut:
    return AuditEventOut.of(get_agency_event(uow, viewer=viewer, seq=seq))
