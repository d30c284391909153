"""The public report form: /signaler in French, /report in English. No login."""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import Response

from passerelle.core.errors import InvalidInput, NotFound
from passerelle.fetch.guard import parse_allow_setting
from passerelle.services.public import submit_public_report
from passerelle.web.context import WriteUow, error_text, get_state, render
from passerelle.web.csrf import require_csrf

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_csrf)])
PATHS = {"fr": "/signaler", "en": "/report"}


def _open_agency(request: Request) -> str:
    agency = get_state(request).settings.public_agency
    if not agency:
        raise NotFound("the public report form is not open on this instance")
    return agency


def _source_hash(request: Request) -> str:
    """A keyed hash of the connection's address, never the address itself."""
    address = request.client.host if request.client else "unknown"
    key = get_state(request).settings.secret_key.encode()
    return hmac.new(key, address.encode(), hashlib.sha256).hexdigest()[:32]


def _form(
    request: Request,
    lang: str,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    request.state.forced_locale = lang
    context = {"lang": lang, "errors": errors or {}, "form": form or {}, "action": PATHS[lang]}
    return render(request, "pages/public_report.html", context, status_code=status)


@router.get("/signaler", name="public_report_fr")
def form_fr(request: Request) -> Response:
    _open_agency(request)
    return _form(request, "fr")


@router.get("/report", name="public_report_en")
def form_en(request: Request) -> Response:
    _open_agency(request)
    return _form(request, "en")


def _submit(
    request: Request, uow: WriteUow, lang: str, url: str, category: str, description: str
) -> Response:
    agency = _open_agency(request)
    settings = get_state(request).settings
    request.state.forced_locale = lang  # errors too speak the form's language
    try:
        reference = submit_public_report(
            uow,
            agency_code=agency,
            url=url,
            category=category,
            description=description,
            source_hash=_source_hash(request),
            per_hour=settings.public_reports_per_hour,
            allowed=parse_allow_setting(settings.fetch_allow),
        )
    except InvalidInput as exc:
        submitted = {"url": url, "category": category, "description": description}
        return _form(
            request,
            lang,
            errors={exc.field or "url": error_text(request, exc)},
            form=submitted,
            status=422,
        )
    uow.commit()
    request.state.forced_locale = lang
    prevention = settings.prevention_fr if lang == "fr" else settings.prevention_en
    return render(
        request,
        "pages/public_report_ack.html",
        {"reference": reference, "prevention": prevention, "lang": lang},
    )


@router.post("/signaler", name="submit_report_fr")
def submit_fr(
    request: Request,
    uow: WriteUow,
    url: Annotated[str, Form(max_length=4000)] = "",
    category: Annotated[str, Form(max_length=8)] = "",
    description: Annotated[str, Form(max_length=10_000)] = "",
) -> Response:
    return _submit(request, uow, "fr", url, category, description)


@router.post("/report", name="submit_report_en")
def submit_en(
    request: Request,
    uow: WriteUow,
    url: Annotated[str, Form(max_length=4000)] = "",
    category: Annotated[str, Form(max_length=8)] = "",
    description: Annotated[str, Form(max_length=10_000)] = "",
) -> Response:
    return _submit(request, uow, "en", url, category, description)
