"""`create_app()`: wires settings, database, templates and routes into one FastAPI app."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from starlette.responses import JSONResponse, Response

from passerelle import __version__
from passerelle.db.engine import make_engine
from passerelle.db.session import Database
from passerelle.mail.smtp import SmtpMailer
from passerelle.services.auth import TokenCache
from passerelle.services.lookup_audit import LookupAudit
from passerelle.services.matchers import MatcherCache
from passerelle.settings import WORKER_SETTINGS, Settings
from passerelle.storage.content_store import EncryptedContentStore, derive_content_key
from passerelle.web.admission import Admission
from passerelle.web.context import AppState
from passerelle.web.errors import install_error_handlers, reject_too_large
from passerelle.web.headers import SecurityHeaders
from passerelle.web.history import bank_description, event_sentence, note_of_entry, said
from passerelle.web.i18n import Translator
from passerelle.web.limits import BodyLimit, BodyLimits
from passerelle.web.paths import path_for
from passerelle.web.routes import (
    api,
    auth,
    banks,
    exchange,
    holds,
    host,
    pages,
    public,
    queue,
    referrals,
    reports,
    system,
    taxii,
)
from passerelle.web.views import number, role_label

HERE = Path(__file__).parent
# Every router of the app; the isolation test enumerates their routes. The API's comes first:
# a request walks the routers in this order, and the match API is the path clients hit in
# bulk (no other router has a path under /api/v1 that it could shadow).
ROUTERS = (
    api.router,
    system.router,
    auth.router,
    pages.router,
    queue.router,
    referrals.router,
    banks.router,
    public.router,
    reports.router,
    host.router,
    exchange.router,
    holds.router,
    exchange.api,
    taxii.router,
)


@pass_context
def _path_for(context: dict[str, Any], name: str, /, **params: Any) -> str:
    """`url_for` in templates gives the path only, so pages work behind any proxy or scheme."""
    request: Request = context["request"]
    return path_for(request, name, **params)


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    # A clean shutdown writes the look-up counts still kept to the audit log.
    app.state.passerelle.lookup_audit.close()


def create_app(settings: Settings, database: Database | None = None) -> FastAPI:
    app = FastAPI(
        title="Passerelle API",
        version=__version__,
        description="Referral-unit platform: content, never persons; a human decides every action.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=_lifespan,
    )
    db = database or Database(
        make_engine(settings.effective_database_url), secret=settings.secret_key
    )
    templates = Jinja2Templates(directory=HERE / "templates")
    # A template is read and compiled once; only in dev is it read again when its file changes
    # (otherwise every page would look at the modification time of each file it uses).
    templates.env.auto_reload = settings.env == "dev"
    templates.env.globals["app_version"] = __version__
    templates.env.globals["url_for"] = _path_for
    templates.env.filters["role_label"] = role_label
    templates.env.filters["number"] = number

    templates.env.globals["event_sentence"] = event_sentence
    templates.env.globals["said"] = said
    templates.env.globals["bank_description"] = bank_description
    templates.env.globals["note_of_entry"] = note_of_entry
    store = EncryptedContentStore(settings.content_dir, derive_content_key(settings.secret_key))
    mailer = (
        SmtpMailer(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            starttls=settings.smtp_starttls,
            username=settings.smtp_username or None,
            password=settings.smtp_password or None,
        )
        if settings.smtp_host
        else None
    )
    app.state.passerelle = AppState(
        settings=settings,
        database=db,
        translator=Translator(),
        templates=templates,
        store=store,
        mailer=mailer,
        matchers=MatcherCache(settings.index_dir),
        lookup_audit=LookupAudit(lambda: db.unit_of_work(write=True)),
        api_tokens=TokenCache(),
    )
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.get("/api/v1/openapi.json", include_in_schema=False, name="openapi")
    def openapi(request: Request) -> Response:
        return JSONResponse(taxii.taxii_statuses(app.openapi()))

    for router in ROUTERS:
        app.include_router(router)

    # The last added is the outermost: headers go on every answer, the 413s included.
    limits = BodyLimits(match=max(settings.match_max_bytes, api.MAX_JSON_BYTES))
    app.add_middleware(BodyLimit, limits=limits, reject=reject_too_large)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(Admission, limit=settings.web_concurrency)
    install_error_handlers(app)
    return app


def create_worker_app() -> FastAPI:
    """The app of one worker process of `passerelle serve --workers N`: built from the very
    settings the command checked and served with (passed down in the environment, as JSON)."""
    parent = os.getppid()
    threading.Thread(target=_stop_when_orphaned, args=(parent,), daemon=True).start()
    return create_app(Settings.model_validate_json(os.environ[WORKER_SETTINGS]))


def _stop_when_orphaned(parent: int) -> None:
    """A worker whose server process is gone (killed with SIGKILL, which it cannot pass on)
    stops as a SIGTERM would stop it, instead of serving on alone."""
    while os.getppid() == parent:
        time.sleep(1)
    os.kill(os.getpid(), signal.SIGTERM)
