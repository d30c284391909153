"""Banks and their entries in SQL."""

from __future__ import annotations

import builtins
import hashlib
import json
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    Select,
    Text,
    and_,
    any_,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from passerelle.core.bank import (
    Bank,
    BankEntry,
    BankKind,
    BankOrigin,
    BankSummary,
    EntryQuery,
    EntryState,
    ListedEntry,
    NewEntry,
)
from passerelle.core.errors import Conflict, NotFound
from passerelle.core.index.entry import IndexEntry
from passerelle.core.index.store import StaleIndex
from passerelle.core.marking import Distribution, Tlp, narrower, stricter
from passerelle.core.match import index_entry
from passerelle.core.signals import Signal
from passerelle.core.taxonomy import Category, Labels, Tier
from passerelle.db.bulk import insert_values
from passerelle.db.ids import time_ordered_ids
from passerelle.db.models import (
    BankEntryCountRow,
    BankEntryRow,
    BankGenerationRow,
    BankRemovalFloorRow,
    BankRemovalRow,
    BankRow,
    BankWithdrawalRow,
)

INDEX_BATCH = 20_000
# How much of a value PostgreSQL's prefix-search index holds (migration 0032).
INDEXED_PREFIX = 64


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


ENTRY_COLUMNS = (
    "id",
    "bank_id",
    "signal_type",
    "value",
    "quality",
    "source_value",
    "category",
    "tier",
    "tags_json",
    "note",
    "added_at",
    "expires_at",
    "provenance",
    "generation",
    "tlp",
    "distribution",
)
LOOKUP_CHUNK = 5000  # values looked up by one query
UNIQUE_KEY = ("bank_id", "signal_type", "value")  # uq_bank_entries_signal


def _md5(value: str) -> str:
    return hashlib.md5(value.encode("utf-8"), usedforsecurity=False).hexdigest()


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


def _to_entry(row: BankEntryRow | BankWithdrawalRow) -> BankEntry:
    return BankEntry(
        id=row.entry_id if isinstance(row, BankWithdrawalRow) else row.id,
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

    @property
    def _postgres(self) -> bool:
        return self._s.get_bind().dialect.name == "postgresql"

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
            raise Conflict("a bank named %(name)s already exists", name=repr(name))
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

    def get(self, agency_id: str, bank_id: str) -> Bank:
        """A bank of the agency by its id; NotFound for another agency's."""
        row = self._s.scalar(
            select(BankRow).where(BankRow.agency_id == agency_id, BankRow.id == bank_id)
        )
        if row is None:
            raise NotFound("no such bank")
        return _to_bank(row)

    def get_by_name(self, agency_id: str, name: str) -> Bank:
        row = self._s.scalar(
            select(BankRow).where(BankRow.agency_id == agency_id, BankRow.name == name)
        )
        if row is None:
            raise NotFound("no bank named %(name)s", name=repr(name))
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
        if self._postgres:
            self._take_held(bank_id, fresh)
        if not fresh:
            return []
        now = datetime.now(UTC)
        generation = bump_generation(self._s)
        tags_json: dict[frozenset[str], str] = {}
        rows = []
        # In the order of the unique index (bank, type, value), with ids made in that order:
        # the values of an import are random, and inserted in file order each one landed on
        # a random page of the indexes that hold it; sorted, a chunk walks those pages once,
        # in order, and appends to the indexes of ids and times.
        ordered = sorted(fresh)
        for row_id, key in zip(time_ordered_ids(len(ordered)), ordered, strict=True):
            e = fresh[key]
            labels = e.labels
            tags = tags_json.get(labels.tags)
            if tags is None:
                tags = tags_json[labels.tags] = json.dumps(sorted(labels.tags))
            rows.append(
                (
                    row_id,
                    bank_id,
                    e.signal.type,
                    e.signal.value,
                    e.signal.quality,
                    e.source_value,
                    labels.category.value if labels.category else None,
                    labels.tier.value if labels.tier else None,
                    tags,
                    e.note,
                    now,
                    e.expires_at,
                    e.provenance,
                    generation,
                    e.tlp.value if e.tlp else None,
                    e.distribution.value if e.distribution else None,
                )
            )
        if self._postgres:
            insert_values(self._s, BankEntryRow, ENTRY_COLUMNS, rows)
        else:
            # SQLite's insert skips the values the bank holds already, found by the same
            # descent of the unique index that checks them: no lookup before (a million
            # values looked up cost more than their insert). Only when some were skipped
            # are they read back (older than this generation) to take the stricter marking.
            inserted = insert_values(
                self._s, BankEntryRow, ENTRY_COLUMNS, rows, skip_conflicts=UNIQUE_KEY
            )
            if inserted < len(rows):
                self._take_held(bank_id, fresh, before=generation)
                rows = [row for row in rows if (row[2], row[3]) in fresh]
        if rows:
            self._count_added(bank_id, rows)
        return builtins.list(fresh.values())

    def _take_held(
        self, bank_id: str, fresh: dict[tuple[str, str], NewEntry], *, before: int | None = None
    ) -> None:
        """Take out of `fresh` the entries the bank holds (added before generation `before`,
        when given), giving the held ones the stricter of the two markings."""
        by_type: dict[str, builtins.list[str]] = {}
        for signal_type, value in fresh:
            by_type.setdefault(signal_type, []).append(value)
        for signal_type, values in by_type.items():
            for start in range(0, len(values), LOOKUP_CHUNK):
                part = values[start : start + LOOKUP_CHUNK]
                for row_id, value, tlp, distribution in self._held(
                    bank_id, signal_type, part, before=before
                ):
                    incoming = fresh.pop((signal_type, value), None)
                    if incoming is not None:
                        self._tighten(row_id, Tlp(tlp) if tlp else None, distribution, incoming)

    def _held(
        self,
        bank_id: str,
        signal_type: str,
        values: builtins.list[str],
        *,
        before: int | None = None,
    ) -> builtins.list[tuple[str, str, str | None, str | None]]:
        """(id, value, marking, distribution) of the entries of the bank among `values`: the
        whole key of the bank's unique index (bank, type, value), so one range a value on
        both engines however large the bank. The values go as one parameter (a JSON array
        on SQLite, an array on PostgreSQL), not one each."""
        if self._postgres:
            # There the unique index holds md5(value) (migration 0020); the value is compared
            # too, for the rare two values of one MD5.
            same = and_(
                func.md5(BankEntryRow.value)
                == any_(bindparam("md5s", [_md5(v) for v in values], type_=ARRAY(Text))),
                BankEntryRow.value == any_(bindparam("values", values, type_=ARRAY(Text))),
            )
        else:
            each = func.json_each(bindparam("values", json.dumps(values))).table_valued("value")
            same = BankEntryRow.value.in_(select(each.c.value))
        rows = self._s.execute(
            select(
                BankEntryRow.id,
                BankEntryRow.value,
                BankEntryRow.tlp,
                BankEntryRow.distribution,
                BankEntryRow.generation,
            ).where(BankEntryRow.bank_id == bank_id, BankEntryRow.signal_type == signal_type, same)
        )
        # `before` is checked here, not in the query: there SQLite would take the range of
        # (bank, generation) and read every older entry of the bank.
        return [
            (row_id, value, tlp, distribution)
            for row_id, value, tlp, distribution, generation in rows
            if before is None or generation < before
        ]

    def _count_added(self, bank_id: str, rows: builtins.list[tuple[Any, ...]]) -> None:
        """The bank's kept counts raised by the rows just inserted (ENTRY_COLUMNS): one
        statement a key, not three a row (a trigger a row made an import of many entries
        twice as long), counted column by column. Deletions and changes are still counted by
        the triggers (migration 0034)."""
        added: Counter[tuple[str, str]] = Counter()
        for dimension, place in (("type", 2), ("tlp", 14), ("distribution", 15)):
            for key, n in Counter(map(itemgetter(place), rows)).items():
                added[dimension, key or ""] += n
        dialect_insert = postgresql_insert if self._postgres else sqlite_insert
        statement = dialect_insert(BankEntryCountRow).values(
            [
                {"bank_id": bank_id, "dimension": dimension, "key": key, "n": n}
                for (dimension, key), n in sorted(added.items())
            ]
        )
        self._s.execute(
            statement.on_conflict_do_update(
                index_elements=["bank_id", "dimension", "key"],
                set_={"n": BankEntryCountRow.n + statement.excluded.n},
            )
        )

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
            raise NotFound(
                "no %(signal_type)s entry %(value)s… in this bank",
                signal_type=signal_type,
                value=value[:16],
            )
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

    # --- what the console reads and changes ---------------------------------------------------

    def summaries(self, agency_id: str) -> builtins.list[BankSummary]:
        """Every bank of the agency with its counts, read from the counts the triggers keep
        (bank_entry_counts) and, per bank, from the ends of its indexes: nothing here reads
        every entry, however many a bank holds."""
        banks = self.list(agency_id)
        ids = [b.id for b in banks]
        counts: dict[str, dict[str, int]] = {i: {} for i in ids}
        markings: dict[str, dict[str | None, int]] = {i: {} for i in ids}
        spread: dict[str, dict[str | None, int]] = {i: {} for i in ids}
        newest: dict[str, tuple[int, datetime | None]] = {}
        withdrawn: dict[str, tuple[int, datetime | None]] = {}
        if ids:
            for bank_id, dimension, key, n in self._s.execute(
                select(
                    BankEntryCountRow.bank_id,
                    BankEntryCountRow.dimension,
                    BankEntryCountRow.key,
                    BankEntryCountRow.n,
                ).where(BankEntryCountRow.bank_id.in_(ids), BankEntryCountRow.n > 0)
            ):
                if dimension == "type":
                    counts[bank_id][key] = int(n)
                elif dimension == "tlp":
                    markings[bank_id][key or None] = int(n)
                else:
                    spread[bank_id][key or None] = int(n)
            for bank_id in ids:
                # Each one row read at the end of an index (bank_id, …).
                generation = self._s.scalar(
                    select(BankEntryRow.generation)
                    .where(BankEntryRow.bank_id == bank_id)
                    .order_by(BankEntryRow.generation.desc())
                    .limit(1)
                )
                added = self._s.scalar(
                    select(BankEntryRow.added_at)
                    .where(BankEntryRow.bank_id == bank_id)
                    .order_by(BankEntryRow.added_at.desc())
                    .limit(1)
                )
                newest[bank_id] = (int(generation or 0), _utc(added))
            for bank_id, n, moment in self._s.execute(
                select(
                    BankWithdrawalRow.bank_id,
                    func.count(),
                    func.max(BankWithdrawalRow.withdrawn_at),
                )
                .where(
                    BankWithdrawalRow.bank_id.in_(ids), BankWithdrawalRow.reinstated_at.is_(None)
                )
                .group_by(BankWithdrawalRow.bank_id)
            ):
                withdrawn[bank_id] = (int(n), _utc(moment))
        found = []
        for bank in banks:
            generation, last_added = newest.get(bank.id, (0, None))
            gone, last_gone = withdrawn.get(bank.id, (0, None))
            times = [t for t in (_utc(bank.created_at), last_added, last_gone) if t is not None]
            found.append(
                BankSummary(
                    bank=bank,
                    counts=counts[bank.id],
                    markings=markings[bank.id],
                    distributions=spread[bank.id],
                    generation=generation,
                    last_change=max(times) if times else None,
                    withdrawn=gone,
                )
            )
        return found

    def fresh_counts(self, bank_id: str) -> builtins.dict[tuple[str, str], int]:
        """The bank's counts counted afresh from its entries (reads every entry), keyed as
        bank_entry_counts keys them."""
        found: dict[tuple[str, str], int] = {}
        for name, column in (
            ("type", BankEntryRow.signal_type),
            ("tlp", func.coalesce(BankEntryRow.tlp, "")),
            ("distribution", func.coalesce(BankEntryRow.distribution, "")),
        ):
            for key, n in self._s.execute(
                select(column, func.count()).where(BankEntryRow.bank_id == bank_id).group_by(column)
            ):
                found[(name, str(key))] = int(n)
        return found

    def kept_counts(self, bank_id: str) -> builtins.dict[tuple[str, str], int]:
        """The counts the triggers keep for the bank (those above zero)."""
        rows = self._s.execute(
            select(BankEntryCountRow.dimension, BankEntryCountRow.key, BankEntryCountRow.n).where(
                BankEntryCountRow.bank_id == bank_id, BankEntryCountRow.n != 0
            )
        )
        return {(dimension, key): int(n) for dimension, key, n in rows}

    def recount(self, bank_id: str) -> bool:
        """Replace the bank's kept counts by a fresh count, in the caller's transaction
        (the bank's row is locked first, as every writer of its entries locks the bank
        generation). Returns whether they had drifted."""
        self._s.execute(select(BankRow.id).where(BankRow.id == bank_id).with_for_update())
        fresh = self.fresh_counts(bank_id)
        drifted = fresh != self.kept_counts(bank_id)
        if drifted:
            self._s.execute(delete(BankEntryCountRow).where(BankEntryCountRow.bank_id == bank_id))
            if fresh:
                self._s.execute(
                    insert(BankEntryCountRow),
                    [
                        {"bank_id": bank_id, "dimension": d, "key": k, "n": n}
                        for (d, k), n in fresh.items()
                    ],
                )
        return drifted

    def find_entries(
        self, bank_id: str, query: EntryQuery, *, now: datetime, limit: int
    ) -> builtins.list[ListedEntry]:
        """One page of a bank's entries in the state asked, newest first, by keyset."""
        if query.state is EntryState.WITHDRAWN:
            return self._find_withdrawn(bank_id, query, limit)
        table = BankEntryRow
        chosen = select(table).where(table.bank_id == bank_id)
        expired = and_(table.expires_at.is_not(None), table.expires_at <= now)
        if query.state is EntryState.EXPIRED:
            chosen = chosen.where(expired)
        else:
            chosen = chosen.where(or_(table.expires_at.is_(None), table.expires_at > now))
        if query.after is not None:
            moment, last_id = query.after
            chosen = chosen.where(
                or_(
                    table.added_at < moment,
                    and_(table.added_at == moment, table.id < last_id),
                )
            )
        if query.prefix and not query.signal_type and not self._postgres:
            # SQLite reads a prefix from the bank's unique key (bank, type, value): one query
            # a type the bank holds (a type equal, then a range), their pages merged.
            rows = []
            for signal_type in self._types_held(bank_id):
                one_type = replace(query, signal_type=signal_type)
                rows.extend(self._page(_filtered(chosen, table, one_type, postgres=False), limit))
            rows.sort(key=lambda row: (row.added_at, row.id), reverse=True)
            del rows[limit:]
        else:
            rows = self._page(_filtered(chosen, table, query, postgres=self._postgres), limit)
        return [
            ListedEntry(
                entry=_to_entry(row),
                moment=_utc(row.added_at) or now,
                source_value=row.source_value,
                provenance=row.provenance,
                expires_at=_utc(row.expires_at),
            )
            for row in rows
        ]

    def _page(self, chosen: Select[Any], limit: int) -> builtins.list[BankEntryRow]:
        """The first `limit` entries `chosen` selects, newest first."""
        table = BankEntryRow
        return builtins.list(
            self._s.scalars(chosen.order_by(table.added_at.desc(), table.id.desc()).limit(limit))
        )

    def _types_held(self, bank_id: str) -> builtins.list[str]:
        """The signal types of the bank's entries, from its kept counts (a few rows)."""
        return builtins.list(
            self._s.scalars(
                select(BankEntryCountRow.key)
                .where(
                    BankEntryCountRow.bank_id == bank_id,
                    BankEntryCountRow.dimension == "type",
                    BankEntryCountRow.n > 0,
                )
                .order_by(BankEntryCountRow.key)
            )
        )

    def _find_withdrawn(
        self, bank_id: str, query: EntryQuery, limit: int
    ) -> builtins.list[ListedEntry]:
        table = BankWithdrawalRow
        chosen = select(table).where(table.bank_id == bank_id, table.reinstated_at.is_(None))
        chosen = _filtered(chosen, table, query, postgres=self._postgres)
        if query.after is not None:
            moment, last_id = query.after
            chosen = chosen.where(
                or_(
                    table.withdrawn_at < moment,
                    and_(table.withdrawn_at == moment, table.id < last_id),
                )
            )
        chosen = chosen.order_by(table.withdrawn_at.desc(), table.id.desc()).limit(limit)
        return [_withdrawn(row) for row in self._s.scalars(chosen)]

    def withdraw_entry(
        self, bank_id: str, entry_id: str, *, reason: str, withdrawn_by: str, now: datetime
    ) -> BankEntry:
        """Take an entry out of the bank (the indexes follow by the bank generation) and keep
        it, with the reason, among the bank's withdrawn entries."""
        row = self._s.scalar(
            select(BankEntryRow).where(BankEntryRow.bank_id == bank_id, BankEntryRow.id == entry_id)
        )
        if row is None:
            raise NotFound("no such entry in this bank")
        entry = _to_entry(row)
        self._s.add(
            BankWithdrawalRow(
                id=str(uuid.uuid4()),
                bank_id=bank_id,
                entry_id=row.id,
                signal_type=row.signal_type,
                value=row.value,
                quality=row.quality,
                source_value=row.source_value,
                category=row.category,
                tier=row.tier,
                tags_json=row.tags_json,
                note=row.note,
                tlp=row.tlp,
                distribution=row.distribution,
                added_at=row.added_at,
                withdrawn_at=now,
                withdrawn_by=withdrawn_by,
                reason=reason,
            )
        )
        agency_id = self._s.scalar(select(BankRow.agency_id).where(BankRow.id == bank_id))
        withdraw_entries(
            self._s, str(agency_id), select(BankEntryRow.id).where(BankEntryRow.id == row.id)
        )
        self._s.expunge(row)
        return entry

    def get_withdrawal(self, bank_id: str, withdrawal_id: str) -> ListedEntry:
        """A withdrawn entry not reinstated yet; NotFound otherwise."""
        row = self._s.scalar(
            select(BankWithdrawalRow).where(
                BankWithdrawalRow.bank_id == bank_id,
                BankWithdrawalRow.id == withdrawal_id,
            )
        )
        if row is None:
            raise NotFound("no such withdrawn entry in this bank")
        if row.reinstated_at is not None:
            raise Conflict("this entry was reinstated already")
        return _withdrawn(row)

    def mark_reinstated(self, withdrawal_id: str, *, reinstated_by: str, now: datetime) -> None:
        self._s.execute(
            update(BankWithdrawalRow)
            .where(BankWithdrawalRow.id == withdrawal_id)
            .values(reinstated_at=now, reinstated_by=reinstated_by)
        )

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
        # Through the session's connection, not the session: plain rows, without the ORM's
        # handling of each (half the time of reading a million entries).
        rows = self._s.connection().execute(query)
        for entry_id, bank_id, kind, value, quality, category, tier, tags in rows:
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


def _utc(moment: datetime | None) -> datetime | None:
    """SQLite gives times back without their zone: they are UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _next_prefix(prefix: str) -> str:
    """The smallest string above every string that begins with `prefix`."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _filtered(
    chosen: Select[Any],
    table: type[BankEntryRow] | type[BankWithdrawalRow],
    query: EntryQuery,
    *,
    postgres: bool,
) -> Select[Any]:
    if query.value is not None:
        chosen = chosen.where(table.value == query.value)
    if query.prefix:
        # A range on the value (a LIKE reads every entry): the values in [prefix, next
        # prefix) in byte order are those that begin with the prefix (lower-case
        # hexadecimal). SQLite reads it from the bank's unique index (bank, type, value), the
        # type given (find_entries asks each type; migration 0039). PostgreSQL's unique index
        # holds the MD5 of the value: there it is read from ix_bank_entries_bank_value, which
        # holds the first 64 characters in the "C" collation (a video's value is too long for
        # a B-tree row): the range is taken on that same expression, then on the whole value
        # for a longer prefix.
        if postgres:
            head: Any = func.left(table.value, literal_column(str(INDEXED_PREFIX))).collate("C")
            start = query.prefix[:INDEXED_PREFIX]
            chosen = chosen.where(head >= start, head < _next_prefix(start))
        if not postgres or len(query.prefix) > INDEXED_PREFIX:
            column: Any = table.value.collate("C") if postgres else table.value
            chosen = chosen.where(column >= query.prefix, column < _next_prefix(query.prefix))
    if query.signal_type:
        chosen = chosen.where(table.signal_type == query.signal_type)
    if query.category:
        chosen = chosen.where(table.category == query.category)
    if query.tier:
        chosen = chosen.where(table.tier == query.tier)
    if query.tag:
        quoted = json.dumps(query.tag, ensure_ascii=True)
        chosen = chosen.where(table.tags_json.like("%" + _like(quoted) + "%", escape="\\"))
    return chosen


def _withdrawn(row: BankWithdrawalRow) -> ListedEntry:
    return ListedEntry(
        entry=_to_entry(row),
        moment=_utc(row.withdrawn_at) or row.withdrawn_at,
        source_value=row.source_value,
        withdrawal_id=row.id,
        withdrawn_by=row.withdrawn_by,
        reason=row.reason,
    )
