"""Reading and verifying the audit log, and the head to keep outside the database."""

from __future__ import annotations

from contextlib import closing

from passerelle.core.audit import AuditEvent, AuditHead, ChainReport, verify_chain
from passerelle.core.errors import PermissionDenied
from passerelle.core.identity import Permission, User
from passerelle.core.ports import UnitOfWork


def verify_log(uow: UnitOfWork, *, anchor: AuditHead | None = None) -> ChainReport:
    """Check every event's link and MAC (the keys opened with the instance secret); with
    `anchor`, a head kept elsewhere, check the log still holds it (not truncated, not
    rewritten even by someone holding the key)."""
    head_seq, head_hash = uow.audit.head()
    keyring = uow.audit.keyring()
    with closing(uow.audit.iter_all()) as events:
        return verify_chain(
            events, head_seq=head_seq, head_hash=head_hash, keyring=keyring, anchor=anchor
        )


def current_head(uow: UnitOfWork) -> AuditHead:
    """The newest event's number and MAC: print it, publish it, give it to partners."""
    return uow.audit.anchor()


def _require_reader(viewer: User) -> None:
    if not viewer.can(Permission.READ_AUDIT):
        raise PermissionDenied("only controllers and admins read the audit log")


def read_head(uow: UnitOfWork, *, viewer: User) -> AuditHead:
    """The head, for those who read the audit log (to keep it outside the instance)."""
    _require_reader(viewer)
    return current_head(uow)


def list_agency_events(
    uow: UnitOfWork, *, viewer: User, limit: int = 100, before_seq: int | None = None
) -> list[AuditEvent]:
    _require_reader(viewer)
    return uow.audit.list_for_agency(viewer.agency_id, limit=limit, before_seq=before_seq)


def get_agency_event(uow: UnitOfWork, *, viewer: User, seq: int) -> AuditEvent:
    _require_reader(viewer)
    return uow.audit.get_in_agency(viewer.agency_id, seq)
