"""Cookies and CSRF: a signed double-submit token checked on every state-changing console form."""

from __future__ import annotations

import hashlib
import hmac
import secrets

SESSION_COOKIE = "passerelle_session"
CSRF_COOKIE = "passerelle_csrf"
LOCALE_COOKIE = "passerelle_lang"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def new_csrf_seed() -> str:
    return secrets.token_urlsafe(32)


def csrf_token_for(seed: str, secret_key: str) -> str:
    """The token forms carry: bound to the browser's seed cookie and to the server's secret, so
    that a cookie planted by another site cannot be paired with a token it computed."""
    return hmac.new(secret_key.encode(), seed.encode(), hashlib.sha256).hexdigest()


def is_valid_csrf(seed: str | None, token: str | None, secret_key: str) -> bool:
    if not seed or not token:
        return False
    return hmac.compare_digest(csrf_token_for(seed, secret_key), token)


def client_source(address: str, secret_key: str) -> str:
    """A keyed hash of a client's address: enough to count attempts per source, never the
    address itself."""
    return hmac.new(secret_key.encode(), address.encode(), hashlib.sha256).hexdigest()[:32]


def is_safe_redirect(target: str) -> bool:
    """Only local paths: `/queue`, never `//evil.example` or `https://…`."""
    return target.startswith("/") and not target.startswith("//") and "\\" not in target
