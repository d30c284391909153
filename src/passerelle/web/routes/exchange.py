"""The exchange between agencies: the signed endpoints partners call (feed, proposals,
answers) and the liaison officers' pages (partners, agreements, sync status)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from starlette.responses import Response

from passerelle.core.errors import (
    Conflict,
    ExternalServiceError,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from passerelle.core.exchange import Partner, Replayed
from passerelle.core.identity import Permission, User
from passerelle.core.ports import UnitOfWork
from passerelle.core.taxonomy import Category
from passerelle.exchange.client import (
    ADDRESS,
    ANSWERED,
    UNREACHABLE,
    PartnerError,
    make_pull,
    push,
)
from passerelle.exchange.signing import (
    MAX_DOCUMENT_BYTES,
    Refused,
    agency_key,
    check_request,
    open_envelope,
    read_envelope,
    read_request,
    seal,
)
from passerelle.fetch.guard import AddressGuard, parse_allow_setting
from passerelle.services.exchange import (
    SHARED_SIGNALS,
    add_partner_as,
    admit_signed,
    agreement_document,
    answer_agreement,
    build_feed,
    parties_of,
    propose_agreement,
    receive_answer,
    receive_proposal,
    record_replay,
    sender_key,
)
from passerelle.services.sync import sync_partner_now
from passerelle.web.context import (
    ReadUow,
    Viewer,
    WriteUow,
    api_error_text,
    error_text,
    get_state,
    gettext_of,
    render,
)
from passerelle.web.csrf import require_csrf
from passerelle.web.htmx import redirect
from passerelle.web.params import MAX_SQL_INTEGER

logger = logging.getLogger(__name__)
api = APIRouter(prefix="/api/v1/exchange", tags=["exchange"])
router = APIRouter(include_in_schema=False, dependencies=[Depends(require_csrf)])


def _json(document: bytes, status: int = 200) -> Response:
    return Response(document, status_code=status, media_type="application/json")


def _refusal(status: int, message: str, code: str = "refused") -> Response:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    return _json(body, status)


class Unverified(Exception):
    """Refused before the signature verified (an agency that is not here, a sender that is not
    its partner, a signature that does not hold): the reason is for the operators' log."""


def _unverified(request: Request, exc: Unverified) -> Response:
    """One answer whatever agency or partner the request names until its signature verifies,
    so that nobody learns agency codes or partnerships by asking; the reason is logged (not
    audited: anyone may send these, and the audit log keeps everything for ever)."""
    why = exc.__cause__
    source = request.client.host if request.client else "-"
    logger.warning(
        "exchange %s %s from %s refused before a signature verified: %s",
        request.method,
        request.url.path,
        source,
        why,
    )
    return _refusal(401, api_error_text(request, Refused("the signature does not verify")))


def _window(request: Request) -> timedelta:
    return timedelta(seconds=get_state(request).settings.exchange_window_seconds)


def _replayed(request: Request, uow: UnitOfWork, refusal: Replayed) -> Response:
    """Nothing of the replayed document is kept; its refusal is audited."""
    uow.rollback()
    record_replay(uow, refusal)
    uow.commit()
    return _refusal(409, api_error_text(request, refusal), "replayed")


# What a partner (or anyone posing as one) may get back besides the answer: until the
# signature verifies, only 401 (or 422 for a malformed query), whoever the request names.
REFUSALS: dict[int | str, dict[str, Any]] = {
    401: {
        "description": "Not signed, not a signed envelope, stale, or the signature does not"
        " verify: the same answer whatever agency or partner the request names"
    },
    409: {"description": "A replay, or the document conflicts with the agreement's state"},
    413: {"description": "The body is over the size limit"},
    422: {"description": "Invalid input (after the signature verified)"},
}
# An answer, once signed by the partner, names an agreement.
ANSWER_REFUSALS = REFUSALS | {
    403: {"description": "The agreement is not with the signing partner"},
    404: {"description": "No such agreement with the signing partner"},
}


@api.get("/feed", summary="The signed feed of an agency for one partner", responses=REFUSALS)
def feed(
    request: Request, uow: WriteUow, cursor: Annotated[int, Query(ge=0, le=MAX_SQL_INTEGER)] = 0
) -> Response:
    """Entries the agreements with the calling partner allow, after `cursor`. The request is
    signed by the partner (`X-Passerelle-From`, `-To`, `-Date`, `-Nonce`, `-Signature`); a
    stale or replayed request is refused (409, audited); the answer is an envelope signed by
    the publisher, with its audit head."""
    headers = {k.lower(): v for k, v in request.headers.items()}
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    now = datetime.now(UTC)
    try:
        signed = read_request(headers, now=now, window=_window(request))
        try:
            claims = {"to": headers.get("x-passerelle-to", ""), "from": signed.subscriber}
            publisher_id, partner = parties_of(uow, claims)
            publisher = uow.agencies.get(publisher_id)
            check_request(
                signed, target=target, public_key=partner.public_key, publisher=publisher.code
            )
        except (InvalidInput, PermissionDenied) as exc:
            raise Unverified from exc
        admit_signed(
            uow,
            agency_id=publisher.id,
            partner=partner,
            issued_at=signed.moment,
            nonce=signed.nonce,
            now=now,
            window=_window(request),
        )
    except Unverified as exc:
        return _unverified(request, exc)
    except Refused as exc:
        return _refusal(401, api_error_text(request, exc))
    except Replayed as exc:
        return _replayed(request, uow, exc)
    page = build_feed(uow, publisher_id=publisher.id, subscriber=partner, cursor=cursor, now=now)
    _, key = agency_key(uow, publisher.id, get_state(request).settings.secret_key)
    uow.commit()  # a key created on first use
    return _json(seal(page.as_dict(), key))


async def _signed_document(request: Request, uow: UnitOfWork) -> dict[str, Any]:
    """The document of a signed envelope: Refused when its form is wrong (which needs no key
    and says nothing of who is here), Unverified when its signature does not hold."""
    body = await request.body()
    envelope = read_envelope(body, max_bytes=MAX_DOCUMENT_BYTES)  # before reading its claims
    try:
        return open_envelope(envelope, sender_key(uow, envelope.claims))
    except (InvalidInput, PermissionDenied) as exc:  # Refused is InvalidInput
        raise Unverified from exc


@api.post(
    "/agreements",
    summary="Receive a partner's signed proposal of an agreement",
    status_code=201,
    responses=REFUSALS,
)
async def proposal(request: Request, uow: WriteUow) -> Response:
    try:
        document = await _signed_document(request, uow)
        agreement = receive_proposal(uow, document=document, window=_window(request))
    except Unverified as exc:
        return _unverified(request, exc)
    except Refused as exc:
        return _refusal(401, api_error_text(request, exc))
    except Replayed as exc:
        return _replayed(request, uow, exc)
    uow.commit()
    return _json(json.dumps({"id": agreement.id, "status": agreement.status.value}).encode(), 201)


@api.post(
    "/answers",
    summary="Receive a partner's signed answer (accept, suspend, …)",
    responses=ANSWER_REFUSALS,
)
async def answer(request: Request, uow: WriteUow) -> Response:
    try:
        document = await _signed_document(request, uow)
        agreement = receive_answer(uow, document=document, window=_window(request))
    except Unverified as exc:
        return _unverified(request, exc)
    except Refused as exc:
        return _refusal(401, api_error_text(request, exc))
    except Replayed as exc:
        return _replayed(request, uow, exc)
    uow.commit()
    return _json(json.dumps({"id": agreement.id, "status": agreement.status.value}).encode())


# --- the liaison officers' pages -------------------------------------------------------------


def _partners_page(
    request: Request,
    uow: UnitOfWork,
    viewer: User,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
    notice: str | None = None,
    synced: tuple[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    if not (viewer.can(Permission.MANAGE_PARTNERS) or viewer.can(Permission.READ_AUDIT)):
        raise PermissionDenied("only liaison officers, controllers and administrators see partners")
    partners = uow.exchange.partners(viewer.agency_id)
    public_key, _ = agency_key(uow, viewer.agency_id, get_state(request).settings.secret_key)
    context = {
        "partners": [
            {
                "partner": p,
                "agreements": uow.exchange.agreements(viewer.agency_id, p.id),
                "log": uow.exchange.sync_log(p.id, limit=5),
            }
            for p in partners
        ],
        "public_key": public_key,
        "agency": uow.agencies.get(viewer.agency_id),
        "may_edit": viewer.can(Permission.MANAGE_PARTNERS),
        "categories": [c.value for c in Category],
        "signal_types": SHARED_SIGNALS,
        "errors": errors or {},
        "form": form or {},
        "notice": notice,
        "synced": synced,
        "today": datetime.now(UTC).date().isoformat(),
    }
    return render(request, "pages/partners.html", context, status_code=status_code)


@router.get("/partners", name="partners")
def partners(request: Request, viewer: Viewer, uow: WriteUow) -> Response:
    response = _partners_page(request, uow, viewer)
    uow.commit()  # the agency's key, created on first view
    return response


@router.post("/partners/{partner_id}/sync", name="sync_partner")
def sync_now(request: Request, viewer: Viewer, partner_id: str) -> Response:
    """A liaison pulls a partner's feed at once. A plain (threaded) handler holding no
    transaction while it waits: the partner may be served by this very instance."""
    state = get_state(request)
    outcome = sync_partner_now(
        lambda: state.database.unit_of_work(write=True),
        viewer=viewer,
        partner_id=partner_id,
        pull=make_pull(state.settings.secret_key, _partner_guard(request)),
        now=datetime.now(UTC),
    )
    with state.database.unit_of_work(write=True) as uow:
        response = _partners_page(
            request,
            uow,
            viewer,
            synced=(partner_id, outcome),
            status_code=409 if outcome == "busy" else 200,
        )
        uow.commit()
    return response


@router.post("/partners", name="add_partner")
def add(
    request: Request,
    viewer: Viewer,
    uow: WriteUow,
    code: Annotated[str, Form(max_length=32)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    base_url: Annotated[str, Form(max_length=500)] = "",
    public_key: Annotated[str, Form(max_length=100)] = "",
    contact: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    form = {
        "code": code,
        "name": name,
        "base_url": base_url,
        "public_key": public_key,
        "contact": contact,
    }
    try:
        add_partner_as(uow, viewer=viewer, allowed=_partner_guard(request).allowed, **form)
    except (InvalidInput, Conflict) as exc:
        uow.rollback()
        field = getattr(exc, "field", None) or "code"
        errors = {field: error_text(request, exc)}
        return _partners_page(request, uow, viewer, errors=errors, form=form, status_code=422)
    uow.commit()
    return redirect(request, request.url_for("partners").path)


def _sign(request: Request, uow: UnitOfWork, viewer: User, document: dict[str, Any]) -> bytes:
    _, key = agency_key(uow, viewer.agency_id, get_state(request).settings.secret_key)
    return seal(document, key)


def _partner_guard(request: Request) -> AddressGuard:
    """Partners' addresses are checked like fetched ones, with the administrator's list."""
    return AddressGuard(parse_allow_setting(get_state(request).settings.partner_allow))


# Why a document was not delivered, as message ids translated for the page (what the partner
# wrote back is logged by the client, never shown).
_NOT_DELIVERED = {
    UNREACHABLE: "the partner could not be reached",
    ANSWERED: "the partner refused it (HTTP %(status)s)",
    ADDRESS: "its address is not allowed (not public, and not in PASSERELLE_PARTNER_ALLOW)",
}


def _deliver(request: Request, partner: Partner, path: str, body: bytes) -> str | None:
    """Send to the partner, outside any transaction (the partner may be this very instance,
    whose database it must write); a translated notice when it could not be delivered."""
    try:
        push(partner, path, body, guard=_partner_guard(request))
    except PartnerError as exc:
        translate = gettext_of(request)
        reason = translate(_NOT_DELIVERED[exc.reason]) % {"status": exc.status}
        return translate("Not delivered to %(partner)s: %(reason)s") % {
            "partner": partner.code,
            "reason": reason,
        }
    except ExternalServiceError:
        return gettext_of(request)("Not delivered to %(partner)s: it has no address") % {
            "partner": partner.code
        }
    return None


@router.post("/partners/{partner_id}/agreements", name="propose_agreement")
def propose(
    request: Request,
    viewer: Viewer,
    uow: WriteUow,
    partner_id: str,
    purpose: Annotated[str, Form(max_length=2000)] = "",
    categories: Annotated[list[str] | None, Form(max_length=16)] = None,
    signal_types: Annotated[list[str] | None, Form(max_length=16)] = None,
    share_decisions: Annotated[str, Form(max_length=8)] = "",
    share_holds: Annotated[str, Form(max_length=8)] = "",
    retention_days: Annotated[str, Form(max_length=8)] = "",
    distribution: Annotated[str, Form(max_length=16)] = "",
    tlp: Annotated[str, Form(max_length=16)] = "",
    valid_from: Annotated[str, Form(max_length=10)] = "",
    valid_until: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    # A plain (threaded) handler: delivering to a partner on this very instance must not
    # block the server that has to receive it.
    terms = {
        "purpose": purpose,
        "categories": categories or [],
        "signal_types": signal_types or [],
        "share_decisions": share_decisions,
        "share_holds": share_holds,
        "retention_days": retention_days,
        "distribution": distribution,
        "tlp": tlp,
        "valid_from": valid_from,
        "valid_until": valid_until,
    }
    try:
        _, document = propose_agreement(uow, viewer=viewer, partner_id=partner_id, terms=terms)
    except InvalidInput as exc:
        # The page again with this partner's form open, the problem next to its field, in
        # the person's language, and what was chosen kept.
        uow.rollback()
        errors = {f"{partner_id}.{exc.field or 'purpose'}": error_text(request, exc)}
        kept = {"partner": partner_id, **terms}
        return _partners_page(request, uow, viewer, errors=errors, form=kept, status_code=422)
    partner = uow.exchange.get_partner(viewer.agency_id, partner_id)
    body = _sign(request, uow, viewer, document)
    uow.commit()
    notice = _deliver(request, partner, "/api/v1/exchange/agreements", body)
    return _partners_page(request, uow, viewer, notice=notice)


@router.post("/agreements/{agreement_id}/{action}", name="answer_agreement")
def act(
    request: Request, viewer: Viewer, uow: WriteUow, agreement_id: str, action: str
) -> Response:
    if action not in ("accept", "decline", "suspend", "resume", "terminate"):
        raise NotFound("no such action")
    try:
        _, partner, document = answer_agreement(
            uow, viewer=viewer, agreement_id=agreement_id, action=action
        )
    except InvalidInput as exc:
        uow.rollback()
        refused = error_text(request, exc)
        return _partners_page(request, uow, viewer, notice=refused, status_code=422)
    body = _sign(request, uow, viewer, document)
    uow.commit()
    notice = _deliver(request, partner, "/api/v1/exchange/answers", body)
    return _partners_page(request, uow, viewer, notice=notice)


@router.get("/agreements/{agreement_id}/document", name="agreement_document")
def document(request: Request, viewer: Viewer, uow: ReadUow, agreement_id: str) -> Response:
    """The signed proposal, for a partner reached by file drop."""
    if not viewer.can(Permission.MANAGE_PARTNERS):
        raise PermissionDenied("only liaison officers export agreements")
    agreement = uow.exchange.get_agreement(viewer.agency_id, agreement_id)
    partner = uow.exchange.get_partner(viewer.agency_id, agreement.partner_id)
    agency = uow.agencies.get(viewer.agency_id)
    _, key = agency_key(uow, viewer.agency_id, get_state(request).settings.secret_key)
    body = seal(agreement_document(agreement, sender=agency.code, receiver=partner.code), key)
    headers = {"Content-Disposition": f'attachment; filename="agreement-{agreement_id}.json"'}
    return Response(body, media_type="application/json", headers=headers)
