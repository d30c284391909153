"""SQL repositories implementing `core.ports`, and the unit of work that shares one session."""

from __future__ import annotations

import uuid
from collections.abc import Generator, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session

from passerelle.core.audit import (
    GENESIS_HASH,
    AuditEntry,
    AuditEvent,
    AuditHead,
    AuditKeyring,
    KeyEpoch,
    LegacySeal,
    chain_event,
)
from passerelle.core.errors import Conflict, NotFound
from passerelle.core.identity import (
    Agency,
    ApiToken,
    Credentials,
    Jurisdiction,
    Locale,
    LoginThrottle,
    Role,
    User,
)
from passerelle.db import audit_keys
from passerelle.db.bank_repo import SqlBankRepo
from passerelle.db.bulk import insert_rows
from passerelle.db.complaint_repo import SqlComplaintRepo
from passerelle.db.decision_repo import SqlDecisionRepo
from passerelle.db.exchange_repo import SqlExchangeRepo
from passerelle.db.job_repo import SqlJobRepo
from passerelle.db.models import (
    AgencyRow,
    ApiTokenRow,
    AuditEventRow,
    AuditHeadRow,
    AuditKeyRow,
    LoginSessionRow,
    LoginThrottleRow,
    UserRoleRow,
    UserRow,
)
from passerelle.db.note_repo import SqlNoteRepo
from passerelle.db.public_repo import SqlPublicReportRepo
from passerelle.db.queue_repo import SqlQueueRepo
from passerelle.db.referral_repo import SqlReferralRepo
from passerelle.db.report_repo import SqlReportRepo
from passerelle.db.work_repo import SqlWorkRepo


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime | None) -> datetime | None:
    # SQLite returns naive datetimes; every stored time is UTC.
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _new_id() -> str:
    return str(uuid.uuid4())


def _to_agency(row: AgencyRow) -> Agency:
    return Agency(
        id=row.id,
        code=row.code,
        name=row.name,
        jurisdiction=Jurisdiction(row.jurisdiction),
        created_at=_aware(row.created_at) or row.created_at,
    )


def _to_user(row: UserRow) -> User:
    return User(
        id=row.id,
        agency_id=row.agency_id,
        username=row.username,
        display_name=row.display_name,
        roles=frozenset(Role(r.role) for r in row.roles),
        locale=Locale(row.locale),
        is_active=row.is_active,
        created_at=_aware(row.created_at) or row.created_at,
        reveal_media=bool(row.reveal_media),
    )


@cache
def _agency_by_code() -> Any:
    return select(AgencyRow).where(AgencyRow.code == bindparam("code"))


class SqlAgencyRepo:
    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, *, code: str, name: str, jurisdiction: Jurisdiction) -> Agency:
        if self._s.scalar(select(AgencyRow.id).where(AgencyRow.code == code)):
            raise Conflict("an agency with code %(code)s already exists", code=repr(code))
        row = AgencyRow(
            id=_new_id(), code=code, name=name, jurisdiction=jurisdiction.value, created_at=_now()
        )
        self._s.add(row)
        self._s.flush()
        return _to_agency(row)

    def get(self, agency_id: str) -> Agency:
        row = self._s.get(AgencyRow, agency_id)
        if row is None:
            raise NotFound("agency not found")
        return _to_agency(row)

    def get_by_code(self, code: str) -> Agency:
        row = self._s.scalar(_agency_by_code(), {"code": code})
        if row is None:
            raise NotFound("no agency with code %(code)s", code=repr(code))
        return _to_agency(row)

    def list(self) -> list[Agency]:
        return [_to_agency(r) for r in self._s.scalars(select(AgencyRow).order_by(AgencyRow.code))]


class SqlUserRepo:
    def __init__(self, session: Session) -> None:
        self._s = session

    def _row(self, user_id: str) -> UserRow:
        row = self._s.get(UserRow, user_id)
        if row is None:
            raise NotFound("user not found")
        return row

    def add(
        self,
        *,
        agency_id: str,
        username: str,
        display_name: str,
        password_hash: str,
        roles: frozenset[Role],
        locale: Locale,
    ) -> User:
        if self._s.scalar(select(UserRow.id).where(UserRow.username == username)):
            raise Conflict("the username %(name)s is taken", name=repr(username))
        row = UserRow(
            id=_new_id(),
            agency_id=agency_id,
            username=username,
            display_name=display_name,
            password_hash=password_hash,
            locale=locale.value,
            is_active=True,
            failed_logins=0,
            reveal_media=False,
            created_at=_now(),
        )
        row.roles = [UserRoleRow(role=role.value) for role in sorted(roles)]
        self._s.add(row)
        self._s.flush()
        return _to_user(row)

    def get(self, user_id: str) -> User:
        return _to_user(self._row(user_id))

    def get_in_agency(self, agency_id: str, user_id: str) -> User:
        row = self._s.get(UserRow, user_id)
        if row is None or row.agency_id != agency_id:
            raise NotFound("user not found")
        return _to_user(row)

    def find_credentials(self, username: str) -> Credentials | None:
        row = self._s.scalar(select(UserRow).where(UserRow.username == username))
        if row is None:
            return None
        return Credentials(
            user=_to_user(row),
            password_hash=row.password_hash,
            failed_logins=row.failed_logins,
            locked_until=_aware(row.locked_until),
        )

    def list_in_agency(self, agency_id: str) -> list[User]:
        rows = self._s.scalars(
            select(UserRow).where(UserRow.agency_id == agency_id).order_by(UserRow.username)
        )
        return [_to_user(r) for r in rows]

    def list_all(self) -> list[User]:
        return [_to_user(r) for r in self._s.scalars(select(UserRow).order_by(UserRow.username))]

    def set_password_hash(self, user_id: str, password_hash: str) -> None:
        row = self._row(user_id)
        row.password_hash = password_hash
        row.failed_logins = 0
        row.locked_until = None

    def set_active(self, user_id: str, active: bool) -> None:
        self._row(user_id).is_active = active

    def set_roles(self, user_id: str, roles: frozenset[Role]) -> None:
        row = self._row(user_id)
        row.roles = [UserRoleRow(role=role.value) for role in sorted(roles)]
        self._s.flush()

    def set_locale(self, user_id: str, locale: Locale) -> None:
        self._row(user_id).locale = locale.value

    def set_reveal_media(self, user_id: str, reveal: bool) -> None:
        self._row(user_id).reveal_media = reveal

    def record_login_failure(self, user_id: str, locked_until: datetime | None) -> int:
        row = self._row(user_id)
        row.failed_logins += 1
        if locked_until is not None:
            row.locked_until = locked_until
        return row.failed_logins

    def reset_login_failures(self, user_id: str) -> None:
        row = self._row(user_id)
        row.failed_logins = 0
        row.locked_until = None

    def throttle(self, username: str, source: str) -> LoginThrottle:
        row = self._s.get(LoginThrottleRow, (username, source))
        if row is None:
            return LoginThrottle(username=username, source=source)
        return LoginThrottle(
            username=row.username,
            source=row.source,
            failures=row.failures,
            locked_until=_aware(row.locked_until),
            window_start=_aware(row.window_start),
            window_failures=row.window_failures,
        )

    def save_throttle(self, throttle: LoginThrottle) -> None:
        row = self._s.get(LoginThrottleRow, (throttle.username, throttle.source))
        if row is None:
            row = LoginThrottleRow(username=throttle.username, source=throttle.source)
            self._s.add(row)
        row.failures = throttle.failures
        row.locked_until = throttle.locked_until
        row.window_start = throttle.window_start
        row.window_failures = throttle.window_failures
        self._s.flush()

    def clear_throttles(self, username: str, source: str | None = None) -> None:
        query = delete(LoginThrottleRow).where(LoginThrottleRow.username == username)
        if source is not None:
            query = query.where(LoginThrottleRow.source == source)
        self._s.execute(query)

    def locked_until(self, username: str, now: datetime) -> datetime | None:
        """The end of the latest lock on this account from any source, if one runs."""
        rows = self._s.scalars(
            select(LoginThrottleRow.locked_until).where(
                LoginThrottleRow.username == username,
                LoginThrottleRow.locked_until.is_not(None),
            )
        )
        ends = [end for end in (_aware(r) for r in rows) if end is not None and end > now]
        return max(ends, default=None)


@cache
def _viewer_query() -> Any:
    """The query of `find_viewer`, built once: building it took longer than running it."""
    return (
        select(
            UserRow.id,
            UserRow.agency_id,
            UserRow.username,
            UserRow.display_name,
            UserRow.locale,
            UserRow.created_at,
            UserRow.reveal_media,
            AgencyRow.jurisdiction,
            UserRoleRow.role,
            LoginSessionRow.expires_at,
        )
        .select_from(LoginSessionRow)
        .join(UserRow, UserRow.id == LoginSessionRow.user_id)
        .join(AgencyRow, AgencyRow.id == UserRow.agency_id)
        .outerjoin(UserRoleRow, UserRoleRow.user_id == UserRow.id)
        .where(LoginSessionRow.token_hash == bindparam("token_hash"), UserRow.is_active.is_(True))
    )


class SqlLoginSessionRepo:
    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, *, user_id: str, token_hash: str, expires_at: datetime) -> None:
        self._s.add(
            LoginSessionRow(
                token_hash=token_hash, user_id=user_id, created_at=_now(), expires_at=expires_at
            )
        )

    def find_user(self, token_hash: str, now: datetime) -> User | None:
        row = self._s.get(LoginSessionRow, token_hash)
        if row is None or (_aware(row.expires_at) or now) <= now:
            return None
        user = self._s.get(UserRow, row.user_id)
        if user is None or not user.is_active:
            return None
        return _to_user(user)

    def find_viewer(self, token_hash: str, now: datetime) -> tuple[User, Jurisdiction] | None:
        """The user of a live session and the jurisdiction of their agency, in one query of
        the columns needed (every request of the console asks it first)."""
        rows = self._s.execute(_viewer_query(), {"token_hash": token_hash}).all()
        if not rows or (_aware(rows[0].expires_at) or now) <= now:
            return None
        first = rows[0]
        user = User(
            id=first.id,
            agency_id=first.agency_id,
            username=first.username,
            display_name=first.display_name,
            roles=frozenset(Role(row.role) for row in rows if row.role is not None),
            locale=Locale(first.locale),
            is_active=True,
            created_at=_aware(first.created_at) or first.created_at,
            reveal_media=bool(first.reveal_media),
        )
        return user, Jurisdiction(first.jurisdiction)

    def delete(self, token_hash: str) -> None:
        self._s.execute(delete(LoginSessionRow).where(LoginSessionRow.token_hash == token_hash))

    def delete_for_user(self, user_id: str) -> None:
        self._s.execute(delete(LoginSessionRow).where(LoginSessionRow.user_id == user_id))


class SqlApiTokenRepo:
    def __init__(self, session: Session) -> None:
        self._s = session

    @staticmethod
    def _to_token(row: ApiTokenRow) -> ApiToken:
        return ApiToken(
            id=row.id,
            user_id=row.user_id,
            name=row.name,
            created_at=_aware(row.created_at) or row.created_at,
            revoked_at=_aware(row.revoked_at),
        )

    def add(self, *, user_id: str, name: str, token_hash: str) -> ApiToken:
        row = ApiTokenRow(
            id=_new_id(), user_id=user_id, name=name, token_hash=token_hash, created_at=_now()
        )
        self._s.add(row)
        self._s.flush()
        return self._to_token(row)

    def find_user(self, token_hash: str) -> User | None:
        row = self._s.scalar(select(ApiTokenRow).where(ApiTokenRow.token_hash == token_hash))
        if row is None or row.revoked_at is not None:
            return None
        user = self._s.get(UserRow, row.user_id)
        if user is None or not user.is_active:
            return None
        return _to_user(user)

    def list_for_user(self, user_id: str) -> list[ApiToken]:
        rows = self._s.scalars(
            select(ApiTokenRow)
            .where(ApiTokenRow.user_id == user_id)
            .order_by(ApiTokenRow.created_at)
        )
        return [self._to_token(r) for r in rows]

    def revoke(self, user_id: str, token_id: str, when: datetime) -> None:
        row = self._s.get(ApiTokenRow, token_id)
        if row is None or row.user_id != user_id:
            raise NotFound("token not found")
        row.revoked_at = when


def _to_event(row: AuditEventRow) -> AuditEvent:
    return AuditEvent(
        seq=row.seq,
        occurred_at=row.occurred_at,
        action=row.action,
        actor=row.actor,
        agency_id=row.agency_id,
        object_type=row.object_type,
        object_id=row.object_id,
        details_json=row.details_json,
        prev_hash=row.prev_hash,
        hash=row.hash,
        mac_version=row.mac_version,
    )


# The audit log's queries of every change and every case page, built once (building a query
# costs more than running it on these indexes).
@cache
def _head_query() -> Any:
    return select(AuditHeadRow).where(AuditHeadRow.id == 1).with_for_update()


@cache
def _epochs_query() -> Any:
    return (
        select(AuditKeyRow)
        .where(AuditKeyRow.epoch > audit_keys.LEGACY_EPOCH)
        .order_by(AuditKeyRow.epoch)
    )


@cache
def _object_events_query() -> Any:
    return (
        select(AuditEventRow)
        .where(
            AuditEventRow.agency_id == bindparam("agency_id"),
            AuditEventRow.object_type == bindparam("object_type"),
            AuditEventRow.object_id == bindparam("object_id"),
        )
        .order_by(AuditEventRow.seq)
    )


class SqlAuditLog:
    """Appends under a lock on the head row, so that concurrent writers form one chain; each
    event is keyed with the current epoch's MAC key, opened with the instance secret."""

    def __init__(self, session: Session, secret: str) -> None:
        self._s = session
        self._secret = secret
        self._current: KeyEpoch | None = None

    def _locked_head(self) -> AuditHeadRow:
        head: AuditHeadRow | None = self._s.scalar(_head_query())
        if head is None:
            head = AuditHeadRow(id=1, seq=0, hash=GENESIS_HASH)
            self._s.add(head)
            self._s.flush()
        return head

    def _epoch_rows(self) -> list[AuditKeyRow]:
        return list(self._s.scalars(_epochs_query()))

    def _add_epoch(self, epoch: int, from_seq: int, secret: str) -> KeyEpoch:
        key = audit_keys.new_mac_key()
        sealed = audit_keys.seal_epoch_key(secret, epoch=epoch, from_seq=from_seq, key=key)
        self._s.add(AuditKeyRow(epoch=epoch, from_seq=from_seq, sealed=sealed))
        self._s.flush()
        return KeyEpoch(epoch, from_seq, key)

    def _current_epoch(self, head: AuditHeadRow) -> KeyEpoch:
        if self._current is not None:
            return self._current
        rows = self._epoch_rows()
        if rows:
            row = rows[-1]
            key = audit_keys.open_epoch_key(
                self._secret, epoch=row.epoch, from_seq=row.from_seq, sealed=row.sealed
            )
            self._current = KeyEpoch(row.epoch, row.from_seq, key)
            return self._current
        # The first keyed event: seal the unkeyed prefix written before, if there is one.
        if head.seq > 0 and self._s.get(AuditKeyRow, audit_keys.LEGACY_EPOCH) is None:
            sealed = audit_keys.seal_legacy(self._secret, LegacySeal(head.seq, head.hash))
            self._s.add(AuditKeyRow(epoch=audit_keys.LEGACY_EPOCH, from_seq=1, sealed=sealed))
        self._current = self._add_epoch(1, head.seq + 1, self._secret)
        return self._current

    def ensure_keyed(self) -> None:
        """Start keyed chaining now if it has not started (sealing the unkeyed prefix)."""
        self._current_epoch(self._locked_head())

    def append(self, entry: AuditEntry) -> AuditEvent:
        return self.append_many([entry])[0]

    def append_many(self, entries: Sequence[AuditEntry]) -> list[AuditEvent]:
        """Chain several events, in order, under one lock of the head and one write (a
        batch of cases opened by an ingest)."""
        head = self._locked_head()
        epoch = self._current_epoch(head)
        events: list[AuditEvent] = []
        for entry in entries:
            event = chain_event(
                entry, seq=head.seq + 1, prev_hash=head.hash, moment=_now(), key=epoch.key
            )
            head.seq, head.hash = event.seq, event.hash
            events.append(event)
        if events:
            insert_rows(
                self._s,
                AuditEventRow,
                [
                    {
                        "seq": event.seq,
                        "occurred_at": event.occurred_at,
                        "action": event.action,
                        "actor": event.actor,
                        "agency_id": event.agency_id,
                        "object_type": event.object_type,
                        "object_id": event.object_id,
                        "details_json": event.details_json,
                        "prev_hash": event.prev_hash,
                        "hash": event.hash,
                        "mac_version": event.mac_version,
                    }
                    for event in events
                ],
            )
        self._s.flush()
        return events

    def head(self) -> tuple[int, str]:
        head = self._s.get(AuditHeadRow, 1)
        if head is None:
            return 0, GENESIS_HASH
        return head.seq, head.hash

    def keyring(self) -> AuditKeyring:
        """Every MAC key, opened with the secret (WrongSecret if it does not open them)."""
        epochs = tuple(
            KeyEpoch(
                row.epoch,
                row.from_seq,
                audit_keys.open_epoch_key(
                    self._secret, epoch=row.epoch, from_seq=row.from_seq, sealed=row.sealed
                ),
            )
            for row in self._epoch_rows()
        )
        legacy_row = self._s.get(AuditKeyRow, audit_keys.LEGACY_EPOCH)
        legacy = audit_keys.open_legacy(self._secret, legacy_row.sealed) if legacy_row else None
        return AuditKeyring(epochs, legacy)

    def anchor(self) -> AuditHead:
        seq, mac = self.head()
        return AuditHead(seq, mac)

    def rotate(self, new_secret: str) -> int:
        """Re-seal every MAC key under `new_secret` and open a new epoch (with a new key) for
        the events from the next one on; returns the new epoch's number. The caller appends
        the rotation event, the first of the new epoch."""
        keyring = self.keyring()
        head = self._locked_head()
        for row in self._s.scalars(select(AuditKeyRow)):
            if row.epoch == audit_keys.LEGACY_EPOCH and keyring.legacy is not None:
                row.sealed = audit_keys.seal_legacy(new_secret, keyring.legacy)
            for epoch in keyring.epochs:
                if epoch.epoch == row.epoch:
                    row.sealed = audit_keys.seal_epoch_key(
                        new_secret, epoch=epoch.epoch, from_seq=epoch.from_seq, key=epoch.key
                    )
        if keyring.current is None and head.seq > 0 and keyring.legacy is None:
            sealed = audit_keys.seal_legacy(new_secret, LegacySeal(head.seq, head.hash))
            self._s.add(AuditKeyRow(epoch=audit_keys.LEGACY_EPOCH, from_seq=1, sealed=sealed))
        number = (keyring.current.epoch if keyring.current else 0) + 1
        self._secret = new_secret
        self._current = self._add_epoch(number, head.seq + 1, new_secret)
        return number

    def iter_all(self) -> Generator[AuditEvent, None, None]:
        result = self._s.execute(
            select(AuditEventRow).order_by(AuditEventRow.seq).execution_options(yield_per=1000)
        )
        try:
            for row in result.scalars():
                yield _to_event(row)
        finally:
            result.close()  # a verification that stops at a broken event leaves no cursor open

    def list_for_agency(
        self, agency_id: str, *, limit: int, before_seq: int | None = None
    ) -> list[AuditEvent]:
        query = select(AuditEventRow).where(AuditEventRow.agency_id == agency_id)
        if before_seq is not None:
            query = query.where(AuditEventRow.seq < before_seq)
        rows = self._s.scalars(query.order_by(AuditEventRow.seq.desc()).limit(limit))
        return [_to_event(r) for r in rows]

    def list_for_object(self, agency_id: str, object_type: str, object_id: str) -> list[AuditEvent]:
        rows = self._s.scalars(
            _object_events_query(),
            {"agency_id": agency_id, "object_type": object_type, "object_id": object_id},
        )
        return [_to_event(r) for r in rows]

    def get_in_agency(self, agency_id: str, seq: int) -> AuditEvent:
        row = self._s.get(AuditEventRow, seq)
        if row is None or row.agency_id != agency_id:
            raise NotFound("audit event not found")
        return _to_event(row)


class SqlUnitOfWork:
    """One session, one transaction. Use as a context manager; `commit` is explicit."""

    def __init__(self, session: Session, secret: str) -> None:
        self.session = session
        self.agencies = SqlAgencyRepo(session)
        self.users = SqlUserRepo(session)
        self.login_sessions = SqlLoginSessionRepo(session)
        self.api_tokens = SqlApiTokenRepo(session)
        self.audit = SqlAuditLog(session, secret)
        self.banks = SqlBankRepo(session)
        self.queue = SqlQueueRepo(session)
        self.work = SqlWorkRepo(session)
        self.decisions = SqlDecisionRepo(session)
        self.referrals = SqlReferralRepo(session)
        self.public_reports = SqlPublicReportRepo(session)
        self.reports = SqlReportRepo(session)
        self.complaints = SqlComplaintRepo(session)
        self.jobs = SqlJobRepo(session)
        self.exchange = SqlExchangeRepo(session)
        self.notes = SqlNoteRepo(session)

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()
