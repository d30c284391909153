"""The page a hosting provider reaches through the signed link of a notice (no account)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from starlette.responses import Response

from passerelle.core.errors import InvalidInput
from passerelle.services.complaints import host_acts, open_host_link
from passerelle.web.context import ReadUow, WriteUow, error_text, get_state, render
from passerelle.web.csrf import require_csrf
from passerelle.web.params import MAX_TIMESTAMP

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_csrf)])


def _page(
    request: Request, referral: object, stamp: int, signature: str, **extra: object
) -> Response:
    context = {
        "referral": referral,
        "stamp": stamp,
        "signature": signature,
        "done": None,
        "error": None,
    }
    context.update(extra)
    status = 422 if extra.get("error") else 200
    return render(request, "pages/host.html", context, status_code=status)


@router.get("/hote/{referral_id}", name="host_page")
def host_page(
    request: Request,
    uow: ReadUow,
    referral_id: str,
    e: Annotated[int, Query(ge=0, le=MAX_TIMESTAMP)] = 0,
    s: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    secret = get_state(request).settings.secret_key
    referral = open_host_link(uow, secret=secret, referral_id=referral_id, stamp=e, signature=s)
    return _page(request, referral, e, s)


@router.post("/hote/{referral_id}", name="host_action")
def host_action(
    request: Request,
    uow: WriteUow,
    referral_id: str,
    e: Annotated[int, Form(ge=0, le=MAX_TIMESTAMP)] = 0,
    s: Annotated[str, Form(max_length=64)] = "",
    action: Annotated[str, Form(max_length=16)] = "",
    text: Annotated[str, Form(max_length=10_000)] = "",
) -> Response:
    secret = get_state(request).settings.secret_key
    referral = open_host_link(uow, secret=secret, referral_id=referral_id, stamp=e, signature=s)
    try:
        host_acts(uow, referral=referral, action=action, text=text)
    except InvalidInput as exc:
        return _page(request, referral, e, s, error=error_text(request, exc), text=text)
    uow.commit()
    return _page(request, referral, e, s, done=action)
