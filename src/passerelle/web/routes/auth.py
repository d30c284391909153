"""Login, logout and the choice of language."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from starlette.responses import Response

from passerelle.core.errors import AuthenticationFailed
from passerelle.services.admin import parse_locale, set_user_locale
from passerelle.services.auth import AccountLocked, LoginPolicy, log_in, log_out
from passerelle.web.context import WriteUow, get_state, optional_viewer, render
from passerelle.web.csrf import require_csrf
from passerelle.web.htmx import redirect
from passerelle.web.security import (
    LOCALE_COOKIE,
    SESSION_COOKIE,
    client_source,
    is_safe_redirect,
)

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_csrf)])


def _next_or_home(target: str | None) -> str:
    return target if target and is_safe_redirect(target) else "/"


@router.get("/login", name="login_form")
def login_form(
    request: Request, next: Annotated[str | None, Query(max_length=2000)] = None
) -> Response:
    if optional_viewer(request) is not None:
        return redirect(request, _next_or_home(next))
    return render(request, "pages/login.html", {"next": _next_or_home(next), "failed": False})


@router.post("/login", name="login")
def login(
    request: Request,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    settings = get_state(request).settings
    policy = LoginPolicy(
        max_failures=settings.login_max_failures,
        lockout=timedelta(minutes=settings.login_lockout_minutes),
        session_lifetime=timedelta(hours=settings.session_hours),
    )
    address = request.client.host if request.client else "unknown"
    try:
        result = log_in(
            get_state(request).database.unit_of_work,
            username=username,
            password=password,
            source=client_source(address, settings.secret_key),
            policy=policy,
        )
    except AuthenticationFailed as exc:
        context = {
            "next": _next_or_home(next),
            "failed": True,
            "username": username,
            "locked_until": exc.until.strftime("%Y-%m-%d %H:%M UTC")
            if isinstance(exc, AccountLocked)
            else None,
        }
        return render(request, "pages/login.html", context, status_code=401)
    response = redirect(request, _next_or_home(next))
    response.set_cookie(
        SESSION_COOKIE,
        result.session_token,
        max_age=settings.session_hours * 3600,
        httponly=True,
        secure=settings.secure_cookies,
        samesite="lax",
        path="/",
    )
    return response


@router.post("/logout", name="logout")
def logout(request: Request, uow: WriteUow) -> Response:
    user = optional_viewer(request)
    token = request.cookies.get(SESSION_COOKIE)
    if user is not None and token:
        log_out(uow, user=user, session_token=token)
        uow.commit()
    response = redirect(request, "/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/locale", name="set_locale")
def choose_locale(
    request: Request,
    uow: WriteUow,
    locale: Annotated[str, Form(max_length=8)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    chosen = parse_locale(locale)
    user = optional_viewer(request)
    if user is not None:
        set_user_locale(uow, user=user, locale=chosen.value)
        uow.commit()
    response = redirect(request, _next_or_home(next))
    response.set_cookie(
        LOCALE_COOKIE,
        chosen.value,
        max_age=365 * 24 * 3600,
        samesite="lax",
        path="/",
        secure=get_state(request).settings.secure_cookies,
        httponly=True,
    )
    return response
