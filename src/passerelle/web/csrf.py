"""The CSRF check, a dependency of every console router (API routes use bearer tokens)."""

from __future__ import annotations

from fastapi import Request

from passerelle.web.context import get_state
from passerelle.web.errors import CsrfFailed
from passerelle.web.security import (
    CSRF_COOKIE,
    CSRF_FIELD,
    CSRF_HEADER,
    SAFE_METHODS,
    is_valid_csrf,
)

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def require_csrf(request: Request) -> None:
    if request.method in SAFE_METHODS:
        return
    token: object = request.headers.get(CSRF_HEADER)
    if token is None and request.headers.get("content-type", "").startswith(_FORM_TYPES):
        token = (await request.form()).get(CSRF_FIELD)
    seed = request.cookies.get(CSRF_COOKIE)
    secret = get_state(request).settings.secret_key
    if not isinstance(token, str) or not is_valid_csrf(seed, token, secret):
        raise CsrfFailed
