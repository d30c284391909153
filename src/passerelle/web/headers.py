"""The security headers of every response, with a fresh script nonce per response.

Scripts run only from our own files (`script-src 'self'`) or from a `<script>` element that
carries the response's nonce (`csp_nonce` in templates); no inline script without it, no
`eval`. A route may set its own, stricter policy (preserved content is sandboxed).

Nothing but the static files is kept by a browser's or a proxy's cache (`Cache-Control:
no-store`): the console's pages, the API's answers and the login page are a person's, and the
public pages carry a visitor's form token; the static files (styles, scripts, icons) stay
cacheable."""

from __future__ import annotations

import secrets

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

NONCE_KEY = "csp_nonce"
STATIC_PREFIX = "/static/"  # where the app mounts its static files


def content_security_policy(nonce: str) -> str:
    return (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline';"
        f" script-src 'self' 'nonce-{nonce}'; object-src 'none'; base-uri 'none';"
        " frame-ancestors 'none'; form-action 'self'"
    )


class SecurityHeaders:
    """ASGI middleware: puts a nonce in the request's state and the headers on the answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(18)
        scope.setdefault("state", {})[NONCE_KEY] = nonce
        is_static = str(scope.get("path", "")).startswith(STATIC_PREFIX)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", content_security_policy(nonce))
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "same-origin")
                headers.setdefault("X-Frame-Options", "DENY")
                if not is_static:
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)
