"""Keys, partners, agreements, the outbox, the sync log, holds and partners' notices."""

from __future__ import annotations

import builtins
import json
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, delete, func, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from passerelle.core.errors import Conflict, NotFound
from passerelle.core.exchange import (
    Agreement,
    AgreementStatus,
    EventKind,
    OutboxEvent,
    Partner,
    Tlp,
    parse_terms,
)
from passerelle.core.message import Message, dump_message, load_message
from passerelle.core.ports import ObservationHold, PartnerNotice, SyncRecord
from passerelle.core.taxonomy import Labels
from passerelle.db.bank_repo import withdraw_entries
from passerelle.db.bulk import insert_values
from passerelle.db.models import (
    AgencyKeyRow,
    AgreementRow,
    BankEntryRow,
    BankGenerationRow,
    BankRow,
    ExchangeEventRow,
    ExchangeNonceRow,
    ObservationHoldRow,
    PartnerRow,
    PartnerSignalRow,
    SyncLogRow,
)


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _partner(row: PartnerRow) -> Partner:
    return Partner(
        id=row.id,
        agency_id=row.agency_id,
        code=row.code,
        name=row.name,
        base_url=row.base_url,
        public_key=row.public_key,
        contact=row.contact,
        cursor=row.cursor,
        last_sync_at=_aware(row.last_sync_at),
        last_ok_at=_aware(row.last_ok_at),
        last_error=load_message(row.last_error_json, row.last_error),
        failures=row.failures,
        next_sync_at=_aware(row.next_sync_at),
        witnessed_head=row.witnessed_head,
        witnessed_at=_aware(row.witnessed_at),
    )


def _agreement(row: AgreementRow) -> Agreement:
    return Agreement(
        id=row.id,
        agency_id=row.agency_id,
        partner_id=row.partner_id,
        role=row.role,
        status=AgreementStatus(row.status),
        terms=parse_terms(json.loads(row.terms_json)),
        created_at=_aware(row.created_at) or row.created_at,
        changed_at=_aware(row.changed_at) or row.changed_at,
    )


# The columns of an outbox block as a bank import writes it (its origin is NULL: our own).
BLOCK_COLUMNS = (
    "seq",
    "agency_id",
    "kind",
    "signal_type",
    "value",
    "labels_json",
    "decision_json",
    "created_at",
    "span",
    "entries_json",
)
# Entries a block row of the outbox holds: a feed page (FEED_PAGE, 500) reads one or two.
EVENT_BLOCK = 1000
_OUTBOX_TURN = "passerelle.outbox_turn"  # the transaction that holds the outbox lock


def _labels_dict(text: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(text)
    return found


def _event(
    row: ExchangeEventRow,
    seq: int,
    signal_type: str,
    value: str,
    labels_json: str,
    tlp_floor: str | None = None,
) -> OutboxEvent:
    labels = _labels_dict(labels_json)
    floor = tlp_floor if row.entries_json is not None else row.tlp_floor
    return OutboxEvent(
        seq=seq,
        agency_id=row.agency_id,
        kind=EventKind(row.kind),
        signal_type=signal_type,
        value=value,
        category=labels.get("category"),
        tier=labels.get("tier"),
        tags=tuple(labels.get("tags") or ()),
        decision=json.loads(row.decision_json) if row.decision_json else None,
        at=_aware(row.created_at) or row.created_at,
        origin=row.origin,
        tlp_floor=Tlp(floor) if floor else None,
    )


def _block_events(row: ExchangeEventRow, cursor: int, limit: int) -> Iterator[OutboxEvent]:
    """The events of a block row after `cursor`, at most `limit`."""
    body = json.loads(row.entries_json or "{}")
    first = row.seq - row.span + 1
    skip = max(0, cursor - first + 1)
    texts = body["labels"]
    for place, (signal_type, value, label, tlp_floor) in enumerate(
        body["entries"][skip : skip + limit], start=skip
    ):
        yield _event(row, first + place, signal_type, value, texts[label], tlp_floor)


@cache
def _case_holds() -> Any:
    """A case's observation holds still set: built once (read by every case page and
    referral)."""
    return select(ObservationHoldRow).where(
        ObservationHoldRow.agency_id == bindparam("agency_id"),
        ObservationHoldRow.case_id == bindparam("case_id"),
        ObservationHoldRow.lifted_at.is_(None),
    )


class SqlExchangeRepo:
    def __init__(self, session: Session) -> None:
        self._s = session

    # --- keys --------------------------------------------------------------------------------

    def active_key(self, agency_id: str) -> tuple[str, str] | None:
        row = self._s.scalar(
            select(AgencyKeyRow)
            .where(AgencyKeyRow.agency_id == agency_id, AgencyKeyRow.retired_at.is_(None))
            .order_by(AgencyKeyRow.created_at.desc())
        )
        return (row.public_key, row.private_key) if row else None

    def add_key(self, agency_id: str, public_key: str, private_key: str) -> None:
        now = datetime.now(UTC)
        self._s.execute(
            update(AgencyKeyRow)
            .where(AgencyKeyRow.agency_id == agency_id, AgencyKeyRow.retired_at.is_(None))
            .values(retired_at=now)
        )
        self._s.add(
            AgencyKeyRow(
                id=str(uuid.uuid4()),
                agency_id=agency_id,
                public_key=public_key,
                private_key=private_key,
                created_at=now,
            )
        )
        self._s.flush()

    def sealed_keys(self) -> builtins.list[tuple[str, str]]:
        """(id, sealed private key) of every agency key, retired ones included."""
        rows = self._s.scalars(select(AgencyKeyRow).order_by(AgencyKeyRow.created_at))
        return [(row.id, row.private_key) for row in rows]

    def replace_sealed_key(self, key_id: str, sealed: str) -> None:
        row = self._s.get(AgencyKeyRow, key_id)
        if row is None:
            raise NotFound("agency key not found")
        row.private_key = sealed
        self._s.flush()

    # --- partners ----------------------------------------------------------------------------

    def add_partner(
        self,
        *,
        agency_id: str,
        code: str,
        name: str,
        base_url: str | None,
        public_key: str,
        contact: str,
    ) -> Partner:
        if self.partner_by_code(agency_id, code) is not None:
            raise Conflict("%(code)s is already a partner", code=code)
        row = PartnerRow(
            id=str(uuid.uuid4()),
            agency_id=agency_id,
            code=code,
            name=name,
            base_url=base_url,
            public_key=public_key,
            contact=contact,
            created_at=datetime.now(UTC),
            cursor=0,
            failures=0,
        )
        self._s.add(row)
        self._s.flush()
        return _partner(row)

    def partners(self, agency_id: str) -> builtins.list[Partner]:
        rows = self._s.scalars(
            select(PartnerRow).where(PartnerRow.agency_id == agency_id).order_by(PartnerRow.code)
        )
        return [_partner(r) for r in rows]

    def all_partners(self) -> builtins.list[Partner]:
        return [_partner(r) for r in self._s.scalars(select(PartnerRow).order_by(PartnerRow.code))]

    def _partner_row(self, agency_id: str, partner_id: str) -> PartnerRow:
        row = self._s.get(PartnerRow, partner_id)
        if row is None or row.agency_id != agency_id:
            raise NotFound("partner not found")
        return row

    def get_partner(self, agency_id: str, partner_id: str) -> Partner:
        return _partner(self._partner_row(agency_id, partner_id))

    def lock_partner(self, agency_id: str, partner_id: str) -> Partner:
        """The partner as it is now, its row locked until the transaction ends (PostgreSQL;
        a SQLite write transaction holds the whole database already)."""
        row = self._s.get(PartnerRow, partner_id, with_for_update=True, populate_existing=True)
        if row is None or row.agency_id != agency_id:
            raise NotFound("partner not found")
        return _partner(row)

    def partner_by_code(self, agency_id: str, code: str) -> Partner | None:
        row = self._s.scalar(
            select(PartnerRow).where(PartnerRow.agency_id == agency_id, PartnerRow.code == code)
        )
        return _partner(row) if row else None

    def remove_partner(self, agency_id: str, partner_id: str) -> None:
        row = self._partner_row(agency_id, partner_id)
        live = self._s.scalar(
            select(AgreementRow.id).where(
                AgreementRow.partner_id == partner_id,
                AgreementRow.status.in_(["proposed", "active", "suspended"]),
            )
        )
        if live:
            raise Conflict("terminate the agreements with this partner first")
        for table in (SyncLogRow, PartnerSignalRow):
            self._s.execute(delete(table).where(table.partner_id == partner_id))
        self._s.execute(delete(AgreementRow).where(AgreementRow.partner_id == partner_id))
        self._s.delete(row)
        self._s.flush()

    def record_sync(
        self,
        partner_id: str,
        *,
        at: datetime,
        outcome: str,
        detail: Message,
        cursor: int | None = None,
        imported: int = 0,
        retracted: int = 0,
        next_sync_at: datetime | None = None,
    ) -> None:
        row = self._s.get(PartnerRow, partner_id)
        if row is None:
            raise NotFound("partner not found")
        row.last_sync_at = at
        row.next_sync_at = next_sync_at
        if outcome == "ok":
            row.last_ok_at, row.failures = at, 0
            row.last_error = row.last_error_json = None
            if cursor is not None:
                row.cursor = cursor
        else:
            row.last_error, row.last_error_json = detail.english()[:2000], dump_message(detail)
            row.failures = (row.failures or 0) + (1 if outcome == "unreachable" else 0)
        self._s.add(
            SyncLogRow(
                partner_id=partner_id,
                at=at,
                outcome=outcome,
                detail=detail.english()[:2000],  # for the command line and older readers
                detail_json=dump_message(detail),
                imported=imported,
                retracted=retracted,
            )
        )
        self._s.flush()

    def record_witnessed_head(self, partner_id: str, head: str, at: datetime) -> None:
        row = self._s.get(PartnerRow, partner_id)
        if row is None:
            raise NotFound("partner not found")
        row.witnessed_head, row.witnessed_at = head, at
        self._s.flush()

    # --- replay protection -------------------------------------------------------------------

    def remember_nonce(self, agency_id: str, partner_id: str, nonce: str, at: datetime) -> bool:
        """Record a nonce; False when it was already there (in a savepoint, so that two
        deliveries of the same document at once are told apart by the primary key)."""
        if self._s.get(ExchangeNonceRow, (agency_id, partner_id, nonce)) is not None:
            return False
        try:
            with self._s.begin_nested():
                self._s.add(
                    ExchangeNonceRow(
                        agency_id=agency_id, partner_id=partner_id, nonce=nonce, seen_at=at
                    )
                )
        except IntegrityError:
            return False
        return True

    def forget_nonces(self, before: datetime) -> int:
        result = self._s.execute(delete(ExchangeNonceRow).where(ExchangeNonceRow.seen_at < before))
        return int(getattr(result, "rowcount", 0) or 0)

    def sync_log(self, partner_id: str, limit: int = 20) -> builtins.list[SyncRecord]:
        rows = self._s.scalars(
            select(SyncLogRow)
            .where(SyncLogRow.partner_id == partner_id)
            .order_by(SyncLogRow.id.desc())
            .limit(limit)
        )
        return [
            SyncRecord(
                _aware(r.at) or r.at,
                r.outcome,
                load_message(r.detail_json, r.detail) or Message("—", before_translation=True),
                r.imported,
                r.retracted,
            )
            for r in rows
        ]

    # --- agreements --------------------------------------------------------------------------

    def add_agreement(self, agreement: Agreement) -> None:
        if self._s.get(AgreementRow, (agreement.id, agreement.agency_id)) is not None:
            raise Conflict("this agreement is already known")
        self._s.add(
            AgreementRow(
                id=agreement.id,
                agency_id=agreement.agency_id,
                partner_id=agreement.partner_id,
                role=agreement.role,
                status=agreement.status.value,
                terms_json=json.dumps(agreement.terms.as_dict(), sort_keys=True),
                created_at=agreement.created_at,
                changed_at=agreement.changed_at,
            )
        )
        self._s.flush()

    def agreements(self, agency_id: str, partner_id: str | None = None) -> builtins.list[Agreement]:
        query = select(AgreementRow).where(AgreementRow.agency_id == agency_id)
        if partner_id is not None:
            query = query.where(AgreementRow.partner_id == partner_id)
        return [_agreement(r) for r in self._s.scalars(query.order_by(AgreementRow.created_at))]

    def get_agreement(self, agency_id: str, agreement_id: str) -> Agreement:
        row = self._s.get(AgreementRow, (agreement_id, agency_id))
        if row is None:
            raise NotFound("agreement not found")
        return _agreement(row)

    def set_agreement_status(
        self, agency_id: str, agreement_id: str, status: AgreementStatus, when: datetime
    ) -> None:
        row = self._s.get(AgreementRow, (agreement_id, agency_id))
        if row is None:
            raise NotFound("agreement not found")
        row.status, row.changed_at = status.value, when
        self._s.flush()

    # --- the outbox --------------------------------------------------------------------------

    def add_event(
        self,
        agency_id: str,
        *,
        kind: EventKind,
        signal_type: str,
        value: str,
        labels: Labels,
        decision: dict[str, object] | None,
        when: datetime,
        origin: str | None = None,
        tlp_floor: str | None = None,
    ) -> None:
        self._take_turn()
        self._s.add(
            ExchangeEventRow(
                agency_id=agency_id,
                kind=kind.value,
                signal_type=signal_type,
                value=value,
                labels_json=json.dumps(labels.as_dict(), sort_keys=True),
                decision_json=json.dumps(decision, sort_keys=True) if decision else None,
                created_at=when,
                origin=origin,
                tlp_floor=tlp_floor,
            )
        )

    def add_events(
        self,
        agency_id: str,
        *,
        kind: EventKind,
        entries: Sequence[tuple[str, str, Labels, str | None]],
        decision: dict[str, object] | None,
        when: datetime,
    ) -> None:
        """Many events of one kind at once (the outbox of a bank import), in blocks of
        EVENT_BLOCK entries a row; each entry still has its own sequence number, in the
        order of `entries`, after the events already written."""
        if not entries:
            return
        decision_json = json.dumps(decision, sort_keys=True) if decision else None
        first = self._reserve(len(entries))
        labels_at: dict[Labels, int] = {}
        rows = []
        for start in range(0, len(entries), EVENT_BLOCK):
            block = entries[start : start + EVENT_BLOCK]
            texts: list[str] = []
            labels_at.clear()
            body = []
            last_labels: tuple[Labels | None, int] = (None, 0)
            for signal_type, value, labels, tlp_floor in block:
                if labels is last_labels[0]:  # an import's entries share one (hashing is slow)
                    place = last_labels[1]
                else:
                    found = labels_at.get(labels)
                    if found is None:
                        found = labels_at[labels] = len(texts)
                        texts.append(json.dumps(labels.as_dict(), sort_keys=True))
                    place = found
                    last_labels = (labels, place)
                body.append((signal_type, value, place, tlp_floor))
            entries_json = json.dumps({"labels": texts, "entries": body}, separators=(",", ":"))
            last = first + start + len(block) - 1
            span = len(block)
            rows.append(
                (last, agency_id, kind.value, "", "", "{}", decision_json, when, span, entries_json)
            )
        insert_values(self._s, ExchangeEventRow, BLOCK_COLUMNS, rows)

    def _reserve(self, count: int) -> int:
        """The first of `count` consecutive sequence numbers for the caller's events, none of
        them given to any other event. SQLite: the write lock is held, and a row's number is
        the highest so far plus one. PostgreSQL: the outbox is locked against other writers
        until the transaction ends (`_take_turn`), then the sequence is moved past the
        numbers taken."""
        self._s.flush()  # events pending in the session take their numbers first
        if not self._postgres:
            top = self._s.scalar(select(func.max(ExchangeEventRow.seq)))
            return int(top or 0) + 1
        self._take_turn()
        sequence = "pg_get_serial_sequence('exchange_events', 'seq')"
        first = int(self._s.scalar(text(f"SELECT nextval({sequence})")) or 0)
        self._s.execute(text(f"SELECT setval({sequence}, :last)"), {"last": first + count - 1})
        return first

    def _take_turn(self) -> None:
        """Writers of the outbox take turns until their transactions end, so that numbers
        are committed in the order they are drawn: a partner's cursor moves past the highest
        number it was given, and an event numbered before it but committed after would never
        reach that partner. SQLite's write lock already does this; on PostgreSQL the outbox
        is locked against other writers (readers are not held). The bank generation's row is
        taken first, as writers of bank entries take it before they write to the outbox: no
        two writers can each hold the lock the other waits for. Taken again, it is a no-op."""
        if self._postgres and not self._turn_taken():
            generation = select(BankGenerationRow.id).where(BankGenerationRow.id == 1)
            self._s.execute(generation.with_for_update())
            self._s.execute(text("LOCK TABLE exchange_events IN SHARE ROW EXCLUSIVE MODE"))
            self._s.info[_OUTBOX_TURN] = self._s.get_transaction()

    def _turn_taken(self) -> bool:
        return self._s.info.get(_OUTBOX_TURN) is self._s.get_transaction()

    @property
    def _postgres(self) -> bool:
        return self._s.get_bind().dialect.name == "postgresql"

    def events_after(self, agency_id: str, cursor: int, limit: int) -> builtins.list[OutboxEvent]:
        """Up to `limit` events of the agency after `cursor`, in order; a block read from
        the entry after the cursor when the cursor falls inside it."""
        self._s.flush()
        rows = self._s.scalars(
            select(ExchangeEventRow)
            .where(ExchangeEventRow.agency_id == agency_id, ExchangeEventRow.seq > cursor)
            .order_by(ExchangeEventRow.seq)
            .limit(limit)
        )
        found: builtins.list[OutboxEvent] = []
        for row in rows:
            if row.entries_json is None:
                found.append(_event(row, row.seq, row.signal_type, row.value, row.labels_json))
            else:
                found.extend(_block_events(row, cursor, limit - len(found)))
            if len(found) >= limit:
                break
        return found

    # --- holds and partners' notices ---------------------------------------------------------

    def add_hold(
        self, agency_id: str, case_id: str, *, reason: str, set_by: str, when: datetime
    ) -> None:
        self._s.add(
            ObservationHoldRow(
                id=str(uuid.uuid4()),
                agency_id=agency_id,
                case_id=case_id,
                reason=reason,
                set_by=set_by,
                set_at=when,
            )
        )
        self._s.flush()

    def lift_holds(self, agency_id: str, case_id: str, when: datetime) -> int:
        result = self._s.execute(
            update(ObservationHoldRow)
            .where(
                ObservationHoldRow.agency_id == agency_id,
                ObservationHoldRow.case_id == case_id,
                ObservationHoldRow.lifted_at.is_(None),
            )
            .values(lifted_at=when)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def case_holds(self, agency_id: str, case_id: str) -> builtins.list[ObservationHold]:
        rows = self._s.scalars(_case_holds(), {"agency_id": agency_id, "case_id": case_id})
        return [ObservationHold(r.reason, r.set_by, _aware(r.set_at) or r.set_at) for r in rows]

    def active_holds(
        self, agency_id: str, limit: int
    ) -> builtins.list[tuple[str, ObservationHold]]:
        rows = self._s.scalars(
            select(ObservationHoldRow)
            .where(
                ObservationHoldRow.agency_id == agency_id,
                ObservationHoldRow.lifted_at.is_(None),
            )
            .order_by(ObservationHoldRow.set_at.desc(), ObservationHoldRow.id)
            .limit(limit)
        )
        return [
            (r.case_id, ObservationHold(r.reason, r.set_by, _aware(r.set_at) or r.set_at))
            for r in rows
        ]

    def add_partner_signal(
        self,
        agency_id: str,
        partner_id: str,
        *,
        kind: str,
        signal_type: str,
        value: str,
        at: datetime,
    ) -> None:
        self._s.add(
            PartnerSignalRow(
                agency_id=agency_id,
                partner_id=partner_id,
                kind=kind,
                signal_type=signal_type,
                value=value,
                at=at,
            )
        )

    def lift_partner_signal(
        self, agency_id: str, partner_id: str, *, signal_type: str, value: str, at: datetime
    ) -> None:
        self._s.execute(
            update(PartnerSignalRow)
            .where(
                PartnerSignalRow.agency_id == agency_id,
                PartnerSignalRow.partner_id == partner_id,
                PartnerSignalRow.kind == "hold",
                PartnerSignalRow.signal_type == signal_type,
                PartnerSignalRow.value == value,
                PartnerSignalRow.lifted_at.is_(None),
            )
            .values(lifted_at=at)
        )

    def partner_signals(
        self, agency_id: str, signals: builtins.dict[str, str]
    ) -> builtins.list[PartnerNotice]:
        if not signals:
            return []
        same = [
            (PartnerSignalRow.signal_type == kind) & (PartnerSignalRow.value == value)
            for kind, value in signals.items()
        ]
        rows = self._s.execute(
            select(PartnerSignalRow, PartnerRow)
            .join(PartnerRow, PartnerRow.id == PartnerSignalRow.partner_id)
            .where(
                PartnerSignalRow.agency_id == agency_id,
                PartnerSignalRow.lifted_at.is_(None),
                # The values first, as a list: the planners read them from their index (an
                # OR of pairs alone let SQLite read every notice of the agency).
                PartnerSignalRow.value.in_(list(signals.values())),
                or_(*same),
            )
            .order_by(PartnerSignalRow.at)
        )
        return [
            PartnerNotice(
                partner_code=partner.code,
                partner_name=partner.name,
                contact=partner.contact,
                kind=notice.kind,
                signal_type=notice.signal_type,
                at=_aware(notice.at) or notice.at,
            )
            for notice, partner in rows
        ]

    def purge_expired(self, agency_id: str, now: datetime) -> int:
        banks = select(BankRow.id).where(BankRow.agency_id == agency_id)
        expired = select(BankEntryRow.id).where(
            BankEntryRow.bank_id.in_(banks),
            BankEntryRow.expires_at.is_not(None),
            BankEntryRow.expires_at < now,
        )
        return withdraw_entries(self._s, agency_id, expired)
