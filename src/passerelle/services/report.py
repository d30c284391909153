"""The transparency report of a period, for the people of the agency."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from passerelle.core.errors import InvalidInput
from passerelle.core.identity import User
from passerelle.core.ports import UnitOfWork
from passerelle.core.report import TransparencyReport, period_bounds, report_from_figures
from passerelle.core.timestamps import parse_day

MAX_DAYS = 3660


def parse_period(start: str, end: str) -> tuple[date, date]:
    first, last = parse_day(start, "start"), parse_day(end, "end")
    if last < first:
        raise InvalidInput("the end of the period is before its start", field="end")
    if (last - first).days > MAX_DAYS:
        raise InvalidInput("a report covers at most ten years", field="end")
    return first, last


def transparency_report(
    uow: UnitOfWork, *, viewer: User, start: date, end: date
) -> TransparencyReport:
    lower, upper = period_bounds(start, end)
    agency = viewer.agency_id
    figures = uow.reports.figures(agency, lower, upper)
    report = report_from_figures(start=start, end=end, figures=figures)
    # Published with the figures, the head lets readers hold the log to what it said then.
    return replace(report, audit_head=str(uow.audit.anchor()))
