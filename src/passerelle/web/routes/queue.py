"""The review queue and the case page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from starlette.responses import Response

from passerelle.core.case import (
    DEFAULT_PAGE_SIZE,
    PAGE_SIZES,
    PageRequest,
    QueueFilters,
    QueueSort,
    parse_page_request,
    parse_queue_filters,
)
from passerelle.core.decision import LEGAL_BASES, Decision, DecisionErrors, parse_decision
from passerelle.core.errors import InvalidInput
from passerelle.core.identity import Permission, User
from passerelle.core.ports import UnitOfWork
from passerelle.core.referral import ALLOWED, Referral
from passerelle.core.work import parse_referral_filters
from passerelle.services.complaints import decide_complaint
from passerelle.services.exchange import (
    deconfliction,
    lift_observation_hold,
    set_observation_hold,
)
from passerelle.services.jobs import parse_hold_end, set_legal_hold
from passerelle.services.queue import (
    case_content,
    case_frame,
    case_text,
    count_queue,
    earlier_cases,
    list_queue,
    next_case,
    read_case,
    related_cases,
)
from passerelle.services.refer import default_statement, live_measures
from passerelle.services.review import (
    add_note,
    assign_case,
    case_decisions,
    case_history,
    decide_case,
    public_reports,
    recommend_lifting,
    reviewers,
)
from passerelle.services.search import PAGE, search_cases
from passerelle.services.work import list_referrals, work_lists
from passerelle.web.context import (
    ReadUow,
    Viewer,
    WriteUow,
    error_text,
    get_state,
    gettext_of,
    render,
)
from passerelle.web.csrf import require_csrf
from passerelle.web.htmx import redirect
from passerelle.web.views import audit_row, case_detail_view, case_row, decision_view

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_csrf)])

Text = Annotated[str, Query(max_length=64)]
Key = Annotated[str, Query(max_length=120)]
QUEUE_COOKIE = "passerelle_queue"  # the filters and order of the queue last shown


# The two parsers below are coroutines: they do no I/O, and a plain function would be run
# in a worker thread, a round trip to the thread pool for each page of the queue.
async def queue_filters(
    viewer: Viewer,
    status: Text = "open",
    source: Text = "",
    language: Text = "",
    bank: Text = "",
    tier: Text = "",
    mine: Text = "",
    opened_from: Annotated[str, Query(alias="from", max_length=10)] = "",
    opened_to: Annotated[str, Query(alias="to", max_length=10)] = "",
) -> QueueFilters:
    return parse_queue_filters(
        status=status,
        source=source,
        language=language,
        bank=bank,
        tier=tier,
        assigned_to=viewer.username if mine else "",
        opened_from=opened_from,
        opened_to=opened_to,
    )


Filters = Annotated[QueueFilters, Depends(queue_filters)]


async def page_request(
    sort: Text = "",
    size: Annotated[str, Query(max_length=4)] = "",
    after: Key = "",
    before: Key = "",
    last: Annotated[str, Query(max_length=1)] = "",
) -> PageRequest:
    return parse_page_request(sort=sort, size=size, after=after, before=before, last=last)


Page = Annotated[PageRequest, Depends(page_request)]


def filter_query(filters: QueueFilters, page: PageRequest) -> str:
    """The filters, order and page size as a link's query (what every page link keeps)."""
    params = {
        "status": filters.status.value if filters.status else "any",
        "source": filters.source or "",
        "language": filters.language or "",
        "bank": filters.bank or "",
        "tier": filters.tier or "",
        "mine": "1" if filters.assigned_to else "",
        "from": filters.opened_from.isoformat() if filters.opened_from else "",
        "to": filters.opened_to.isoformat() if filters.opened_to else "",
        "sort": page.sort.value if page.sort is not QueueSort.SCORE else "",
        "size": str(page.size) if page.size != DEFAULT_PAGE_SIZE else "",
    }
    return urlencode({name: value for name, value in params.items() if value})


@router.get("/queue", name="queue")
def queue(request: Request, viewer: Viewer, uow: ReadUow, filters: Filters, page: Page) -> Response:
    shown = list_queue(uow, viewer=viewer, filters=filters, page=page)
    kept = filter_query(filters, page)
    gettext = gettext_of(request)
    context = {
        "cases": [case_row(c, gettext) for c in shown.cases],
        "page": shown,
        "total": shown.total,
        "filters": filters,
        "sort": page.sort.value,
        "sorts": [s.value for s in QueueSort],
        "size": page.size,
        "sizes": PAGE_SIZES,
        "query": kept,
        "next_query": kept + "&after=" + shown.next_key.dump() if shown.next_key else None,
        "previous_query": kept + "&before=" + shown.previous_key.dump()
        if shown.previous_key
        else None,
    }
    response = render(request, "pages/queue.html", context)
    remember_queue(request, response, kept)
    return response


def remember_queue(request: Request, response: Response, kept: str) -> None:
    """Keep the queue's filters and order for "next case" after a decision."""
    response.set_cookie(
        QUEUE_COOKIE,
        kept,
        httponly=True,
        samesite="strict",
        secure=get_state(request).settings.secure_cookies,
        path="/",
    )


@router.get("/queue/next", name="next_case")
def queue_next(
    request: Request,
    viewer: Viewer,
    uow: ReadUow,
    after: Annotated[str, Query(max_length=36)] = "",
) -> Response:
    """The case after `after` in the queue as last shown to this person (its filters and
    order), or the queue itself when no case follows."""
    kept = parse_qs(request.cookies.get(QUEUE_COOKIE, ""))
    value = {name: values[-1][:64] for name, values in kept.items()}
    filters = parse_queue_filters(
        status=value.get("status", "open"),
        source=value.get("source", ""),
        language=value.get("language", ""),
        bank=value.get("bank", ""),
        tier=value.get("tier", ""),
        assigned_to=viewer.username if value.get("mine") else "",
        opened_from=value.get("from", ""),
        opened_to=value.get("to", ""),
    )
    sort = parse_page_request(sort=value.get("sort", "")).sort
    found = next_case(uow, viewer=viewer, filters=filters, sort=sort, after=after)
    if found is None:
        target = request.url_for("queue").path + ("?" + urlencode(value) if value else "")
        return redirect(request, target)
    return redirect(request, request.url_for("case_detail", case_id=found).path)


@router.get("/", name="dashboard")
def dashboard(request: Request, viewer: Viewer, uow: ReadUow) -> Response:
    """What waits for this person, by role, with links; and the queue's count."""
    agency = uow.agencies.get(viewer.agency_id)
    now = datetime.now(UTC)
    context = {
        "agency": agency,
        "open_cases": uow.queue.count_filtered(agency.id, QueueFilters()),
        "overdue": uow.referrals.overdue_count(agency.id, now),
        "work": work_lists(uow, viewer=viewer, now=now),
        "now": now,
    }
    return render(request, "pages/dashboard.html", context)


@router.get("/referrals", name="referrals")
def referrals(
    request: Request,
    viewer: Viewer,
    uow: ReadUow,
    kind: Text = "",
    state: Text = "",
    host: Annotated[str, Query(max_length=253)] = "",
    overdue: Annotated[str, Query(max_length=1)] = "",
    before: Key = "",
) -> Response:
    """The unit's referrals, newest first, by kind, state, host or overdue."""
    filters = parse_referral_filters(kind=kind, status=state, host=host, overdue=overdue)
    now = datetime.now(UTC)
    found = list_referrals(uow, viewer=viewer, filters=filters, before=before, now=now)
    kept = {"kind": kind, "state": state, "host": host, "overdue": overdue}
    query = urlencode({name: value for name, value in kept.items() if value})
    context = {
        "page": found,
        "filters": filters,
        "hosts": sorted(h.domain for h in uow.referrals.hosts(viewer.agency_id)),
        "now": now,
        "next_query": (query + "&" if query else "") + urlencode({"before": found.next_key})
        if found.next_key
        else None,
    }
    return render(request, "pages/referrals.html", context)


@router.get("/search", name="search")
def search(
    request: Request,
    viewer: Viewer,
    uow: ReadUow,
    q: Annotated[str, Query(max_length=2000)] = "",
    after: Annotated[str, Query(max_length=36)] = "",
    first: Annotated[int, Query(ge=1, le=10_000_000)] = 1,
) -> Response:
    """The header's search box: a hash, an address, a reference or words."""
    if not q.strip():
        return render(request, "pages/search.html", {"q": "", "results": None})
    found = search_cases(
        uow, get_state(request).store, viewer=viewer, text=q, after=after, first=first
    )
    gettext = gettext_of(request)
    context = {
        "q": found.query.text,
        "results": found,
        "kind": found.query.kind.value,
        "cases": [case_row(c, gettext) for c in found.cases],
        "next_query": urlencode(
            {"q": found.query.text, "after": found.next_after, "first": found.first + PAGE}
        )
        if found.next_after
        else None,
    }
    return render(request, "pages/search.html", context)


@router.get("/queue/count", name="queue_count")
def queue_count(
    request: Request, viewer: Viewer, uow: ReadUow, filters: Filters, page: Page
) -> Response:
    total = count_queue(uow, viewer=viewer, filters=filters, sort=page.sort)
    return render(request, "partials/_queue_count.html", {"total": total})


def _case_context(
    request: Request, uow: UnitOfWork, viewer: User, case_id: str
) -> dict[str, object]:
    # Each thing is read once, and handed to the services that need it again.
    detail = read_case(uow, viewer=viewer, case_id=case_id)
    agency = uow.agencies.get(viewer.agency_id)
    decisions = case_decisions(uow, viewer=viewer, case_id=case_id)
    referrals = uow.referrals.for_case(agency.id, case_id)
    referable = bool(decisions) and decisions[-1].verdict.value == "terrorist"
    exchange = deconfliction(uow, agency_id=viewer.agency_id, case=detail)
    related = related_cases(uow, viewer=viewer, case_id=case_id)
    history = case_history(uow, viewer=viewer, case_id=case_id, referrals=referrals)
    return {
        "case": case_detail_view(detail, gettext_of(request)),
        "history": [audit_row(e) for e in history],
        "public_reports": public_reports(uow, viewer=viewer, case_id=case_id),
        "next_step": _next_step(detail.summary.status.value, decisions, referrals, viewer),
        "live": live_measures(
            uow,
            viewer=viewer,
            case_id=case_id,
            exchange=exchange,
            related=related,
            referrals=referrals,
        )
        if referable
        else [],
        "statement": default_statement(
            uow,
            viewer=viewer,
            case_id=case_id,
            language=viewer.locale.value,
            decision=decisions[-1],
        )
        if referable
        else "",
        "decisions": [decision_view(d) for d in decisions],
        "banks": [b.name for b in uow.banks.list(agency.id)],
        "legal_bases": LEGAL_BASES[agency.jurisdiction],
        "can_decide": viewer.can(Permission.REVIEW),
        "assigned_to": detail.summary.assigned_to,
        "reviewers": [u.username for u in reviewers(uow, viewer=viewer)],
        "preserved": get_state(request).store.has(detail.sha256),
        "reveal": viewer.reveal_media,
        "referrals": referrals,
        "recommendations": uow.decisions.recommendations(agency.id, case_id),
        "complaints": uow.complaints.for_case(agency.id, case_id),
        "earlier": earlier_cases(uow, viewer=viewer, case_id=case_id, related=related),
        "exchange": exchange,
        "can_observe": viewer.can(Permission.APPROVE_ORDER)
        or viewer.can(Permission.MANAGE_PARTNERS),
        "text": case_text(get_state(request).store, detail),
        "hold_until": detail.summary.legal_hold_until,
        "can_hold": viewer.can(Permission.APPROVE_ORDER) or viewer.can(Permission.MANAGE_PARTNERS),
        "can_recommend": viewer.can(Permission.RECOMMEND),
        "referral_kinds": sorted(k.value for k in ALLOWED[agency.jurisdiction]),
        "errors": {},
        "form": {},
    }


def _next_step(
    status: str, decisions: list[Decision], referrals: list[Referral], viewer: User
) -> str:
    """What to do next on the case, as a message id."""
    if status == "open":
        if viewer.can(Permission.REVIEW):
            return "Decide: is this terrorist content? Press d to go to the decision form."
        return "Awaiting a decision by an analyst."
    if not decisions or decisions[-1].verdict.value != "terrorist":
        return "Nothing more to do: the content was found not to be terrorist content."
    states = {r.status.value for r in referrals}
    if not referrals:
        return "Prepare a referral or an order for the host."
    if "awaiting_approval" in states:
        return "A second approver must approve the removal order."
    if states & {"ready", "send_failed"}:
        return "Send the notice to the host."
    return "Wait for the host: the re-checks show when the content goes offline."


@router.get("/cases/{case_id}", name="case_detail")
def case_detail(
    request: Request,
    viewer: Viewer,
    uow: ReadUow,
    case_id: str,
    decided: Annotated[bool, Query()] = False,
) -> Response:
    """The case; `decided` after a decision was just recorded (the page says so, and offers
    the next case of the queue first)."""
    context = _case_context(request, uow, viewer, case_id)
    context["just_decided"] = decided
    return render(request, "pages/case_detail.html", context)


@router.get("/cases/{case_id}/content", name="case_content")
def content(request: Request, viewer: Viewer, uow: ReadUow, case_id: str) -> Response:
    """The preserved bytes, for the protected viewer of the case page only: never cached,
    never rendered as a page of its own (sandboxed, no sniffing)."""
    data, media_type = case_content(uow, get_state(request).store, viewer=viewer, case_id=case_id)
    headers = {
        "Cache-Control": "no-store",
        "Content-Security-Policy": "sandbox; default-src 'none'",
        "Content-Disposition": "inline",
        "X-Content-Type-Options": "nosniff",
    }
    shown = (
        media_type if media_type.startswith(("image/", "video/")) else "application/octet-stream"
    )
    headers["Accept-Ranges"] = "bytes"
    wanted = byte_range(request.headers.get("range"), len(data))
    if wanted is None:
        return Response(content=data, media_type=shown, headers=headers)
    # A part of the bytes: what a video player asks for to seek (a matched segment).
    start, end = wanted
    headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
    return Response(
        content=data[start : end + 1], status_code=206, media_type=shown, headers=headers
    )


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one range of `bytes=START-END` (or `START-`, `-SUFFIX`) within `size`, or None to
    send everything (no header, several ranges, or one that cannot be satisfied)."""
    if not header or not header.startswith("bytes=") or "," in header or not size:
        return None
    first, _, last = header[6:].strip().partition("-")
    if not (first.isdigit() or last.isdigit()) or not all(p.isdigit() for p in (first, last) if p):
        return None
    if not first:
        start, end = max(0, size - int(last)), size - 1
    else:
        start, end = int(first), min(int(last), size - 1) if last else size - 1
    return (start, end) if start <= end else None


@router.get("/cases/{case_id}/frame", name="case_frame")
def frame(
    request: Request,
    viewer: Viewer,
    uow: ReadUow,
    case_id: str,
    at: Annotated[float, Query(ge=0, le=86_400)] = 0.0,
) -> Response:
    """A thumbnail of one frame of the case's preserved video (the strip of matched frames),
    with the same protections as the content itself."""
    data = case_frame(uow, get_state(request).store, viewer=viewer, case_id=case_id, seconds=at)
    headers = {
        "Cache-Control": "no-store",
        "Content-Security-Policy": "sandbox; default-src 'none'",
        "X-Content-Type-Options": "nosniff",
    }
    return Response(content=data, media_type="image/jpeg", headers=headers)


@router.post("/cases/{case_id}/decision", name="decide_case")
def decide(
    request: Request,
    viewer: Viewer,
    uow: WriteUow,
    case_id: str,
    verdict: Annotated[str, Form(max_length=32)] = "",
    category: Annotated[str, Form(max_length=8)] = "",
    reason: Annotated[str, Form(max_length=32)] = "",
    exemption_checked: Annotated[bool, Form()] = False,
    rationale: Annotated[str, Form(max_length=10_000)] = "",
    legal_basis: Annotated[str, Form(max_length=64)] = "",
    add_to_bank: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    agency = uow.agencies.get(viewer.agency_id)
    submitted = {
        "verdict": verdict,
        "category": category,
        "reason": reason,
        "exemption_checked": exemption_checked,
        "rationale": rationale,
        "legal_basis": legal_basis,
        "add_to_bank": add_to_bank,
    }
    try:
        decision = parse_decision(
            verdict=verdict,
            category=category,
            reason=reason,
            exemption_checked=exemption_checked,
            rationale=rationale,
            legal_basis=legal_basis,
            add_to_bank=add_to_bank,
            jurisdiction=agency.jurisdiction,
        )
        decide_case(uow, viewer=viewer, case_id=case_id, decision=decision)
    except DecisionErrors as exc:
        return _refuse(request, uow, viewer, case_id, submitted, exc.problems)
    except InvalidInput as exc:
        problem = {exc.field or "form": error_text(request, exc)}
        return _refuse(request, uow, viewer, case_id, submitted, problem)
    uow.commit()
    return redirect(request, request.url_for("case_detail", case_id=case_id).path + "?decided=1")


@router.post("/cases/{case_id}/assignment", name="assign_case")
def assignment(
    request: Request,
    viewer: Viewer,
    uow: WriteUow,
    case_id: str,
    assignee: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    return _case_form(
        request,
        uow,
        viewer,
        case_id,
        lambda: assign_case(uow, viewer=viewer, case_id=case_id, assignee=assignee),
        problem="assignee",
        kept={},
    )


@router.post("/cases/{case_id}/notes", name="add_note")
def note(
    request: Request,
    viewer: Viewer,
    uow: WriteUow,
    case_id: str,
    text: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    return _case_form(
        request,
        uow,
        viewer,
        case_id,
        lambda: add_note(uow, viewer=viewer, case_id=case_id, text=text),
        problem="note",
        kept={"note": text},
    )


@router.post("/cases/{case_id}/observation", name="observation_hold")
def observation(
    request: Request,
    viewer: Viewer,
    uow: WriteUow,
    case_id: str,
    reason: Annotated[str, Form(max_length=2000)] = "",
    lift: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    def act() -> None:
        if lift:
            lift_observation_hold(uow, viewer=viewer, case_id=case_id)
        else:
            set_observation_hold(uow, viewer=viewer, case_id=case_id, reason=reason)

    return _case_form(
        request, uow, viewer, case_id, act, problem="observe", kept={"observe_reason": reason}
    )


@router.post("/cases/{case_id}/recommendations", name="recommend")
def recommend(
    request: Request,
    viewer: Viewer,
    uow: WriteUow,
    case_id: str,
    text: Annotated[str, Form(max_length=10_000)] = "",
) -> Response:
    return _case_form(
        request,
        uow,
        viewer,
        case_id,
        lambda: recommend_lifting(uow, viewer=viewer, case_id=case_id, text=text),
        problem="recommendation",
        kept={"recommendation": text},
    )


@router.post("/cases/{case_id}/hold", name="legal_hold")
def legal_hold(
    request: Request,
    viewer: Viewer,
    uow: WriteUow,
    case_id: str,
    until: Annotated[str, Form(max_length=10)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    def act() -> None:
        end = parse_hold_end(until)
        set_legal_hold(uow, viewer=viewer, case_id=case_id, until=end, reason=reason)

    return _case_form(
        request, uow, viewer, case_id, act, problem="hold", kept={"hold_reason": reason}
    )


@router.post("/complaints/{complaint_id}/decision", name="decide_complaint")
def complaint_decision(
    request: Request,
    viewer: Viewer,
    uow: WriteUow,
    complaint_id: str,
    outcome: Annotated[str, Form(max_length=16)] = "",
    rationale: Annotated[str, Form(max_length=10_000)] = "",
) -> Response:
    complaint = uow.complaints.get(viewer.agency_id, complaint_id)
    return _case_form(
        request,
        uow,
        viewer,
        complaint.case_id,
        lambda: decide_complaint(
            uow, viewer=viewer, complaint_id=complaint_id, outcome=outcome, rationale=rationale
        ),
        problem="complaint",
        kept={"complaint_rationale": rationale},
    )


def _case_form(
    request: Request,
    uow: UnitOfWork,
    viewer: User,
    case_id: str,
    act: Callable[[], object],
    *,
    problem: str,
    kept: dict[str, object],
) -> Response:
    """A form of the case page: do it and go back to the case, or, on bad input, show the
    case page again with the problem next to its field and what was typed kept."""
    try:
        act()
    except InvalidInput as exc:
        return _refuse(request, uow, viewer, case_id, kept, {problem: error_text(request, exc)})
    uow.commit()
    return redirect(request, request.url_for("case_detail", case_id=case_id).path)


def _refuse(
    request: Request,
    uow: UnitOfWork,
    viewer: User,
    case_id: str,
    submitted: dict[str, object],
    problems: dict[str, str],
    status_code: int = 422,
) -> Response:
    """The case page again, with each problem next to its field and the values kept. The
    write transaction is given up first and the page read in a read transaction: another
    writer does not wait while it is read and rendered."""
    uow.rollback()
    with get_state(request).database.unit_of_work() as reading:
        context = _case_context(request, reading, viewer, case_id)
    context.update(errors=problems, form=submitted)
    return render(request, "pages/case_detail.html", context, status_code=status_code)


refuse_on_case_page = _refuse
