"""The transparency report: the page with its charts, and CSV and JSON exports."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from passerelle.core.errors import NotFound
from passerelle.core.report import TransparencyReport
from passerelle.core.spreadsheet import csv_writer
from passerelle.services.report import parse_period, transparency_report
from passerelle.web.context import ReadUow, Viewer, render
from passerelle.web.csrf import require_csrf

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_csrf)])
Day = Annotated[str, Query(max_length=10)]


def _default_period() -> tuple[str, str]:
    today = datetime.now(UTC).date()
    return date(today.year, 1, 1).isoformat(), today.isoformat()


@router.get("/reports", name="reports")
def report_page(
    request: Request, viewer: Viewer, uow: ReadUow, start: Day = "", end: Day = ""
) -> Response:
    first, last = parse_period(*((start and end and (start, end)) or _default_period()))
    report = transparency_report(uow, viewer=viewer, start=first, end=last)
    return render(request, "pages/report.html", {"report": report, "charts": _charts(report)})


def _charts(report: TransparencyReport) -> list[tuple[str, list[tuple[str, int, int]]]]:
    """(title, [(label, count, percent of the largest)]) for the bar charts."""
    charts = []
    for title, counts in (
        ("Cases by tier", report.cases_by_tier),
        ("Terrorist content by category", report.terrorist_by_category),
        ("Not terrorist content, by reason", report.not_terrorist_by_reason),
        ("Referrals by kind", report.referrals_by_kind),
    ):
        top = max(counts.values(), default=0)
        bars = [
            (key, value, round(100 * value / top) if top else 0)
            for key, value in sorted(counts.items())
        ]
        charts.append((title, bars))
    return charts


@router.get("/reports/export.{fmt}", name="report_export")
def export(viewer: Viewer, uow: ReadUow, fmt: str, start: Day = "", end: Day = "") -> Response:
    if fmt not in ("csv", "json"):
        raise NotFound("no such export format")
    first, last = parse_period(*((start and end and (start, end)) or _default_period()))
    report = transparency_report(uow, viewer=viewer, start=first, end=last)
    name = f"passerelle-report-{first.isoformat()}-{last.isoformat()}.{fmt}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if fmt == "json":
        body = json.dumps(report.as_dict(), sort_keys=True, indent=2)
        return Response(body, media_type="application/json", headers=headers)
    buffer = io.StringIO()
    writer = csv_writer(buffer)
    writer.writerow(["section", "key", "count"])
    writer.writerows(report.rows())
    for key in ("share_offline", "hours_to_removal_median", "hours_to_removal_p90"):
        value = getattr(report, key)
        writer.writerow(("removal", key, "" if value is None else value))
    writer.writerow(("audit", "head", report.audit_head or ""))
    return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)
