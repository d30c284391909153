"""The review queue and the case page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from passerelle.core.case import QueueFilters, parse_queue_filters
from passerelle.services.queue import count_queue, get_case, list_queue
from passerelle.web.context import ReadUow, Viewer, render
from passerelle.web.csrf import require_csrf
from passerelle.web.views import audit_row, case_detail_view, case_row

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_csrf)])

Text = Annotated[str, Query(max_length=64)]


def queue_filters(
    status: Text = "open", source: Text = "", language: Text = "", bank: Text = "", tier: Text = ""
) -> QueueFilters:
    return parse_queue_filters(
        status=status, source=source, language=language, bank=bank, tier=tier
    )


Filters = Annotated[QueueFilters, Depends(queue_filters)]


@router.get("/queue", name="queue")
def queue(
    request: Request,
    viewer: Viewer,
    uow: ReadUow,
    filters: Filters,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Response:
    page = list_queue(uow, viewer=viewer, filters=filters, offset=offset)
    context = {
        "cases": [case_row(c) for c in page.cases],
        "total": page.total,
        "offset": page.offset,
        "filters": filters,
        "query": request.url.query,
    }
    return render(request, "pages/queue.html", context)


@router.get("/queue/count", name="queue_count")
def queue_count(request: Request, viewer: Viewer, uow: ReadUow, filters: Filters) -> Response:
    total = count_queue(uow, viewer=viewer, filters=filters)
    return render(request, "partials/_queue_count.html", {"total": total})


@router.get("/cases/{case_id}", name="case_detail")
def case_detail(request: Request, viewer: Viewer, uow: ReadUow, case_id: str) -> Response:
    detail, history = get_case(uow, viewer=viewer, case_id=case_id)
    context = {"case": case_detail_view(detail), "history": [audit_row(e) for e in history]}
    return render(request, "pages/case_detail.html", context)
