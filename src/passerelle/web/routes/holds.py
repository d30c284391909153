"""The holds page: the unit's observation holds, set from a case's reference and lifted,
without the content (liaison officers manage holds but do not open cases)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import Response

from passerelle.core.errors import Conflict, InvalidInput, NotFound
from passerelle.core.identity import Permission, User
from passerelle.core.ports import UnitOfWork
from passerelle.services.holds import hold_by_reference, lift_hold, list_holds
from passerelle.web.context import ReadUow, Viewer, WriteUow, error_text, render
from passerelle.web.csrf import require_csrf
from passerelle.web.htmx import redirect

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_csrf)])


def _page(
    request: Request,
    uow: UnitOfWork,
    viewer: User,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    context: dict[str, Any] = {
        "holds": list_holds(uow, viewer=viewer),
        "can_manage": viewer.can(Permission.APPROVE_ORDER)
        or viewer.can(Permission.MANAGE_PARTNERS),
        "opens_cases": viewer.can(Permission.READ_CASES),
        "errors": errors or {},
        "form": form or {},
        "held": request.query_params.get("held", ""),
    }
    return render(request, "pages/holds.html", context, status_code=status_code)


@router.get("/holds", name="holds")
def holds(request: Request, viewer: Viewer, uow: ReadUow) -> Response:
    return _page(request, uow, viewer)


@router.post("/holds", name="set_hold_by_reference")
def set_hold(
    request: Request,
    viewer: Viewer,
    uow: WriteUow,
    case: Annotated[str, Form(max_length=2000)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    form = {"case": case, "reason": reason}
    try:
        count = hold_by_reference(uow, viewer=viewer, reference=case, reason=reason)
    except (InvalidInput, NotFound) as exc:
        uow.rollback()
        field = getattr(exc, "field", None) or "case"
        field = "reason" if field == "observe" else field
        status = 404 if isinstance(exc, NotFound) else 422
        errors = {field: error_text(request, exc)}
        return _page(request, uow, viewer, errors=errors, form=form, status_code=status)
    uow.commit()
    return redirect(request, request.url_for("holds").path + f"?held={count}")


@router.post("/holds/{case_id}/lift", name="lift_hold")
def lift(request: Request, viewer: Viewer, uow: WriteUow, case_id: str) -> Response:
    try:
        lift_hold(uow, viewer=viewer, case_id=case_id)
    except Conflict as exc:
        uow.rollback()
        errors = {"lift": error_text(request, exc)}
        return _page(request, uow, viewer, errors=errors, status_code=409)
    uow.commit()
    return redirect(request, request.url_for("holds").path)
