"""Health checks and the API documentation page (served from vendored assets)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import JSONResponse, Response

from passerelle.core.errors import DatabaseUnavailable, WrongSecret
from passerelle.db.engine import check_connection
from passerelle.db.migrate import is_at_head
from passerelle.secret import check_secret
from passerelle.web.context import get_state, render

router = APIRouter(include_in_schema=False)


@router.get("/healthz", name="healthz")
def healthz() -> Response:
    """The process answers."""
    return JSONResponse({"status": "ok"})


@router.get("/readyz", name="readyz")
def readyz(request: Request) -> Response:
    """The database answers, its schema is at the code's migration head, and the secret
    opens the instance's keys."""
    engine = get_state(request).database.engine
    try:
        check_connection(engine)
        ready = is_at_head(engine)
    except (DatabaseUnavailable, SQLAlchemyError):
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    if not ready:
        return JSONResponse({"status": "unavailable", "database": "not migrated"}, status_code=503)
    try:
        check_secret(get_state(request).database, get_state(request).settings.secret_key)
    except WrongSecret:
        return JSONResponse(
            {"status": "unavailable", "secret": "PASSERELLE_SECRET_KEY does not open the keys"},
            status_code=503,
        )
    return JSONResponse({"status": "ready"})


@router.get("/api/docs", name="api_docs")
def api_docs(request: Request) -> Response:
    """Swagger UI from the vendored files, started by a script file (no inline script)."""
    return render(request, "pages/api_docs.html")
