"""Logging in and out, console sessions and API tokens.

Login failures all look the same to the caller (unknown user, wrong password, disabled or
locked account): the reason is written to the audit log, never shown.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from passerelle.core.audit import AuditEntry
from passerelle.core.errors import AuthenticationFailed, InvalidInput
from passerelle.core.identity import ApiToken, User, parse_username
from passerelle.core.ports import UnitOfWork
from passerelle.services.passwords import burn_verification, verify_password

TOKEN_PREFIX = "psl_"  # noqa: S105 - a public prefix, not a secret


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    max_failures: int
    lockout: timedelta
    session_lifetime: timedelta


@dataclass(frozen=True, slots=True)
class LoginResult:
    user: User
    session_token: str
    expires_at: datetime


def hash_token(token: str) -> str:
    """Tokens are long random strings: SHA-256 is enough to keep them unusable at rest."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def log_in(
    uow: UnitOfWork,
    *,
    username: str,
    password: str,
    policy: LoginPolicy,
    now: datetime | None = None,
) -> LoginResult:
    moment = now or datetime.now(UTC)
    try:
        name = parse_username(username)
    except InvalidInput:
        burn_verification(password)
        raise AuthenticationFailed("login failed") from None
    credentials = uow.users.find_credentials(name)
    if credentials is None:
        burn_verification(password)
        raise AuthenticationFailed("login failed")
    user = credentials.user
    locked = credentials.locked_until is not None and credentials.locked_until > moment
    password_ok = verify_password(credentials.password_hash, password)
    if locked or not user.is_active or not password_ok:
        reason = "locked" if locked else ("disabled" if not user.is_active else "bad_password")
        locked_until = None
        if reason == "bad_password" and credentials.failed_logins + 1 >= policy.max_failures:
            locked_until = moment + policy.lockout
        if reason == "bad_password":
            uow.users.record_login_failure(user.id, locked_until)
        uow.audit.append(
            AuditEntry(
                action="user.login_failed",
                actor=user.username,
                agency_id=user.agency_id,
                object_type="user",
                object_id=user.id,
                details={"reason": reason, "locked": locked_until is not None},
            )
        )
        uow.commit()
        raise AuthenticationFailed("login failed")
    uow.users.reset_login_failures(user.id)
    token = secrets.token_urlsafe(32)
    expires_at = moment + policy.session_lifetime
    uow.login_sessions.add(user_id=user.id, token_hash=hash_token(token), expires_at=expires_at)
    uow.audit.append(
        AuditEntry(
            action="user.logged_in",
            actor=user.username,
            agency_id=user.agency_id,
            object_type="user",
            object_id=user.id,
        )
    )
    return LoginResult(user=user, session_token=token, expires_at=expires_at)


def log_out(uow: UnitOfWork, *, user: User, session_token: str) -> None:
    uow.login_sessions.delete(hash_token(session_token))
    uow.audit.append(
        AuditEntry(
            action="user.logged_out",
            actor=user.username,
            agency_id=user.agency_id,
            object_type="user",
            object_id=user.id,
        )
    )


def user_for_session(
    uow: UnitOfWork, session_token: str, now: datetime | None = None
) -> User | None:
    return uow.login_sessions.find_user(hash_token(session_token), now or datetime.now(UTC))


def user_for_api_token(uow: UnitOfWork, token: str) -> User | None:
    if not token.startswith(TOKEN_PREFIX):
        return None
    return uow.api_tokens.find_user(hash_token(token))


def create_api_token(uow: UnitOfWork, *, user: User, name: str) -> tuple[ApiToken, str]:
    """Return the token record and its secret; the secret is shown once and never stored."""
    label = name.strip()
    if not label or len(label) > 100:
        raise InvalidInput("token name must be 1-100 characters", field="name")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = uow.api_tokens.add(user_id=user.id, name=label, token_hash=hash_token(secret))
    uow.audit.append(
        AuditEntry(
            action="api_token.created",
            actor=user.username,
            agency_id=user.agency_id,
            object_type="api_token",
            object_id=token.id,
            details={"name": label},
        )
    )
    return token, secret


def revoke_api_token(uow: UnitOfWork, *, user: User, token_id: str) -> None:
    uow.api_tokens.revoke(user.id, token_id, datetime.now(UTC))
    uow.audit.append(
        AuditEntry(
            action="api_token.revoked",
            actor=user.username,
            agency_id=user.agency_id,
            object_type="api_token",
            object_id=token_id,
        )
    )
