"""The one place where errors become responses: JSON under /api, a page or partial otherwise."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, RedirectResponse, Response

from passerelle.core.errors import (
    AuthenticationFailed,
    Conflict,
    DatabaseUnavailable,
    ExternalServiceError,
    InvalidInput,
    NotAcceptable,
    NotFound,
    PasserelleError,
    PermissionDenied,
    RateLimited,
    TooLarge,
)
from passerelle.core.message import Message
from passerelle.web.context import (
    ApiAuthRequired,
    LoginRequired,
    api_error_text,
    api_gettext,
    error_text,
    get_state,
    gettext_of,
    render,
)
from passerelle.web.htmx import is_htmx
from passerelle.web.limits import BODY_TOO_LARGE, BodyTooLarge


class CsrfFailed(Exception):
    """The form's CSRF token is missing or does not match the browser's cookie."""


logger = logging.getLogger("passerelle.web")

_STATUS: list[tuple[type[Exception], int, str]] = [
    (TooLarge, 413, "too_large"),
    (NotAcceptable, 406, "not_acceptable"),
    (InvalidInput, 422, "invalid_input"),
    (NotFound, 404, "not_found"),
    (Conflict, 409, "conflict"),
    (PermissionDenied, 403, "forbidden"),
    (AuthenticationFailed, 401, "unauthenticated"),
    (RateLimited, 429, "rate_limited"),
    (ExternalServiceError, 502, "external_service"),
    (DatabaseUnavailable, 503, "database_unavailable"),
]


# What a person reads for each kind of refused field (message ids, translated on the page).
_VALIDATION = {
    "missing": "missing",
    "string_too_long": "too long",
    "string_too_short": "too short",
    "int_parsing": "not a whole number",
    "greater_than_equal": "too small",
    "less_than_equal": "too large",
    "bool_parsing": "not yes or no",
    "list_type": "not a list",
}


def validation_problem(error: Mapping[str, Any]) -> Message:
    """What is wrong with one field pydantic refused, as a message in the catalogue."""
    return Message(_VALIDATION.get(str(error.get("type")), "invalid value"))


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(("/api/", "/taxii2/"))


TAXII_MEDIA = "application/taxii+json;version=2.1"


def _taxii_error(status: int, code: str, message: str, reference: str | None) -> Response:
    """The error message resource of TAXII 2.1 (section 3.6.1), which TAXII clients read; a
    request TAXII finds malformed is its 400, not a 422."""
    status = 400 if status == 422 else status
    body: dict[str, Any] = {
        "title": message,
        "http_status": str(status),
        "error_code": code,
    }
    if reference is not None:
        body["error_id"] = reference
    headers = {"WWW-Authenticate": 'Basic realm="taxii", Bearer'} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers, media_type=TAXII_MEDIA)


def _error_response(
    request: Request, status: int, code: str, message: str, reference: str | None = None
) -> Response:
    if request.url.path.startswith("/taxii2/"):
        return _taxii_error(status, code, message, reference)
    if _is_api(request):
        body: dict[str, Any] = {"error": {"code": code, "message": message}}
        if reference is not None:
            body["error"]["reference"] = reference
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse(body, status_code=status, headers=headers)
    template = "partials/_error.html" if is_htmx(request) else "pages/error.html"
    context = {
        "status": status,
        "message": message,
        "reference": reference,
        "public_form": bool(get_state(request).settings.public_agency),
    }
    response = render(request, template, context, status_code=status)
    if is_htmx(request):
        # htmx 2 does not swap error responses unless told where to put them.
        response.headers["HX-Retarget"] = "#flash"
        response.headers["HX-Reswap"] = "innerHTML"
    return response


def _internal_error(request: Request, exc: Exception) -> Response:
    """An error nothing maps: logged with its traceback under a reference that the person
    who met it can quote (the page and the JSON show the reference, never the details)."""
    reference = secrets.token_hex(6)
    logger.error(
        "unexpected error %s on %s %s",
        reference,
        request.method,
        request.url.path,
        exc_info=(type(exc), exc, exc.__traceback__),
    )
    if _is_api(request):
        shown = api_error_text(request, PasserelleError("internal error"))
    else:  # the htmx partial shows the message: the page's sentence, in the reader's language
        shown = gettext_of(request)("The error was logged. Try again in a moment.")
    return _error_response(request, 500, "error", shown, reference)


def _too_large_text(request: Request, exc: BodyTooLarge) -> str:
    """What a 413 says: the limit to a program (in English unless its Accept-Language names
    French), the error page's sentence to a person."""
    if _is_api(request):
        return api_error_text(request, PasserelleError(BODY_TOO_LARGE, limit=exc.limit))
    return gettext_of(request)(_HTTP_TEXT[413])


async def reject_too_large(request: Request, exc: BodyTooLarge) -> Response:
    """The 413 of a body announced over its limit, answered before anything is read."""
    response = _error_response(request, 413, "too_large", _too_large_text(request, exc))
    response.headers["Connection"] = "close"
    return response


def _api_http_error(request: Request, status: int) -> PasserelleError | None:
    """What a program reads of an HTTP error that is not one of ours (in French when its
    Accept-Language asks for it)."""
    if status == 404:
        return PasserelleError("nothing is served at this address")
    if status == 405:
        return PasserelleError(
            "this address does not take %(method)s requests", method=request.method
        )
    return None


# What a person reads of an HTTP error that is not one of ours (the error page says it too).
_HTTP_TEXT = {
    404: "This page does not exist, or it belongs to another agency.",
    405: "This address does not take this kind of request.",
    413: "What was sent is larger than this page accepts.",
}


def install_error_handlers(app: FastAPI) -> None:
    async def on_passerelle_error(request: Request, exc: Exception) -> Response:
        for kind, status, code in _STATUS:
            if isinstance(exc, kind):
                shown = (
                    api_error_text(request, exc) if _is_api(request) else error_text(request, exc)
                )
                return _error_response(request, status, code, shown)
        return _internal_error(request, exc)

    async def on_login_required(request: Request, exc: Exception) -> Response:
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        url = "/login?next=" + quote(target, safe="/")
        if is_htmx(request):
            return Response(status_code=204, headers={"HX-Redirect": url})
        return RedirectResponse(url, status_code=303)

    async def on_api_auth(request: Request, exc: Exception) -> Response:
        shown = api_error_text(request, PasserelleError("a valid API token is required"))
        return _error_response(request, 401, "unauthenticated", shown)

    async def on_csrf(request: Request, exc: Exception) -> Response:
        refused = PasserelleError("the form's security token is missing or stale")
        api = _is_api(request)
        shown = api_error_text(request, refused) if api else error_text(request, refused)
        return _error_response(request, 403, "csrf", shown)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(
            exc.status_code, "error"
        )
        shown = str(exc.detail)
        if isinstance(exc, BodyTooLarge):
            shown = _too_large_text(request, exc)
        elif _is_api(request):  # in English unless the client's Accept-Language names French
            said = _api_http_error(request, exc.status_code)
            if said is not None:
                shown = api_error_text(request, said)
        else:  # a person reads it (the htmx partial shows the message)
            shown = gettext_of(request)(_HTTP_TEXT.get(exc.status_code, shown))
        response = _error_response(request, exc.status_code, code, shown)
        for name, value in (exc.headers or {}).items():  # Allow on a 405, for example
            response.headers.setdefault(name, value)
        if exc.status_code == 413:
            response.headers["Connection"] = "close"  # the rest of the body is not read
        return response

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        api_translate = api_gettext(request) if _is_api(request) else None
        if _is_api(request) and api_translate is None:  # English: pydantic's own words
            problems = "; ".join(
                f"{'.'.join(str(p) for p in error['loc'][1:]) or 'body'}: {error['msg']}"
                for error in exc.errors()
            )
        else:  # a person reads it: the field and what is wrong with it, in their language
            translate = api_translate or gettext_of(request)
            problems = "; ".join(
                translate("%(field)s: %(problem)s")
                % {
                    "field": ".".join(str(p) for p in error["loc"][1:]) or "body",
                    "problem": validation_problem(error).render(translate),
                }
                for error in exc.errors()
            )
        return _error_response(request, 422, "invalid_input", problems)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        return _internal_error(request, exc)

    app.add_exception_handler(PasserelleError, on_passerelle_error)
    app.add_exception_handler(LoginRequired, on_login_required)
    app.add_exception_handler(ApiAuthRequired, on_api_auth)
    app.add_exception_handler(CsrfFailed, on_csrf)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(Exception, on_unexpected)
