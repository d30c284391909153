"""Agencies (tenants), the people who work in them, and what each role may do (DESIGN §3)."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime

from passerelle.core.errors import InvalidInput


class Role(enum.StrEnum):
    ANALYST = "analyst"
    APPROVER = "approver"
    CONTROLLER = "controller"
    LIAISON = "liaison"
    ADMIN = "admin"


class Permission(enum.StrEnum):
    # Exposure to the material is limited to those whose work needs it (DESIGN §3): the
    # queue, cases and preserved content for reviewers and the controller; referrals (no
    # content, the address and the grounds) for them and the liaison officers.
    READ_CASES = "read_cases"
    READ_REFERRALS = "read_referrals"
    REVIEW = "review"
    APPROVE_ORDER = "approve_order"
    READ_AUDIT = "read_audit"
    RECOMMEND = "recommend"
    MANAGE_PARTNERS = "manage_partners"
    MANAGE_USERS = "manage_users"
    READ_BANKS = "read_banks"
    MANAGE_BANKS = "manage_banks"  # add entries to the unit's banks
    ADMINISTER_BANKS = "administer_banks"  # import, withdraw, reinstate
    MANAGE_HOSTS = "manage_hosts"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ANALYST: frozenset(
        {
            Permission.READ_CASES,
            Permission.READ_REFERRALS,
            Permission.REVIEW,
            Permission.READ_BANKS,
            Permission.MANAGE_BANKS,
        }
    ),
    Role.APPROVER: frozenset(
        {
            Permission.READ_CASES,
            Permission.READ_REFERRALS,
            Permission.REVIEW,
            Permission.READ_BANKS,
            Permission.MANAGE_BANKS,
            Permission.APPROVE_ORDER,
            Permission.MANAGE_HOSTS,
        }
    ),
    Role.CONTROLLER: frozenset(
        {
            Permission.READ_CASES,
            Permission.READ_REFERRALS,
            Permission.READ_AUDIT,
            Permission.READ_BANKS,
            Permission.RECOMMEND,
        }
    ),
    Role.LIAISON: frozenset(
        {
            Permission.READ_REFERRALS,
            Permission.READ_BANKS,
            Permission.MANAGE_PARTNERS,
            Permission.MANAGE_HOSTS,
        }
    ),
    Role.ADMIN: frozenset(
        {
            Permission.MANAGE_USERS,
            Permission.READ_BANKS,
            Permission.MANAGE_BANKS,
            Permission.ADMINISTER_BANKS,
            Permission.READ_AUDIT,
            Permission.MANAGE_HOSTS,
        }
    ),
}


class Jurisdiction(enum.StrEnum):
    FRANCE = "FR"
    QUEBEC = "CA-QC"


class Locale(enum.StrEnum):
    FR = "fr"
    EN = "en"


_CODE = re.compile(r"^[a-z][a-z0-9-]{1,31}$")
_USERNAME = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")
MIN_PASSWORD_LENGTH = 12


def parse_agency_code(text: str) -> str:
    code = text.strip().lower()
    if not _CODE.match(code):
        raise InvalidInput(
            "agency code must be 2-32 characters: lower-case letters, digits and '-',"
            " starting with a letter",
            field="code",
        )
    return code


def parse_username(text: str) -> str:
    name = text.strip().lower()
    if not _USERNAME.match(name):
        raise InvalidInput(
            "username must be 2-64 characters: lower-case letters, digits, '.', '_' and '-',"
            " starting with a letter",
            field="username",
        )
    return name


def parse_roles(names: list[str] | tuple[str, ...]) -> frozenset[Role]:
    roles: set[Role] = set()
    for name in names:
        try:
            roles.add(Role(name.strip().lower()))
        except ValueError:
            allowed = ", ".join(r.value for r in Role)
            raise InvalidInput(
                "unknown role %(value)s; roles are: %(allowed)s",
                field="roles",
                value=repr(name),
                allowed=allowed,
            ) from None
    if not roles:
        raise InvalidInput("a user needs at least one role", field="roles")
    return frozenset(roles)


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            "password must be at least %(minimum)s characters",
            field="password",
            minimum=MIN_PASSWORD_LENGTH,
        )


@dataclass(frozen=True, slots=True)
class Agency:
    id: str
    code: str
    name: str
    jurisdiction: Jurisdiction
    created_at: datetime


@dataclass(frozen=True, slots=True)
class User:
    id: str
    agency_id: str
    username: str
    display_name: str
    roles: frozenset[Role]
    locale: Locale
    is_active: bool
    created_at: datetime
    reveal_media: bool = False  # analyst protection off: images shown unblurred

    def has_role(self, role: Role) -> bool:
        return role in self.roles

    def can(self, permission: Permission) -> bool:
        return any(permission in ROLE_PERMISSIONS[role] for role in self.roles)


@dataclass(frozen=True, slots=True)
class Credentials:
    """What login needs to know of a user; never leaves the service layer."""

    user: User
    password_hash: str
    failed_logins: int
    locked_until: datetime | None


@dataclass(frozen=True, slots=True)
class LoginThrottle:
    """Failed logins of one account name from one source (a keyed hash of the address):
    the count, the lock it earned, and the audit window that aggregates them."""

    username: str
    source: str
    failures: int = 0
    locked_until: datetime | None = None
    window_start: datetime | None = None
    window_failures: int = 0


@dataclass(frozen=True, slots=True)
class ApiToken:
    id: str
    user_id: str
    name: str
    created_at: datetime
    revoked_at: datetime | None
