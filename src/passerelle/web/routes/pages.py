"""The console's pages for logged-in people: dashboard, audit log, people, account."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from starlette.responses import Response

from passerelle.core.errors import Conflict, InvalidInput
from passerelle.core.identity import Permission, Role, User
from passerelle.core.ports import UnitOfWork
from passerelle.services.admin import (
    OwnRolesRefused,
    add_person,
    change_roles,
    deactivate_person,
    get_agency_user,
    list_agency_users,
    person_locked_until,
    record_own_roles_refused,
    require_admin,
    reset_password,
    set_media_protection,
    unlock_person,
)
from passerelle.services.audit import get_agency_event, list_agency_events
from passerelle.services.auth import create_api_token, revoke_api_token
from passerelle.services.passwords import NewPassword, prepare_password
from passerelle.web.context import ReadUow, Viewer, WriteUow, get_state, gettext_of, render
from passerelle.web.csrf import require_csrf
from passerelle.web.htmx import redirect
from passerelle.web.params import MAX_SQL_INTEGER
from passerelle.web.views import audit_line, user_view

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
        {"events": [audit_line(e, gettext_of(request)) for e in events], "older": older},
    )


@router.get("/audit/{seq}", name="audit_event")
def audit_event(
    request: Request,
    viewer: Viewer,
    uow: ReadUow,
    seq: Annotated[int, Path(ge=1, le=MAX_SQL_INTEGER)],
) -> Response:
    event = get_agency_event(uow, viewer=viewer, seq=seq)
    return render(
        request, "pages/audit_event.html", {"event": audit_line(event, gettext_of(request))}
    )


# Message ids, translated in the pages: what to fix in a people form.
_PEOPLE_PROBLEMS = {
    "username": "Choose a username: 2 to 64 lower-case letters, digits, '.', '_' or '-'.",
    "password": "The password needs at least 12 characters.",
    "roles": "Choose at least one role.",
    "own_roles": "You cannot change your own roles: another administrator must do it.",
    "active": "You cannot deactivate yourself.",
}


def _people_page(
    request: Request,
    uow: UnitOfWork,
    viewer: User,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, object] | None = None,
    status_code: int = 200,
) -> Response:
    users = list_agency_users(uow, viewer=viewer)
    context = {
        "people": [user_view(u) for u in users],
        "may_manage": viewer.can(Permission.MANAGE_USERS),
        "all_roles": [r.value for r in Role],
        "errors": errors or {},
        "form": form or {},
    }
    return render(request, "pages/people.html", context, status_code=status_code)


@router.get("/people", name="people")
def people(request: Request, viewer: Viewer, uow: ReadUow) -> Response:
    return _people_page(request, uow, viewer)


def _prepared(password: str) -> NewPassword | InvalidInput:
    """The password checked and hashed before any write transaction opens (Argon2 is slow on
    purpose: the transaction must not hold the write lock meanwhile); the reason if refused."""
    try:
        return prepare_password(password)
    except InvalidInput as refused:
        return refused


@router.post("/people", name="add_person")
def add_person_form(
    request: Request,
    viewer: Viewer,
    username: Annotated[str, Form(max_length=64)] = "",
    display_name: Annotated[str, Form(max_length=200)] = "",
    roles: Annotated[list[str] | None, Form(max_length=8)] = None,
    password: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    form: dict[str, object] = {
        "username": username,
        "display_name": display_name,
        "roles": roles or [],
    }
    require_admin(viewer)
    prepared = _prepared(password)
    with get_state(request).database.unit_of_work(write=True) as uow:
        try:
            if isinstance(prepared, InvalidInput):
                raise prepared
            added = add_person(
                uow,
                viewer=viewer,
                username=username,
                display_name=display_name,
                roles=roles or [],
                password=prepared,
            )
        except (InvalidInput, Conflict) as exc:
            uow.rollback()
            field = getattr(exc, "field", None) or "username"
            problem = _PEOPLE_PROBLEMS.get(field, "This username is already taken.")
            if isinstance(exc, Conflict):
                problem = "This username is already taken."
            return _people_page(
                request, uow, viewer, errors={field: problem}, form=form, status_code=422
            )
        uow.commit()
    return redirect(request, request.url_for("person", user_id=added.id).path)


def _person_page(
    request: Request,
    uow: UnitOfWork,
    viewer: User,
    user_id: str,
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    user = get_agency_user(uow, viewer=viewer, user_id=user_id)
    may_manage = viewer.can(Permission.MANAGE_USERS)
    locked = (
        person_locked_until(uow, viewer=viewer, user_id=user_id, now=datetime.now(UTC))
        if may_manage
        else None
    )
    context = {
        "person": user_view(user),
        "may_manage": may_manage,
        "is_self": user.id == viewer.id,
        "locked_until": locked.strftime("%Y-%m-%d %H:%M UTC") if locked else None,
        "all_roles": [r.value for r in Role],
        "errors": errors or {},
    }
    return render(request, "pages/person.html", context, status_code=status_code)


@router.get("/people/{user_id}", name="person")
def person(request: Request, viewer: Viewer, uow: ReadUow, user_id: str) -> Response:
    return _person_page(request, uow, viewer, user_id)


def _person_form(
    request: Request, uow: UnitOfWork, viewer: User, user_id: str, act: Callable[[], object]
) -> Response:
    """An administrator's action on a person: done and back to the person's page, or the
    page again with the problem."""
    try:
        act()
    except InvalidInput as exc:
        uow.rollback()
        field = exc.field or "roles"
        errors = {field: _PEOPLE_PROBLEMS.get(field, str(exc))}
        return _person_page(request, uow, viewer, user_id, errors=errors, status_code=422)
    except OwnRolesRefused as refused:
        uow.rollback()
        record_own_roles_refused(uow, refused)
        uow.commit()
        errors = {"roles": _PEOPLE_PROBLEMS["own_roles"]}
        return _person_page(request, uow, viewer, user_id, errors=errors, status_code=403)
    uow.commit()
    return redirect(request, request.url_for("person", user_id=user_id).path)


@router.post("/people/{user_id}/roles", name="change_roles")
def roles_form(
    request: Request,
    viewer: Viewer,
    uow: WriteUow,
    user_id: str,
    roles: Annotated[list[str] | None, Form(max_length=8)] = None,
) -> Response:
    return _person_form(
        request,
        uow,
        viewer,
        user_id,
        lambda: change_roles(uow, viewer=viewer, user_id=user_id, roles=roles or []),
    )


@router.post("/people/{user_id}/deactivate", name="deactivate_person")
def deactivate_form(request: Request, viewer: Viewer, uow: WriteUow, user_id: str) -> Response:
    response = _person_form(
        request,
        uow,
        viewer,
        user_id,
        lambda: deactivate_person(uow, viewer=viewer, user_id=user_id),
    )
    get_state(request).api_tokens.forget(user_id)
    return response


@router.post("/people/{user_id}/password", name="reset_password")
def password_form(
    request: Request,
    viewer: Viewer,
    user_id: str,
    password: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    require_admin(viewer)
    prepared = _prepared(password)

    def reset(uow: UnitOfWork) -> object:
        if isinstance(prepared, InvalidInput):
            raise prepared
        return reset_password(uow, viewer=viewer, user_id=user_id, password=prepared)

    with get_state(request).database.unit_of_work(write=True) as uow:
        return _person_form(request, uow, viewer, user_id, lambda: reset(uow))


@router.post("/people/{user_id}/unlock", name="unlock_person")
def unlock_form(request: Request, viewer: Viewer, uow: WriteUow, user_id: str) -> Response:
    return _person_form(
        request, uow, viewer, user_id, lambda: unlock_person(uow, viewer=viewer, user_id=user_id)
    )


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
    get_state(request).api_tokens.forget(viewer.id)
    return redirect(request, request.url_for("account").path)
