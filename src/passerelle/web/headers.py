"""The security headers of every response, with a fresh script nonce per response.

Scripts run only from our own files (`script-src 'self'`) or from a `<script>` element that
carries the response's nonce (`csp_nonce` in templates); no inline script without it, no
`eval`. A route may set its own, stricter policy (preserved content is sandboxed)."""

from __future__ import annotations

import secrets

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

NONCE_KEY = "csp_nonce"


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

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", content_security_policy(nonce))
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "same-origin")
                headers.setdefault("X-Frame-Options", "DENY")
            await send(message)

        await self.app(scope, receive, send_with_headers)
