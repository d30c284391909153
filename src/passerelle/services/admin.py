"""Agencies and people: create, list, disable, reset a password, choose a language."""

from __future__ import annotations

from datetime import datetime

from passerelle.core.audit import AuditEntry
from passerelle.core.errors import InvalidInput, NotFound, PermissionDenied
from passerelle.core.identity import (
    Agency,
    Jurisdiction,
    Locale,
    Permission,
    User,
    parse_agency_code,
    parse_roles,
    parse_username,
)
from passerelle.core.ports import UnitOfWork
from passerelle.services.passwords import NewPassword, prepare_password

SYSTEM_ACTOR = "system"


def parse_jurisdiction(text: str) -> Jurisdiction:
    try:
        return Jurisdiction(text.strip().upper())
    except ValueError:
        allowed = ", ".join(j.value for j in Jurisdiction)
        raise InvalidInput(
            "unknown jurisdiction %(value)s; use one of: %(allowed)s",
            field="jurisdiction",
            value=repr(text),
            allowed=allowed,
        ) from None


def parse_locale(text: str) -> Locale:
    try:
        return Locale(text.strip().lower())
    except ValueError:
        raise InvalidInput(
            "unknown language %(value)s; use fr or en", field="locale", value=repr(text)
        ) from None


def create_agency(
    uow: UnitOfWork, *, code: str, name: str, jurisdiction: str, actor: str = SYSTEM_ACTOR
) -> Agency:
    clean_name = name.strip()
    if not clean_name:
        raise InvalidInput("agency name is empty", field="name")
    agency = uow.agencies.add(
        code=parse_agency_code(code), name=clean_name, jurisdiction=parse_jurisdiction(jurisdiction)
    )
    uow.audit.append(
        AuditEntry(
            action="agency.created",
            actor=actor,
            agency_id=agency.id,
            object_type="agency",
            object_id=agency.id,
            details={"code": agency.code, "name": agency.name, "jurisdiction": agency.jurisdiction},
        )
    )
    return agency


def create_user(
    uow: UnitOfWork,
    *,
    agency_code: str,
    username: str,
    password: str | NewPassword,
    roles: list[str] | tuple[str, ...],
    display_name: str = "",
    locale: str = "fr",
    actor: str = SYSTEM_ACTOR,
) -> User:
    """Add a person. The console and the CLI give the password prepared (hashed before the
    transaction opens); a plain one is hashed here, inside it (set-up and tests only)."""
    name = parse_username(username)
    role_set = parse_roles(roles)
    secret = password if isinstance(password, NewPassword) else prepare_password(password)
    agency = uow.agencies.get_by_code(parse_agency_code(agency_code))
    user = uow.users.add(
        agency_id=agency.id,
        username=name,
        display_name=display_name.strip() or name,
        password_hash=secret.hash,
        roles=role_set,
        locale=parse_locale(locale),
    )
    uow.audit.append(
        AuditEntry(
            action="user.created",
            actor=actor,
            agency_id=agency.id,
            object_type="user",
            object_id=user.id,
            details={"username": user.username, "roles": sorted(r.value for r in role_set)},
        )
    )
    return user


def _audit_user(
    uow: UnitOfWork, action: str, actor: str, person: User, details: dict[str, object]
) -> None:
    uow.audit.append(AuditEntry(action, actor, person.agency_id, "user", person.id, details))


def _find_user(uow: UnitOfWork, username: str) -> User:
    credentials = uow.users.find_credentials(parse_username(username))
    if credentials is None:
        raise NotFound("no user named %(name)s", name=repr(username))
    return credentials.user


def disable_user(uow: UnitOfWork, *, username: str, actor: str = SYSTEM_ACTOR) -> User:
    user = _find_user(uow, username)
    uow.users.set_active(user.id, False)
    uow.login_sessions.delete_for_user(user.id)
    _audit_user(uow, "user.disabled", actor, user, {"username": user.username})
    return uow.users.get(user.id)


def set_password(
    uow: UnitOfWork, *, username: str, password: str | NewPassword, actor: str = SYSTEM_ACTOR
) -> User:
    """Set a person's password (prepared, or plain as in `create_user`) and end their
    sessions."""
    secret = password if isinstance(password, NewPassword) else prepare_password(password)
    user = _find_user(uow, username)
    uow.users.set_password_hash(user.id, secret.hash)
    uow.login_sessions.delete_for_user(user.id)
    _audit_user(uow, "user.password_set", actor, user, {"username": user.username})
    return user


def set_user_locale(uow: UnitOfWork, *, user: User, locale: str) -> User:
    chosen = parse_locale(locale)
    uow.users.set_locale(user.id, chosen)
    _audit_user(uow, "user.locale_changed", user.username, user, {"locale": chosen.value})
    return uow.users.get(user.id)


def set_media_protection(uow: UnitOfWork, *, user: User, reveal: bool) -> User:
    """Analyst protection (DESIGN red line 7): images blurred and grey until clicked, unless
    the person chooses otherwise for themselves."""
    uow.users.set_reveal_media(user.id, reveal)
    _audit_user(uow, "user.protection_changed", user.username, user, {"reveal_media": reveal})
    return uow.users.get(user.id)


def list_agency_users(uow: UnitOfWork, *, viewer: User) -> list[User]:
    if not (viewer.can(Permission.MANAGE_USERS) or viewer.can(Permission.READ_AUDIT)):
        raise PermissionDenied("only admins and controllers list the agency's people")
    return uow.users.list_in_agency(viewer.agency_id)


def get_agency_user(uow: UnitOfWork, *, viewer: User, user_id: str) -> User:
    if user_id != viewer.id and not (
        viewer.can(Permission.MANAGE_USERS) or viewer.can(Permission.READ_AUDIT)
    ):
        raise NotFound("user not found")
    return uow.users.get_in_agency(viewer.agency_id, user_id)


def get_own_agency(uow: UnitOfWork, *, viewer: User, agency_id: str) -> Agency:
    if agency_id != viewer.agency_id:
        raise NotFound("agency not found")
    return uow.agencies.get(agency_id)


# --- people in the console, for the agency's administrators ----------------------------------


def require_admin(viewer: User) -> None:
    if not viewer.can(Permission.MANAGE_USERS):
        raise PermissionDenied("only administrators manage people")


def _person(uow: UnitOfWork, viewer: User, user_id: str) -> User:
    """A person of the administrator's agency; anyone else is not found."""
    require_admin(viewer)
    return uow.users.get_in_agency(viewer.agency_id, user_id)


def add_person(
    uow: UnitOfWork,
    *,
    viewer: User,
    username: str,
    display_name: str,
    roles: list[str],
    password: NewPassword,
) -> User:
    require_admin(viewer)
    agency = uow.agencies.get(viewer.agency_id)
    return create_user(
        uow,
        agency_code=agency.code,
        username=username,
        password=password,
        roles=roles,
        display_name=display_name,
        actor=viewer.username,
    )


class OwnRolesRefused(PermissionDenied):
    """A person tried to change their own roles: another administrator changes them (an
    administrator who gave themselves a role that reads cases would undo DESIGN §3)."""

    def __init__(self, message: str, *, viewer: User, roles: list[str]) -> None:
        super().__init__(message)
        self.viewer = viewer
        self.asked = roles


def change_roles(uow: UnitOfWork, *, viewer: User, user_id: str, roles: list[str]) -> User:
    """Another person's roles; one's own never (OwnRolesRefused, to audit with
    `record_own_roles_refused`). The command line's `user add` is the operator's tool on the
    machine, outside any person's session: it creates the first administrators."""
    person = _person(uow, viewer, user_id)
    if person.id == viewer.id:
        raise OwnRolesRefused(
            "you cannot change your own roles: another administrator does it",
            viewer=viewer,
            roles=roles,
        )
    chosen = parse_roles(roles)
    uow.users.set_roles(person.id, chosen)
    _audit_user(
        uow,
        "user.roles_changed",
        viewer.username,
        person,
        {
            "username": person.username,
            "before": sorted(r.value for r in person.roles),
            "after": sorted(r.value for r in chosen),
        },
    )
    return uow.users.get(person.id)


def record_own_roles_refused(uow: UnitOfWork, refusal: OwnRolesRefused) -> None:
    """Audit a refused change of one's own roles, in a transaction of its own (nothing else
    was changed): the controller sees who tried."""
    viewer = refusal.viewer
    _audit_user(
        uow,
        "user.roles_change_refused",
        viewer.username,
        viewer,
        {
            "username": viewer.username,
            "before": sorted(r.value for r in viewer.roles),
            "roles": sorted({str(name)[:32] for name in refusal.asked[:8]}),
        },
    )


def deactivate_person(uow: UnitOfWork, *, viewer: User, user_id: str) -> User:
    person = _person(uow, viewer, user_id)
    if person.id == viewer.id:
        raise InvalidInput("you cannot deactivate yourself", field="active")
    return disable_user(uow, username=person.username, actor=viewer.username)


def reset_password(uow: UnitOfWork, *, viewer: User, user_id: str, password: NewPassword) -> User:
    person = _person(uow, viewer, user_id)
    return set_password(uow, username=person.username, password=password, actor=viewer.username)


def unlock_person(uow: UnitOfWork, *, viewer: User, user_id: str) -> User:
    """End every lock on the account, from every source (audited)."""
    person = _person(uow, viewer, user_id)
    uow.users.clear_throttles(person.username)
    _audit_user(uow, "user.unlocked", viewer.username, person, {"username": person.username})
    return person


def person_locked_until(
    uow: UnitOfWork, *, viewer: User, user_id: str, now: datetime
) -> datetime | None:
    """When the person's account stops being locked from some source (administrators)."""
    return uow.users.locked_until(_person(uow, viewer, user_id).username, now)
