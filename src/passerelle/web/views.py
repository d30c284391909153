"""View models: what templates receive instead of domain objects or rows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from passerelle.core.audit import AuditEvent
from passerelle.core.identity import User


@dataclass(frozen=True, slots=True)
class AuditRow:
    seq: int
    occurred_at: str
    actor: str
    action: str
    object_type: str
    object_id: str
    details: str
    hash: str
    prev_hash: str


def audit_row(event: AuditEvent) -> AuditRow:
    return AuditRow(
        seq=event.seq,
        occurred_at=event.occurred_at.replace("T", " ")[:19] + " UTC",
        actor=event.actor,
        action=event.action,
        object_type=event.object_type,
        object_id=event.object_id,
        details=event.details_json if event.details_json != "{}" else "",
        hash=event.hash,
        prev_hash=event.prev_hash,
    )


@dataclass(frozen=True, slots=True)
class UserView:
    id: str
    username: str
    display_name: str
    roles: tuple[str, ...]
    locale: str
    is_active: bool


def user_view(user: User) -> UserView:
    return UserView(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        roles=tuple(sorted(r.value for r in user.roles)),
        locale=user.locale.value,
        is_active=user.is_active,
    )


ROLE_LABELS = {
    "analyst": "analyst",
    "approver": "approver",
    "controller": "controller",
    "liaison": "liaison officer",
    "admin": "administrator",
}


def role_label(role: str, gettext: Callable[[str], str]) -> str:
    """A role's name in the reader's language (a Jinja filter: `roles|map('role_label', _)`)."""
    return gettext(ROLE_LABELS.get(role, role))
