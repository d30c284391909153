"""Referrals in the console: prepare from a case, approve (four eyes), mark sent, notices;
and the directory of hosting providers the notices go to."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from starlette.responses import Response

from passerelle.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from passerelle.core.identity import Permission, User
from passerelle.core.ports import UnitOfWork
from passerelle.core.referral import ReferralStatus
from passerelle.services.refer import (
    approve_referral,
    issue_time,
    mark_sent,
    parse_issue_time,
    prepare_referral,
    referral_events,
    register_host,
    render_notice,
    send_referral,
    update_host,
)
from passerelle.web.context import ReadUow, Viewer, WriteUow, error_text, get_state, render
from passerelle.web.csrf import require_csrf
from passerelle.web.hostlinks import host_link
from passerelle.web.htmx import redirect
from passerelle.web.routes.queue import refuse_on_case_page
from passerelle.web.views import audit_row

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_csrf)])
FORMATS = {
    "txt": "text/plain; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "json": "application/json",
}


@router.post("/cases/{case_id}/referrals", name="prepare_referral")
def prepare(
    request: Request,
    viewer: Viewer,
    uow: WriteUow,
    case_id: str,
    kind: Annotated[str, Form(max_length=32)] = "",
    language: Annotated[str, Form(max_length=8)] = "",
    override: Annotated[str, Form(max_length=2000)] = "",
    statement: Annotated[str, Form(max_length=10_000)] = "",
    again: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    submitted: dict[str, object] = {
        "kind": kind,
        "override": override,
        "statement": statement,
        "again": again,
    }
    try:
        referral = prepare_referral(
            uow,
            viewer=viewer,
            case_id=case_id,
            kind=kind,
            language=language,
            override=override,
            statement=statement,
            again=again,
        )
    except (InvalidInput, Conflict) as exc:
        # Back on the case, at the referral form: the holds or the live measures it names,
        # and the field that lets the person go on (a reason), what was typed kept.
        field = getattr(exc, "field", None) or "referral"
        status = 409 if isinstance(exc, Conflict) else 422
        problem = {field: error_text(request, exc)}
        return refuse_on_case_page(request, uow, viewer, case_id, submitted, problem, status)
    uow.commit()
    return redirect(request, request.url_for("referral_detail", referral_id=referral.id).path)


def _context(
    request: Request, uow: UnitOfWork, viewer: User, referral_id: str
) -> dict[str, object]:
    referral = uow.referrals.get(viewer.agency_id, referral_id)
    link = host_link(get_state(request).settings, referral_id)
    issued = issue_time()
    notice = render_notice(
        uow, viewer=viewer, referral_id=referral_id, host_link=link, issued=issued
    )
    host = uow.referrals.get_host(viewer.agency_id, referral.host_id)
    may_approve = (
        viewer.can(Permission.APPROVE_ORDER)
        and referral.created_by != viewer.username
        and referral.status is ReferralStatus.AWAITING_APPROVAL
    )
    return {
        "referral": referral,
        "host": host,
        "notice": notice.text,
        "may_approve": may_approve,
        "can_mail": get_state(request).mailer is not None,
        "send_error": None,
        "problem": None,
        "issued": issued.strftime("%Y-%m-%dT%H:%M"),
        "events": [
            audit_row(e) for e in referral_events(uow, viewer=viewer, referral_id=referral_id)
        ],
    }


def _refused(
    request: Request, uow: UnitOfWork, viewer: User, referral_id: str, exc: Exception
) -> Response:
    """The referral page again with the problem (a hold names its holder: 409)."""
    uow.rollback()
    status = 409 if isinstance(exc, Conflict) else 403 if isinstance(exc, PermissionDenied) else 422
    context = _context(request, uow, viewer, referral_id) | {"problem": error_text(request, exc)}
    return render(request, "pages/referral.html", context, status_code=status)


@router.get("/referrals/{referral_id}", name="referral_detail")
def detail(request: Request, viewer: Viewer, uow: ReadUow, referral_id: str) -> Response:
    return render(request, "pages/referral.html", _context(request, uow, viewer, referral_id))


@router.get("/referrals/{referral_id}/notice.{fmt}", name="referral_notice")
def notice(
    request: Request,
    viewer: Viewer,
    uow: ReadUow,
    referral_id: str,
    fmt: str,
    issued: Annotated[str, Query(max_length=16)] = "",
) -> Response:
    """The notice to download, with the time of issue of the page it was downloaded from
    (the one "mark as sent" records) and the deadline it gives."""
    if fmt not in FORMATS:
        raise NotFound("no such notice format")
    link = host_link(get_state(request).settings, referral_id)
    rendered = render_notice(
        uow,
        viewer=viewer,
        referral_id=referral_id,
        host_link=link,
        issued=parse_issue_time(issued),
    )
    body = {
        "txt": rendered.text,
        "html": rendered.html,
        "json": json.dumps(rendered.data, ensure_ascii=False, sort_keys=True, indent=2),
    }[fmt]
    headers = {"Content-Disposition": f'attachment; filename="notice-{referral_id}.{fmt}"'}
    return Response(body, media_type=FORMATS[fmt], headers=headers)


@router.post("/referrals/{referral_id}/approve", name="approve_referral")
def approve(
    request: Request,
    viewer: Viewer,
    uow: WriteUow,
    referral_id: str,
    override: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    try:
        approve_referral(uow, viewer=viewer, referral_id=referral_id, override=override)
    except (Conflict, InvalidInput, PermissionDenied) as exc:
        return _refused(request, uow, viewer, referral_id, exc)
    uow.commit()
    return redirect(request, request.url_for("referral_detail", referral_id=referral_id).path)


@router.post("/referrals/{referral_id}/send", name="send_referral")
def send(
    request: Request,
    viewer: Viewer,
    referral_id: str,
    override: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    state = get_state(request)
    link = host_link(state.settings, referral_id)
    # No transaction stays open while the mail server answers: the service opens its own.
    try:
        outcome = send_referral(
            lambda: state.database.unit_of_work(write=True),
            viewer=viewer,
            referral_id=referral_id,
            mailer=state.mailer,
            host_link=link,
            override=override,
        )
    except (Conflict, InvalidInput, PermissionDenied) as exc:
        with state.database.unit_of_work() as uow:
            return _refused(request, uow, viewer, referral_id, exc)
    if outcome.error:  # recorded too, so that it shows and can be retried
        with state.database.unit_of_work() as uow:
            said = error_text(request, outcome.failure) if outcome.failure else outcome.error
            context = _context(request, uow, viewer, referral_id) | {"send_error": said}
            return render(request, "pages/referral.html", context, status_code=502)
    return redirect(request, request.url_for("referral_detail", referral_id=referral_id).path)


@router.post("/referrals/{referral_id}/sent", name="referral_sent")
def sent(
    request: Request,
    viewer: Viewer,
    uow: WriteUow,
    referral_id: str,
    issued: Annotated[str, Form(max_length=16)] = "",
    override: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    try:
        mark_sent(
            uow,
            viewer=viewer,
            referral_id=referral_id,
            issued=parse_issue_time(issued),
            override=override,
        )
    except (Conflict, InvalidInput, PermissionDenied) as exc:
        return _refused(request, uow, viewer, referral_id, exc)
    uow.commit()
    return redirect(request, request.url_for("referral_detail", referral_id=referral_id).path)


# --- the directory of hosting providers ------------------------------------------------------


# Message ids, translated in the page.
_HOST_PROBLEMS = {
    "domain": "Enter a domain name, such as exemple.fr.",
    "email": "Enter an e-mail address, such as abuse@exemple.fr.",
    "language": "Choose French or English.",
}


def _directory(
    request: Request,
    uow: UnitOfWork,
    viewer: User,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    context = {
        "hosts": uow.referrals.hosts(viewer.agency_id),
        "may_edit": viewer.can(Permission.MANAGE_HOSTS),
        "errors": errors or {},
        "form": form or {},
    }
    return render(request, "pages/hosts.html", context, status_code=status_code)


@router.get("/hosts", name="hosts")
def hosts(request: Request, viewer: Viewer, uow: ReadUow) -> Response:
    return _directory(request, uow, viewer)


@router.post("/hosts", name="add_host")
def add_host(
    request: Request,
    viewer: Viewer,
    uow: WriteUow,
    domain: Annotated[str, Form(max_length=253)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    email: Annotated[str, Form(max_length=254)] = "",
    language: Annotated[str, Form(max_length=8)] = "fr",
) -> Response:
    form = {"domain": domain, "name": name, "email": email, "language": language}
    try:
        register_host(uow, viewer=viewer, domain=domain, name=name, email=email, language=language)
    except InvalidInput as exc:
        uow.rollback()
        errors = {exc.field or "domain": _HOST_PROBLEMS.get(exc.field or "", str(exc))}
        return _directory(request, uow, viewer, errors=errors, form=form, status_code=422)
    except Conflict:
        uow.rollback()
        errors = {"domain": "This domain is already in the directory."}
        return _directory(request, uow, viewer, errors=errors, form=form, status_code=422)
    uow.commit()
    return redirect(request, request.url_for("hosts").path)


@router.post("/hosts/{host_id}", name="update_host")
def edit_host(
    request: Request,
    viewer: Viewer,
    uow: WriteUow,
    host_id: str,
    name: Annotated[str, Form(max_length=200)] = "",
    email: Annotated[str, Form(max_length=254)] = "",
    language: Annotated[str, Form(max_length=8)] = "fr",
) -> Response:
    try:
        update_host(uow, viewer=viewer, host_id=host_id, name=name, email=email, language=language)
    except InvalidInput as exc:
        uow.rollback()
        field = exc.field or "email"
        errors = {f"{host_id}.{field}": _HOST_PROBLEMS.get(field, str(exc))}
        return _directory(request, uow, viewer, errors=errors, status_code=422)
    uow.commit()
    return redirect(request, request.url_for("hosts").path)
