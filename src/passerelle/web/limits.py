"""How much of a request body the app reads, per kind of route, counted while it streams in.

A body announced (Content-Length) or received over its limit is answered 413 before the app
holds it: nobody, logged in or not, makes the server keep more than the limit in memory."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from passerelle.exchange.signing import MAX_DOCUMENT_BYTES

KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True, slots=True)
class BodyLimits:
    """The largest body, in bytes, of each kind of route."""

    exchange: int = MAX_DOCUMENT_BYTES  # signed documents of partners
    api: int = 1 * MIB  # JSON under /api/v1 and /taxii2
    login: int = 8 * KIB
    public: int = 64 * KIB  # the public report form and the host's link: no login
    form: int = 1 * MIB  # console forms
    upload: int = 50 * MIB  # files sent to the console (multipart)
    match: int = 20 * MIB  # POST /api/v1/match: signals, or one file (PASSERELLE_MATCH_MAX_BYTES)

    def limit_for(self, path: str, content_type: str) -> int:
        if path.startswith("/api/v1/exchange/"):
            return self.exchange
        if path == "/api/v1/match":
            return self.match
        if path.startswith(("/api/", "/taxii2/")):
            return self.api
        if path == "/login":
            return self.login
        if path in ("/signaler", "/report") or path.startswith("/hote/"):
            return self.public
        if content_type.startswith("multipart/form-data"):
            return self.upload
        return self.form


# What the API answers (a message id: the error handlers say it in the client's language).
BODY_TOO_LARGE = "the request body is over %(limit)s bytes"


class BodyTooLarge(HTTPException):
    """The request's body is over the limit of its route (413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=BODY_TOO_LARGE % {"limit": limit})
        self.limit = limit


Reject = Callable[[Request, BodyTooLarge], Awaitable[Response]]


class BodyLimit:
    """ASGI middleware: a 413 at once when the announced length is over the limit, and a
    413 raised from `receive` (through the app's error handlers) as soon as the bytes received
    pass it, whatever the route does with them."""

    def __init__(self, app: ASGIApp, *, limits: BodyLimits, reject: Reject) -> None:
        self.app = app
        self.limits = limits
        self.reject = reject

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        limit = self.limits.limit_for(scope["path"], headers.get("content-type", ""))
        announced = headers.get("content-length", "")
        if announced.strip().isdigit() and int(announced) > limit:
            response = await self.reject(Request(scope), BodyTooLarge(limit))
            await response(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)
