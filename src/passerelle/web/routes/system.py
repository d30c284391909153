"""Health checks and the API documentation page (served from vendored assets)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import HTMLResponse, JSONResponse, Response

from passerelle.core.errors import DatabaseUnavailable
from passerelle.db.engine import check_connection
from passerelle.db.migrate import is_at_head
from passerelle.web.context import get_state

router = APIRouter(include_in_schema=False)


@router.get("/healthz", name="healthz")
def healthz() -> Response:
    """The process answers."""
    return JSONResponse({"status": "ok"})


@router.get("/readyz", name="readyz")
def readyz(request: Request) -> Response:
    """The database answers and its schema is at the code's migration head."""
    engine = get_state(request).database.engine
    try:
        check_connection(engine)
        ready = is_at_head(engine)
    except (DatabaseUnavailable, SQLAlchemyError):
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    if not ready:
        return JSONResponse({"status": "unavailable", "database": "not migrated"}, status_code=503)
    return JSONResponse({"status": "ready"})


@router.get("/api/docs", name="api_docs")
def api_docs(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=request.url_for("openapi").path,
        title="Passerelle API",
        swagger_js_url=request.url_for(
            "static", path="vendor/swagger-ui/swagger-ui-bundle.js"
        ).path,
        swagger_css_url=request.url_for("static", path="vendor/swagger-ui/swagger-ui.css").path,
        swagger_favicon_url=request.url_for(
            "static", path="vendor/swagger-ui/favicon-32x32.png"
        ).path,
    )
