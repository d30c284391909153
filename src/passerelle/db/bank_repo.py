"""Banks and their entries in SQL."""

from __future__ import annotations

import builtins
import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Select, Table, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from passerelle.core.bank import Bank, BankEntry, BankKind, BankOrigin, NewEntry
from passerelle.core.errors import Conflict, NotFound
from passerelle.core.index.entry import IndexEntry
from passerelle.core.index.store import StaleIndex
from passerelle.core.marking import Distribution, Tlp, narrower, stricter
from passerelle.core.match import index_entry
from passerelle.core.signals import Signal
from passerelle.core.taxonomy import Category, Labels, Tier
from passerelle.db.models import (
    BankEntryRow,
    BankGenerationRow,
    BankRemovalFloorRow,
    BankRemovalRow,
    BankRow,
)

INDEX_BATCH = 20_000


def bump_generation(session: Session) -> int:
    """The next bank generation, taken in the caller's transaction (its row stays locked
    until the transaction ends, so generations commit in order)."""
    session.flush()
    session.execute(
        update(BankGenerationRow)
        .where(BankGenerationRow.id == 1)
        .values(generation=BankGenerationRow.generation + 1)
    )
    return int(
        session.scalar(select(BankGenerationRow.generation).where(BankGenerationRow.id == 1)) or 0
    )


def withdraw_entries(session: Session, agency_id: str, chosen: Select[Any]) -> int:
    """Delete the entries whose ids `chosen` selects, recording each withdrawal for the match
    indexes, in one bank generation. Returns how many went."""
    ids = builtins.list(session.scalars(chosen))
    if not ids:
        return 0
    generation = bump_generation(session)
    for chunk in range(0, len(ids), 500):
        part = ids[chunk : chunk + 500]
        session.execute(
            insert(BankRemovalRow),
            [{"entry_id": i, "agency_id": agency_id, "generation": generation} for i in part],
        )
        session.execute(delete(BankEntryRow).where(BankEntryRow.id.in_(part)))
    return len(ids)


def _chunks(
    items: builtins.list[tuple[str, str]], size: int
) -> Iterator[builtins.list[tuple[str, str]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _to_bank(row: BankRow) -> Bank:
    return Bank(
        id=row.id,
        agency_id=row.agency_id,
        name=row.name,
        kind=BankKind(row.kind),
        origin=BankOrigin(row.origin),
        description=row.description,
        thresholds={k: float(v) for k, v in json.loads(row.thresholds_json).items()},
        created_at=row.created_at,
    )


def _to_entry(row: BankEntryRow) -> BankEntry:
    return BankEntry(
        id=row.id,
        bank_id=row.bank_id,
        signal=Signal(row.signal_type, row.value, row.quality),
        labels=Labels(
            category=Category(row.category) if row.category else None,
            tier=Tier(row.tier) if row.tier else None,
            tags=frozenset(json.loads(row.tags_json)),
        ),
        note=row.note,
        added_at=row.added_at,
        tlp=Tlp(row.tlp) if row.tlp else None,
        distribution=Distribution(row.distribution) if row.distribution else None,
    )


def _stricter(one: Tlp | None, other: Tlp | None) -> Tlp | None:
    """Of two markings of one entry, the stricter (unmarked yields to a marking)."""
    return other if one is None else stricter(one, other)


class SqlBankRepo:
    def __init__(self, session: Session) -> None:
        self._s = session

    def add(
        self,
        *,
        agency_id: str,
        name: str,
        kind: BankKind,
        origin: BankOrigin,
        description: str,
        thresholds: dict[str, float],
    ) -> Bank:
        exists = select(BankRow.id).where(BankRow.agency_id == agency_id, BankRow.name == name)
        if self._s.scalar(exists):
            raise Conflict(f"a bank named {name!r} already exists")
        row = BankRow(
            id=str(uuid.uuid4()),
            agency_id=agency_id,
            name=name,
            kind=kind.value,
            origin=origin.value,
            description=description,
            thresholds_json=json.dumps(thresholds, sort_keys=True),
            created_at=datetime.now(UTC),
        )
        self._s.add(row)
        self._s.flush()
        bump_generation(self._s)
        return _to_bank(row)

    def get_by_name(self, agency_id: str, name: str) -> Bank:
        row = self._s.scalar(
            select(BankRow).where(BankRow.agency_id == agency_id, BankRow.name == name)
        )
        if row is None:
            raise NotFound(f"no bank named {name!r}")
        return _to_bank(row)

    def list(self, agency_id: str) -> builtins.list[Bank]:
        rows = self._s.scalars(
            select(BankRow).where(BankRow.agency_id == agency_id).order_by(BankRow.name)
        )
        return [_to_bank(r) for r in rows]

    def add_entries(
        self, bank_id: str, entries: builtins.list[NewEntry]
    ) -> builtins.list[NewEntry]:
        """Insert the entries the bank does not hold yet; return those. An entry held already
        that arrives again under a stricter marking (or a narrower distribution) takes it:
        the strictest marking wins."""
        fresh: dict[tuple[str, str], NewEntry] = {}
        for entry in entries:
            key = (entry.signal.type, entry.signal.value)
            seen = fresh.get(key)
            if seen is None:
                fresh[key] = entry
            elif seen.tlp != entry.tlp or seen.distribution != entry.distribution:
                fresh[key] = replace(
                    seen,
                    tlp=_stricter(seen.tlp, entry.tlp),
                    distribution=narrower(seen.distribution, entry.distribution),
                )
        for chunk in _chunks(builtins.list(fresh), 500):
            held = self._s.execute(
                select(
                    BankEntryRow.id,
                    BankEntryRow.signal_type,
                    BankEntryRow.value,
                    BankEntryRow.tlp,
                    BankEntryRow.distribution,
                ).where(
                    BankEntryRow.bank_id == bank_id,
                    BankEntryRow.value.in_([value for _, value in chunk]),
                )
            )
            for row_id, signal_type, value, tlp, distribution in held:
                incoming = fresh.pop((signal_type, value), None)
                if incoming is not None:
                    self._tighten(row_id, Tlp(tlp) if tlp else None, distribution, incoming)
        now = datetime.now(UTC)
        generation = bump_generation(self._s) if fresh else 0
        rows = [
            {
                "id": str(uuid.uuid4()),
                "bank_id": bank_id,
                "signal_type": e.signal.type,
                "value": e.signal.value,
                "quality": e.signal.quality,
                "source_value": e.source_value,
                "category": e.labels.category.value if e.labels.category else None,
                "tier": e.labels.tier.value if e.labels.tier else None,
                "tags_json": json.dumps(sorted(e.labels.tags)),
                "note": e.note,
                "added_at": now,
                "expires_at": e.expires_at,
                "provenance": e.provenance,
                "generation": generation,
                "tlp": e.tlp.value if e.tlp else None,
                "distribution": e.distribution.value if e.distribution else None,
            }
            for e in fresh.values()
        ]
        if rows:
            # The table's own insert: SQLAlchemy's ORM bulk path costs as much again per row.
            self._s.flush()
            self._s.execute(insert(cast(Table, BankEntryRow.__table__)), rows)
        return builtins.list(fresh.values())

    def _tighten(
        self, row_id: str, tlp: Tlp | None, distribution: str | None, incoming: NewEntry
    ) -> None:
        held = Distribution(distribution) if distribution else None
        tighter_tlp = _stricter(tlp, incoming.tlp)
        # An own entry (no distribution) stays own; a received one only ever narrows.
        narrow = narrower(held, incoming.distribution) if held is not None else None
        if tighter_tlp is not tlp or narrow is not held:
            self._s.execute(
                update(BankEntryRow)
                .where(BankEntryRow.id == row_id)
                .values(
                    tlp=tighter_tlp.value if tighter_tlp else None,
                    distribution=narrow.value if narrow else None,
                )
            )

    def remove_entry(self, bank_id: str, signal_type: str, value: str) -> BankEntry:
        row = self._s.scalar(
            select(BankEntryRow).where(
                BankEntryRow.bank_id == bank_id,
                BankEntryRow.signal_type == signal_type,
                BankEntryRow.value == value,
            )
        )
        if row is None:
            raise NotFound(f"no {signal_type} entry {value[:16]}… in this bank")
        entry = _to_entry(row)
        agency_id = self._s.scalar(select(BankRow.agency_id).where(BankRow.id == bank_id))
        withdraw_entries(
            self._s, str(agency_id), select(BankEntryRow.id).where(BankEntryRow.id == row.id)
        )
        self._s.expunge(row)
        return entry

    def entries(self, bank_ids: builtins.list[str]) -> Iterator[BankEntry]:
        if not bank_ids:
            return
        query = (
            select(BankEntryRow)
            .where(BankEntryRow.bank_id.in_(bank_ids))
            .order_by(BankEntryRow.added_at, BankEntryRow.id)
            .execution_options(yield_per=5000)
        )
        for row in self._s.execute(query).scalars():
            yield _to_entry(row)

    def entries_page(
        self,
        bank_id: str,
        *,
        added_after: datetime | None,
        offset: int,
        limit: int,
        withheld: frozenset[str] = frozenset(),
    ) -> builtins.list[BankEntry]:
        """Entries in the order they were added (then by id), after a time, one page."""
        query = select(BankEntryRow).where(BankEntryRow.bank_id == bank_id)
        if withheld:
            unmarked = BankEntryRow.tlp.is_(None)  # NULL NOT IN (…) would drop them
            query = query.where(or_(unmarked, BankEntryRow.tlp.not_in(sorted(withheld))))
        if added_after is not None:
            query = query.where(BankEntryRow.added_at > added_after)
        query = query.order_by(BankEntryRow.added_at, BankEntryRow.id).offset(offset).limit(limit)
        return [_to_entry(row) for row in self._s.scalars(query)]

    def get_entry(self, bank_id: str, entry_id: str) -> BankEntry:
        row = self._s.scalar(
            select(BankEntryRow).where(BankEntryRow.bank_id == bank_id, BankEntryRow.id == entry_id)
        )
        if row is None:
            raise NotFound("no such entry in this bank")
        return _to_entry(row)

    def source_values(self, bank_id: str) -> builtins.dict[str, str]:
        rows = self._s.execute(
            select(BankEntryRow.value, BankEntryRow.source_value).where(
                BankEntryRow.bank_id == bank_id, BankEntryRow.source_value.is_not(None)
            )
        )
        return {value: source for value, source in rows if source}

    def count_entries(self, bank_id: str) -> int:
        count = self._s.scalar(
            select(func.count()).select_from(BankEntryRow).where(BankEntryRow.bank_id == bank_id)
        )
        return int(count or 0)

    # --- what the match indexes read ---------------------------------------------------------

    def generation(self) -> int:
        """The current bank generation (one row read)."""
        return int(
            self._s.scalar(select(BankGenerationRow.generation).where(BankGenerationRow.id == 1))
            or 0
        )

    def index_entries(self, agency_id: str, *, after: int, upto: int) -> Iterator[IndexEntry]:
        """Every entry of the agency's banks added in a generation in (after, upto], as the
        match index keeps it; read as plain rows, without the ORM."""
        query = (
            select(
                BankEntryRow.id,
                BankEntryRow.bank_id,
                BankEntryRow.signal_type,
                BankEntryRow.value,
                BankEntryRow.quality,
                BankEntryRow.category,
                BankEntryRow.tier,
                BankEntryRow.tags_json,
            )
            .join(BankRow, BankRow.id == BankEntryRow.bank_id)
            .where(
                BankRow.agency_id == agency_id,
                BankEntryRow.generation > after,
                BankEntryRow.generation <= upto,
            )
            .execution_options(yield_per=INDEX_BATCH)
        )
        labels: dict[tuple[str | None, str | None, str], Labels] = {}
        for entry_id, bank_id, kind, value, quality, category, tier, tags in self._s.execute(query):
            key = (category, tier, tags)
            label = labels.get(key)
            if label is None:
                label = labels[key] = Labels(
                    category=Category(category) if category else None,
                    tier=Tier(tier) if tier else None,
                    tags=frozenset(json.loads(tags)),
                )
            # A video entry carries its frames (built as the matcher builds them).
            yield index_entry(entry_id, bank_id, Signal(kind, value, quality), label)

    def removed_entries(self, agency_id: str, *, after: int, upto: int) -> builtins.list[str]:
        """Ids of the agency's entries withdrawn in a generation in (after, upto].
        `StaleIndex` when some of them were pruned already (`after` is below the floor):
        the caller rebuilds. The floor is read after the rows, so that a prune committed
        between the two reads is seen (PostgreSQL reads each statement's own snapshot)."""
        ids = builtins.list(
            self._s.scalars(
                select(BankRemovalRow.entry_id).where(
                    BankRemovalRow.agency_id == agency_id,
                    BankRemovalRow.generation > after,
                    BankRemovalRow.generation <= upto,
                )
            )
        )
        floor = self.removals_floor(agency_id)
        if floor > after:
            raise StaleIndex(
                f"withdrawals up to generation {floor} were pruned; the index is at {after}"
            )
        return ids

    def removals_floor(self, agency_id: str) -> int:
        """The generation up to which the agency's withdrawals were pruned (0: none)."""
        return int(
            self._s.scalar(
                select(BankRemovalFloorRow.generation).where(
                    BankRemovalFloorRow.agency_id == agency_id
                )
            )
            or 0
        )

    def prune_removals(self, agency_id: str, *, upto: int) -> int:
        """Forget the agency's withdrawals of generations up to `upto` (folded into its
        index) and raise its floor to `upto`, in the caller's transaction. Returns how many
        rows went."""
        floor = self._s.get(BankRemovalFloorRow, agency_id, with_for_update=True)
        if floor is None:
            self._s.add(BankRemovalFloorRow(agency_id=agency_id, generation=upto))
        elif floor.generation < upto:
            floor.generation = upto
        else:
            return 0
        gone = self._s.execute(
            delete(BankRemovalRow).where(
                BankRemovalRow.agency_id == agency_id, BankRemovalRow.generation <= upto
            )
        )
        self._s.flush()
        return int(getattr(gone, "rowcount", 0) or 0)
