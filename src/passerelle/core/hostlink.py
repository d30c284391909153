"""Signed links for hosting providers: a notice carries a link with which the host can
acknowledge it, declare the content removed, or complain, without an account. The link names
the referral and an expiry time, signed with HMAC-SHA-256 under the instance's secret."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

from passerelle.core.errors import PermissionDenied

LIFETIME = timedelta(days=30)


def sign_host_link(secret: str, referral_id: str, expires: datetime) -> tuple[int, str]:
    stamp = int(expires.timestamp())
    message = f"host-link:v1:{referral_id}:{stamp}".encode()
    return stamp, hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def check_host_link(
    secret: str, referral_id: str, stamp: int, signature: str, now: datetime
) -> None:
    """Raise PermissionDenied when the link was not made by this instance or has expired."""
    message = f"host-link:v1:{referral_id}:{stamp}".encode()
    expected = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise PermissionDenied("this link is not valid")
    if now.timestamp() > stamp:
        raise PermissionDenied("this link has expired")
