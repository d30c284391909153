"""The JSON API under /api/v1, authenticated by bearer tokens."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from passerelle.core.audit import AuditEvent
from passerelle.core.errors import InvalidInput, TooLarge
from passerelle.core.identity import Agency, User
from passerelle.core.match import Match
from passerelle.core.message import Message, grouped
from passerelle.core.ports import UnitOfWork
from passerelle.core.signals import Signal
from passerelle.scan import ScanOptions
from passerelle.services.admin import get_agency_user, get_own_agency, list_agency_users
from passerelle.services.audit import get_agency_event, list_agency_events, read_head
from passerelle.services.lookup import (
    MAX_SIGNALS,
    Asked,
    look_up,
    look_up_file,
    look_up_known,
    parse_asked,
)
from passerelle.web.context import ApiViewer, ReadUow, get_state
from passerelle.web.errors import validation_problem
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


@router.get("/audit/events/{seq}", responses=ERRORS, name="api_audit_event")
def audit_event(
    viewer: ApiViewer, uow: ReadUow, seq: Annotated[int, Path(ge=1, le=MAX_SQL_INTEGER)]
) -> AuditEventOut:
    return AuditEventOut.of(get_agency_event(uow, viewer=viewer, seq=seq))


class AuditHeadOut(BaseModel):
    seq: int = Field(description="Number of the newest event of the instance's audit log")
    mac: str = Field(description="Its MAC (HMAC-SHA256, hex)")
    head: str = Field(description="Both as `seq:mac`, for `passerelle audit verify --head`")


@router.get("/audit/head", responses=ERRORS)
def audit_head(viewer: ApiViewer, uow: ReadUow) -> AuditHeadOut:
    """The audit log's head, to keep outside the instance (controllers and admins)."""
    head = read_head(uow, viewer=viewer)
    return AuditHeadOut(seq=head.seq, mac=head.mac, head=str(head))


# --- looking signals up in the banks ------------------------------------------------------

# A JSON request of MAX_SIGNALS signals (text fingerprints are 1,024 characters) fits here.
MAX_JSON_BYTES = 2 * 1024 * 1024
INLINE_SIGNALS = 16  # at most this many signals are looked up on the event loop itself


class SignalIn(BaseModel):
    type: str = Field(description="sha256, md5, pdq, url, text or vpdq")
    value: str = Field(
        description="Lower-case hex for digests and PDQ; an address or its hash for url; the"
        " text itself or its fingerprint for text"
    )


class MatchRequest(BaseModel):
    signals: list[SignalIn] = Field(description=f"At most {MAX_SIGNALS} signals")


class MatchOut(BaseModel):
    bank: str
    bank_kind: str = Field(description="positive, or negative (known benign)")
    origin: str = Field(description="own, or partner")
    signal_type: str
    value: str = Field(description="The bank entry's value")
    distance: float
    threshold: float
    labels: dict[str, object]
    video: dict[str, object] | None = None

    @classmethod
    def of(cls, match: Match) -> MatchOut:
        return cls(
            bank=match.bank,
            bank_kind=match.bank_kind.value,
            origin=match.origin.value,
            signal_type=match.signal_type,
            value=match.value,
            distance=match.distance,
            threshold=match.threshold,
            labels=match.labels.as_dict(),
            video=match.video.as_dict() if match.video else None,
        )


class SignalAnswer(BaseModel):
    type: str
    value: str
    matches: list[MatchOut] = Field(description="Positive banks that match")
    suppressed: list[MatchOut] = Field(
        description="Positive matches cancelled by a negative bank of the same signal type"
    )
    benign: list[MatchOut] = Field(description="Negative (known-benign) banks that match")


class MatchResponse(BaseModel):
    results: list[SignalAnswer] = Field(description="One per signal, in the order sent")


_MATCH_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    k: v for k, v in MatchRequest.model_json_schema().items() if k != "$defs"
                }
                | {
                    "properties": {
                        "signals": {
                            "type": "array",
                            "maxItems": MAX_SIGNALS,
                            "items": SignalIn.model_json_schema(),
                        }
                    }
                }
            },
            "application/octet-stream": {
                "schema": {"type": "string", "format": "binary"},
                "description": "A file (image, page, text): its signals are computed and looked up",
            },
        },
    }
}


async def _read_capped(request: Request, limit: int, what: Message) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise TooLarge(
            "%(what)s is over the limit of %(limit)s bytes", what=what, limit=grouped(limit)
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(
                "%(what)s is over the limit of %(limit)s bytes", what=what, limit=grouped(limit)
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_request(body: bytes) -> list[Signal]:
    try:
        parsed = MatchRequest.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise InvalidInput(
            "%(where)s: %(problem)s",
            field="signals",
            where=where,
            problem=validation_problem(first),
        ) from None
    return parse_asked([Asked(s.type, s.value) for s in parsed.signals])


@router.post(
    "/match",
    responses={
        **ERRORS,
        413: {"model": ErrorOut, "description": "Body or file over the size limit"},
    },
    openapi_extra=_MATCH_BODY,
)
async def match(request: Request, viewer: ApiViewer) -> MatchResponse:
    """Which banks of your agency match: send signals (JSON, up to 1,000 at once, answered in
    one batch) or one file (`application/octet-stream`, its signals computed as a scan
    does). Each signal gets the matching banks with distances, thresholds and labels.
    Analysts and approvers; each call is audited by its counts, never its content."""
    state = get_state(request)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()

    def open_read() -> AbstractContextManager[UnitOfWork]:
        return state.database.unit_of_work()

    if kind == "application/json":
        body = await _read_capped(request, MAX_JSON_BYTES, Message("the request"))
        signals = _parse_request(body)
        # A few signals take well under a millisecond from the matcher in memory: answered
        # here, as handing them to a worker thread and back costs more than the look-up (two
        # switches of the interpreter lock, each up to its 5 ms interval on a busy machine).
        known = (
            look_up_known(state.lookup_audit, state.matchers, viewer=viewer, signals=signals)
            if len(signals) <= INLINE_SIGNALS
            else None
        )
        answers = (
            known
            if known is not None
            else await run_in_threadpool(
                look_up,
                open_read,
                state.lookup_audit,
                state.matchers,
                viewer=viewer,
                signals=signals,
            )
        )
    else:
        data = await _read_capped(request, state.settings.match_max_bytes, Message("the file"))
        options = ScanOptions(max_pixels=state.settings.scan_max_pixels)
        answers = await run_in_threadpool(
            look_up_file,
            open_read,
            state.lookup_audit,
            state.matchers,
            viewer=viewer,
            data=data,
            options=options,
        )
    return MatchResponse(
        results=[
            SignalAnswer(
                type=answer.signal.type,
                value=answer.signal.value,
                matches=[MatchOut.of(m) for m in answer.outcome.matches],
                suppressed=[MatchOut.of(m) for m in answer.outcome.suppressed],
                benign=[MatchOut.of(m) for m in answer.outcome.benign],
            )
            for answer in answers
        ]
    )
