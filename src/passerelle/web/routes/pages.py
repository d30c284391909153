"""The console's pages for logged-in people: dashboard, audit log, people, account."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from starlette.responses import Response

from passerelle.services.admin import get_agency_user, list_agency_users, set_media_protection
from passerelle.services.audit import get_agency_event, list_agency_events
from passerelle.services.auth import create_api_token, revoke_api_token
from passerelle.web.context import ReadUow, Viewer, WriteUow, render
from passerelle.web.csrf import require_csrf
from passerelle.web.htmx import redirect
from passerelle.web.params import MAX_SQL_INTEGER
from passerelle.web.views import audit_row, user_view

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_csrf)])

AUDIT_PAGE = 100


@router.get("/audit", name="audit_log")
def audit_log(
    request: Request,
    viewer: Viewer,
    uow: ReadUow,
    before: Annotated[int | None, Query(ge=1, le=MAX_SQL_INTEGER)] = None,
) -> Response:
    events = list_agency_events(uow, viewer=viewer, limit=AUDIT_PAGE, before_seq=before)
    older = events[-1].seq if len(events) == AUDIT_PAGE else None
    return render(
        request,
        "pages/audit_log.html",
        {"events": [audit_row(e) for e in events], "older": older},
    )


@router.get("/audit/{seq}", name="audit_event")
def audit_event(
    request: Request,
    viewer: Viewer,
    uow: ReadUow,
    seq: Annotated[int, Path(ge=1, le=MAX_SQL_INTEGER)],
) -> Response:
    event = get_agency_event(uow, viewer=viewer, seq=seq)
    return render(request, "pages/audit_event.html", {"event": audit_row(event)})


@router.get("/people", name="people")
def people(request: Request, viewer: Viewer, uow: ReadUow) -> Response:
    users = list_agency_users(uow, viewer=viewer)
    return render(request, "pages/people.html", {"people": [user_view(u) for u in users]})


@router.get("/people/{user_id}", name="person")
def person(request: Request, viewer: Viewer, uow: ReadUow, user_id: str) -> Response:
    user = get_agency_user(uow, viewer=viewer, user_id=user_id)
    return render(request, "pages/person.html", {"person": user_view(user)})


@router.get("/account", name="account")
def account(request: Request, viewer: Viewer, uow: ReadUow) -> Response:
    tokens = uow.api_tokens.list_for_user(viewer.id)
    return render(request, "pages/account.html", {"tokens": tokens, "new_token": None})


@router.post("/account/tokens", name="create_token")
def create_token(
    request: Request, viewer: Viewer, uow: WriteUow, name: Annotated[str, Form(max_length=200)]
) -> Response:
    _, secret = create_api_token(uow, user=viewer, name=name)
    uow.commit()
    tokens = uow.api_tokens.list_for_user(viewer.id)
    return render(request, "pages/account.html", {"tokens": tokens, "new_token": secret})


@router.post("/account/protection", name="set_protection")
def set_protection(
    request: Request,
    viewer: Viewer,
    uow: WriteUow,
    reveal_media: Annotated[bool, Form()] = False,
) -> Response:
    set_media_protection(uow, user=viewer, reveal=reveal_media)
    uow.commit()
    return redirect(request, request.url_for("account").path)


@router.post("/account/tokens/{token_id}/revoke", name="revoke_token")
def revoke_token(request: Request, viewer: Viewer, uow: WriteUow, token_id: str) -> Response:
    revoke_api_token(uow, user=viewer, token_id=token_id)
    uow.commit()
    return redirect(request, request.url_for("account").path)
