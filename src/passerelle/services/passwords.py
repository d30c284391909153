"""Password hashing with Argon2id (argon2-cffi's defaults, RFC 9106 low-memory profile)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from passerelle.core.identity import check_password_policy

_HASHER = PasswordHasher()


@cache
def _dummy_hash() -> str:
    # Verified against when the username is unknown, so that both paths cost the same time.
    return _HASHER.hash("passerelle-timing-equaliser")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


@dataclass(frozen=True, slots=True)
class NewPassword:
    """A password someone chose that meets the policy, already hashed: prepared before the
    write transaction opens, so that the transaction (and SQLite's write lock) is not held
    while Argon2 works (slow on purpose)."""

    hash: str


def prepare_password(password: str) -> NewPassword:
    """Check the policy and hash: never call it inside a write transaction."""
    check_password_policy(password)
    return NewPassword(hash_password(password))


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def burn_verification(password: str) -> None:
    verify_password(_dummy_hash(), password)
