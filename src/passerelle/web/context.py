"""What the app holds for its lifetime, and the per-request pieces routes depend on."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from passerelle.core.identity import Jurisdiction, Locale, User
from passerelle.core.message import message_of
from passerelle.core.ports import ContentStore, Mailer
from passerelle.db.repos import SqlUnitOfWork
from passerelle.db.session import Database
from passerelle.services.auth import TokenCache, viewer_for_session
from passerelle.services.lookup_audit import LookupAudit
from passerelle.services.matchers import MatcherCache
from passerelle.settings import Settings
from passerelle.web.i18n import (
    Translator,
    accepts_quebec_french,
    catalog_name,
    html_lang,
    parse_accept_language,
)
from passerelle.web.security import (
    CSRF_COOKIE,
    LOCALE_COOKIE,
    SESSION_COOKIE,
    csrf_token_for,
    new_csrf_seed,
)


@dataclass(frozen=True, slots=True)
class AppState:
    settings: Settings
    database: Database
    translator: Translator
    templates: Jinja2Templates
    store: ContentStore
    mailer: Mailer | None
    matchers: MatcherCache
    lookup_audit: LookupAudit
    api_tokens: TokenCache


class LoginRequired(Exception):
    """Raised by the console's dependencies when nobody is logged in."""


class ApiAuthRequired(Exception):
    """Raised by the API's dependencies when no valid token is given."""


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.passerelle
    return state


def read_uow(request: Request) -> Iterator[SqlUnitOfWork]:
    with get_state(request).database.unit_of_work() as uow:
        yield uow


def write_uow(request: Request) -> Iterator[SqlUnitOfWork]:
    with get_state(request).database.unit_of_work(write=True) as uow:
        yield uow


ReadUow = Annotated[SqlUnitOfWork, Depends(read_uow)]
WriteUow = Annotated[SqlUnitOfWork, Depends(write_uow)]


def optional_viewer(request: Request) -> User | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    if hasattr(request.state, "viewer"):
        viewer: User | None = request.state.viewer
        return viewer
    with get_state(request).database.unit_of_work() as uow:
        found = viewer_for_session(uow, token)
    user, jurisdiction = found if found else (None, None)
    request.state.viewer = user
    request.state.viewer_jurisdiction = jurisdiction
    return user


def viewer(request: Request) -> User:
    user = optional_viewer(request)
    if user is None:
        raise LoginRequired
    return user


async def api_viewer(request: Request) -> User:
    """The user of the request's API token: from the tokens checked within the last second
    without leaving the event loop, else checked against the database in a worker thread."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "basic":
        # TAXII clients speak Basic: the username, and an API token as the password.
        try:
            _, _, token = base64.b64decode(token.strip()).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            raise ApiAuthRequired from None
    elif scheme.lower() != "bearer":
        raise ApiAuthRequired
    if not token.strip():
        raise ApiAuthRequired
    state = get_state(request)
    token = token.strip()
    user = state.api_tokens.known(token)
    if user is None:
        user = await run_in_threadpool(state.api_tokens.user, state.database.unit_of_work, token)
    if user is None:
        raise ApiAuthRequired
    request.state.viewer = user
    return user


Viewer = Annotated[User, Depends(viewer)]
ApiViewer = Annotated[User, Depends(api_viewer)]


def request_locale(request: Request) -> Locale:
    forced = getattr(request.state, "forced_locale", None)
    if forced in {locale.value for locale in Locale}:
        return Locale(forced)  # /signaler is French and /report English, whoever asks
    user = optional_viewer(request)
    if user is not None:
        return user.locale
    chosen = request.cookies.get(LOCALE_COOKIE)
    if chosen in {locale.value for locale in Locale}:
        return Locale(chosen)
    state = get_state(request)
    return Locale(state.settings.default_locale)


def request_catalog(request: Request) -> str:
    """The catalog of the request: its language, in Québec's usage for the people of a Québec
    unit (and for visitors whose browser asks for `fr-CA` first)."""
    locale = request_locale(request)
    if optional_viewer(request) is not None:
        jurisdiction: Jurisdiction | None = getattr(request.state, "viewer_jurisdiction", None)
    elif accepts_quebec_french(request.headers.get("accept-language")):
        jurisdiction = Jurisdiction.QUEBEC
    else:
        jurisdiction = None
    return catalog_name(locale, jurisdiction)


def gettext_of(request: Request) -> Callable[[str], str]:
    """The translation function of the request's catalog, for view models."""
    translate: Callable[[str], str] = (
        get_state(request).translator.get(request_catalog(request)).gettext
    )
    return translate


def error_text(request: Request, exc: Exception) -> str:
    """An error's message in the request's language: its message id translated, then its
    values put in (the English text when the catalogue has no translation)."""
    template = getattr(exc, "template", None)
    if not isinstance(template, str) or not template:
        return gettext_of(request)(str(exc))
    return message_of(exc).render(gettext_of(request))


def api_error_text(request: Request, exc: Exception) -> str:
    """An error's message in an API or TAXII answer: in English, the API's language, unless
    the client's Accept-Language names French (then in French, Québec usage for `fr-CA`);
    the error's `code` is what programs read."""
    translate = api_gettext(request)
    return str(exc) if translate is None else message_of(exc).render(translate)


def api_gettext(request: Request) -> Callable[[str], str] | None:
    """The translation function of an API or TAXII answer: None for English, the API's
    language, unless the client's Accept-Language names French (Québec usage for `fr-CA`)."""
    header = request.headers.get("accept-language")
    if parse_accept_language(header) is not Locale.FR:
        return None
    jurisdiction = Jurisdiction.QUEBEC if accepts_quebec_french(header) else None
    translate: Callable[[str], str] = (
        get_state(request).translator.get(catalog_name(Locale.FR, jurisdiction)).gettext
    )
    return translate


def csrf_seed(request: Request) -> str:
    """The browser's CSRF seed, created on its first visit and remembered for the response."""
    seed = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf_seed", None)
    if seed is None:
        seed = new_csrf_seed()
        request.state.new_csrf_seed = seed
    return seed


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> Response:
    """Render a template with the translations, the viewer and the CSRF token of the request."""
    state = get_state(request)
    locale = request_locale(request)
    catalog = request_catalog(request)
    translations = state.translator.get(catalog)
    full: dict[str, Any] = {
        "_": translations.gettext,
        "ngettext": translations.ngettext,
        "locale": locale.value,
        "html_lang": html_lang(catalog),
        "viewer": optional_viewer(request),
        "csrf_token": csrf_token_for(csrf_seed(request), state.settings.secret_key),
        "env": state.settings.env,
        "csp_nonce": getattr(request.state, "csp_nonce", ""),  # for a <script nonce=…>
    }
    full.update(context or {})
    response = state.templates.TemplateResponse(request, template, full, status_code=status_code)
    remember_csrf_seed(request, response)
    return response


def remember_csrf_seed(request: Request, response: Response) -> None:
    seed = getattr(request.state, "new_csrf_seed", None)
    if seed is not None and CSRF_COOKIE not in request.cookies:
        state = get_state(request)
        response.set_cookie(
            CSRF_COOKIE,
            seed,
            httponly=True,
            samesite="strict",
            secure=state.settings.secure_cookies,
            path="/",
        )
