"""Logging in and out, console sessions and API tokens.

Login failures all look the same to the caller (unknown user, wrong password, disabled or
locked account): the reason is written to the audit log, never shown.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from passerelle.core.audit import AuditEntry
from passerelle.core.errors import AuthenticationFailed, InvalidInput
from passerelle.core.identity import ApiToken, Jurisdiction, User, parse_username
from passerelle.core.ports import UnitOfWork
from passerelle.services.passwords import burn_verification, verify_password

TOKEN_PREFIX = "psl_"  # noqa: S105 - a public prefix, not a secret


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    max_failures: int
    lockout: timedelta  # the first lock; each further failure after a lock doubles it
    session_lifetime: timedelta
    max_lockout: timedelta = timedelta(hours=24)
    audit_window: timedelta = timedelta(minutes=15)  # one audit event per account and source


@dataclass(frozen=True, slots=True)
class LoginResult:
    user: User
    session_token: str
    expires_at: datetime


class AccountLocked(AuthenticationFailed):
    """Too many failed logins for this account from this source: refused until `until`,
    whatever the password (none is checked while locked)."""

    def __init__(self, until: datetime) -> None:
        super().__init__("account locked")
        self.until = until


OpenUow = Callable[..., AbstractContextManager[UnitOfWork]]


def hash_token(token: str) -> str:
    """Tokens are long random strings: SHA-256 is enough to keep them unusable at rest."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def log_in(
    open_uow: OpenUow,
    *,
    username: str,
    password: str,
    source: str,
    policy: LoginPolicy,
    now: datetime | None = None,
) -> LoginResult:
    """Read the account, check the password outside any transaction (Argon2 is slow on
    purpose), then record the outcome in a short one. Failures count per account name and
    source (a keyed hash of the client's address): guessing from one place locks that place
    out, never the account's owner elsewhere."""
    moment = now or datetime.now(UTC)
    try:
        name: str | None = parse_username(username)
    except InvalidInput:
        name = None
    key = name or username.strip().lower()[:200]
    with open_uow() as uow:
        credentials = uow.users.find_credentials(name) if name else None
        throttle = uow.users.throttle(key, source)
    if throttle.locked_until is not None and throttle.locked_until > moment:
        raise AccountLocked(throttle.locked_until)
    if credentials is None:
        burn_verification(password)
        password_ok = False
    else:
        password_ok = verify_password(credentials.password_hash, password)
    with open_uow(write=True) as uow:
        if credentials is not None and password_ok and credentials.user.is_active:
            result = _open_session(uow, credentials.user, key, source, policy, moment)
            uow.commit()
            return result
        reason = "bad_password" if credentials is None or not password_ok else "disabled"
        _count_failure(
            uow, credentials.user if credentials else None, key, source, reason, policy, moment
        )
        uow.commit()
    raise AuthenticationFailed("login failed")


def _open_session(
    uow: UnitOfWork, user: User, key: str, source: str, policy: LoginPolicy, moment: datetime
) -> LoginResult:
    uow.users.clear_throttles(key, source)
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


def _count_failure(
    uow: UnitOfWork,
    user: User | None,
    key: str,
    source: str,
    reason: str,
    policy: LoginPolicy,
    moment: datetime,
) -> None:
    """One more failure for (account, source): a lock that doubles past the threshold, and
    one audit event per window for the account (with the count of the window before)."""
    throttle = uow.users.throttle(key, source)  # read again inside the write
    failures = throttle.failures + 1
    locked_until = None
    if failures >= policy.max_failures:
        doublings = min(failures - policy.max_failures, 20)
        locked_until = moment + min(policy.lockout * 2**doublings, policy.max_lockout)
    new_window = throttle.window_start is None or moment - throttle.window_start >= (
        policy.audit_window
    )
    uow.users.save_throttle(
        replace(
            throttle,
            failures=failures,
            locked_until=locked_until,
            window_start=moment if new_window else throttle.window_start,
            window_failures=1 if new_window else throttle.window_failures + 1,
        )
    )
    if user is None or not (new_window or locked_until is not None):
        return  # an unknown name has no agency to account to; a window is audited once
    uow.audit.append(
        AuditEntry(
            action="user.login_failed",
            actor=user.username,
            agency_id=user.agency_id,
            object_type="user",
            object_id=user.id,
            details={
                "reason": reason,
                "source": source[:12],
                "failures": failures,
                "previous_window_failures": 0
                if throttle.window_start is None
                else (throttle.window_failures),
                "locked_until": locked_until.isoformat(timespec="seconds")
                if locked_until
                else None,
            },
        )
    )


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


def viewer_for_session(
    uow: UnitOfWork, session_token: str, now: datetime | None = None
) -> tuple[User, Jurisdiction] | None:
    """The user of a console session and their agency's jurisdiction (the catalogue of the
    pages they read), in one look-up."""
    return uow.login_sessions.find_viewer(hash_token(session_token), now or datetime.now(UTC))


def user_for_api_token(uow: UnitOfWork, token: str) -> User | None:
    if not token.startswith(TOKEN_PREFIX):
        return None
    return uow.api_tokens.find_user(hash_token(token))


class TokenCache:
    """The users of API tokens checked in the last `period` seconds, so that a client sending
    many requests is checked against the database once a period, not once a request. Keyed by
    the token's hash (the token itself is never kept); a refused token is never cached, and a
    revoked token or a deactivated user is refused at most `period` seconds after the change."""

    MAX_KEPT = 10_000

    def __init__(self, *, period: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._period = period
        self._clock = clock
        self._kept: dict[str, tuple[User, float]] = {}
        self._lock = threading.Lock()

    def known(self, token: str) -> User | None:
        """The user of `token` if it was checked within the period, without the database;
        None when it must be checked (or is no token of ours)."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        kept = self._kept.get(hash_token(token))
        if kept is not None and self._clock() - kept[1] < self._period:
            return kept[0]
        return None

    def user(self, open_uow: OpenUow, token: str) -> User | None:
        if not token.startswith(TOKEN_PREFIX):
            return None
        digest = hash_token(token)
        now = self._clock()
        kept = self._kept.get(digest)
        if kept is not None and now - kept[1] < self._period:
            return kept[0]
        with open_uow() as uow:
            user = uow.api_tokens.find_user(digest)
        with self._lock:
            if user is None:
                self._kept.pop(digest, None)
                return None
            if len(self._kept) >= self.MAX_KEPT:
                self._kept.clear()
            self._kept[digest] = (user, now)
        return user

    def forget(self, user_id: str) -> None:
        """Check the tokens of `user_id` again at their next use (after a revocation or a
        deactivation made by this process; another process waits out its period)."""
        with self._lock:
            for digest in [d for d, (u, _) in self._kept.items() if u.id == user_id]:
                del self._kept[digest]


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
