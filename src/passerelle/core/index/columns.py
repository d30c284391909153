"""The columns of a match index: every entry of an agency's banks as NumPy arrays (ids,
banks, labels, exact keys, PDQ codes with their owner and time, text signatures), the
catalogue of banks, labels and kinds those arrays point into, and how columns are built
from entries, merged, and given their PDQ multi-index tables. `store` keeps them in memory
or on disk and searches them."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from passerelle.core.bank import Bank, BankKind, BankOrigin
from passerelle.core.index.entry import IndexEntry
from passerelle.core.index.mih import WORDS, MihTables, build_tables
from passerelle.core.signals.text import NUM_PERM
from passerelle.core.taxonomy import Category, Labels, Tier

ID_WIDTH = 36
VALUE_WIDTH = 64
# A segment with fewer PDQ rows is searched by brute force (faster than probing tables).
TABLES_FROM = 4096
EXACT_TYPES = frozenset({"sha256", "md5", "url"})
NO_TIME = math.nan


def pdq_codes(values: Sequence[str]) -> np.ndarray:
    if not values:
        return np.empty((0, WORDS), dtype=np.uint64)
    return np.frombuffer(bytes.fromhex("".join(values)), dtype="<u8").reshape(-1, WORDS).copy()


def _hex_of_code(code: np.ndarray) -> str:
    return np.ascontiguousarray(code, dtype="<u8").tobytes().hex()


@dataclass(slots=True)
class Columns:
    """The arrays of one segment (in memory or memory-mapped)."""

    entry_ids: np.ndarray  # S36
    bank: np.ndarray  # uint16: slot in the header's banks
    label: np.ndarray  # uint32: slot in the header's label table
    kind: np.ndarray  # uint8: slot in the header's signal types
    value: np.ndarray  # S64: the value (text values come back from text_sigs)
    pdq_codes: np.ndarray  # uint64 (m, 4)
    pdq_row: np.ndarray  # int64 (m,): the entry the hash belongs to
    pdq_at: np.ndarray  # float64 (m,): frame time, NaN for an image
    text_sigs: np.ndarray  # uint32 (k, 128)
    text_row: np.ndarray  # int64 (k,)
    long_row: np.ndarray  # int64: rows whose value is longer than VALUE_WIDTH (a video's)
    long_end: np.ndarray  # int64: where each of those values ends in `long_values`
    long_values: np.ndarray  # uint8: those values, UTF-8, one after the other
    exact: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    tables: MihTables | None = None

    def __len__(self) -> int:
        return len(self.entry_ids)


ARRAYS = (
    "entry_ids",
    "bank",
    "label",
    "kind",
    "value",
    "pdq_codes",
    "pdq_row",
    "pdq_at",
    "text_sigs",
    "text_row",
    "long_row",
    "long_end",
    "long_values",
)


@dataclass(slots=True)
class Catalogue:
    """The small tables the rows point into (banks, labels, signal types), append-only so
    that the slots of rows already written never move."""

    banks: list[Bank] = field(default_factory=list)
    labels: list[Labels] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    _bank_slot: dict[str, int] = field(default_factory=dict)
    _label_slot: dict[Labels, int] = field(default_factory=dict)
    _kind_slot: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._bank_slot = {b.id: i for i, b in enumerate(self.banks)}
        self._label_slot = {label: i for i, label in enumerate(self.labels)}
        self._kind_slot = {k: i for i, k in enumerate(self.kinds)}

    def set_banks(self, banks: Iterable[Bank]) -> None:
        """Take the current banks: known ones are updated in place, new ones appended."""
        for bank in banks:
            slot = self._bank_slot.get(bank.id)
            if slot is None:
                self._bank_slot[bank.id] = len(self.banks)
                self.banks.append(bank)
            else:
                self.banks[slot] = bank

    def bank_slot(self, bank_id: str) -> int:
        return self._bank_slot[bank_id]

    def label_slot(self, labels: Labels) -> int:
        slot = self._label_slot.get(labels)
        if slot is None:
            slot = self._label_slot[labels] = len(self.labels)
            self.labels.append(labels)
        return slot

    def kind_slot(self, kind: str) -> int:
        slot = self._kind_slot.get(kind)
        if slot is None:
            slot = self._kind_slot[kind] = len(self.kinds)
            self.kinds.append(kind)
        return slot

    def as_json(self) -> dict[str, object]:
        return {
            "banks": [b.as_dict(description=False) for b in self.banks],
            "labels": [
                [
                    label.category.value if label.category else None,
                    label.tier.value if label.tier else None,
                    sorted(label.tags),
                ]
                for label in self.labels
            ],
            "kinds": self.kinds,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Catalogue:
        banks = [
            Bank(
                id=b["id"],
                agency_id=b["agency_id"],
                name=b["name"],
                kind=BankKind(b["kind"]),
                origin=BankOrigin(b["origin"]),
                description="",
                thresholds={k: float(v) for k, v in b["thresholds"].items()},
            )
            for b in data["banks"]  # type: ignore[attr-defined]
        ]
        labels = [
            Labels(
                category=Category(c) if c else None,
                tier=Tier(t) if t else None,
                tags=frozenset(tags),
            )
            for c, t, tags in data["labels"]  # type: ignore[attr-defined]
        ]
        return cls(banks=banks, labels=labels, kinds=list(data["kinds"]))  # type: ignore[call-overload]


def build_columns(entries: Iterable[IndexEntry], catalogue: Catalogue) -> Columns:
    """The arrays of a segment holding `entries` (no multi-index tables yet)."""
    ids: list[str] = []
    banks: list[int] = []
    labels: list[int] = []
    kinds: list[int] = []
    values: list[str] = []
    pdq_values: list[str] = []
    pdq_rows: list[int] = []
    pdq_at: list[float] = []
    text_values: list[str] = []
    text_rows: list[int] = []
    long_rows: list[int] = []
    long_values: list[bytes] = []
    exact: dict[str, tuple[list[str], list[int]]] = {}
    for row, entry in enumerate(entries):
        kind = entry.signal.type
        ids.append(entry.entry_id)
        banks.append(catalogue.bank_slot(entry.bank_id))
        labels.append(catalogue.label_slot(entry.labels))
        kinds.append(catalogue.kind_slot(kind))
        if kind == "text":
            values.append("")
            text_values.append(entry.signal.value)
            text_rows.append(row)
        elif len(entry.signal.value) > VALUE_WIDTH:
            values.append("")
            long_rows.append(row)
            long_values.append(entry.signal.value.encode())
        else:
            values.append(entry.signal.value)
        if kind == "pdq":
            pdq_values.append(entry.signal.value)
            pdq_rows.append(row)
            pdq_at.append(NO_TIME)
        elif kind in EXACT_TYPES:
            keys, rows = exact.setdefault(kind, ([], []))
            keys.append(entry.signal.value)
            rows.append(row)
        for frame in entry.frames:
            pdq_values.append(frame.pdq)
            pdq_rows.append(row)
            pdq_at.append(frame.at)
    sigs = (
        np.frombuffer(bytes.fromhex("".join(text_values)), dtype=">u4")
        .reshape(-1, NUM_PERM)
        .astype(np.uint32)
        if text_values
        else np.empty((0, NUM_PERM), dtype=np.uint32)
    )
    return Columns(
        entry_ids=np.array(ids, dtype=f"S{ID_WIDTH}"),
        bank=np.array(banks, dtype=np.uint16),
        label=np.array(labels, dtype=np.uint32),
        kind=np.array(kinds, dtype=np.uint8),
        value=np.array(values, dtype=f"S{VALUE_WIDTH}"),
        pdq_codes=pdq_codes(pdq_values),
        pdq_row=np.array(pdq_rows, dtype=np.int64),
        pdq_at=np.array(pdq_at, dtype=np.float64),
        text_sigs=sigs,
        text_row=np.array(text_rows, dtype=np.int64),
        long_row=np.array(long_rows, dtype=np.int64),
        long_end=np.cumsum([len(v) for v in long_values], dtype=np.int64),
        long_values=np.frombuffer(b"".join(long_values), dtype=np.uint8),
        exact={
            k: _sorted_exact(np.array(v, dtype="S64"), np.array(r)) for k, (v, r) in exact.items()
        },
    )


def _sorted_exact(keys: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(keys, kind="stable")
    return keys[order], rows[order].astype(np.int64)


def merge_columns(parts: Sequence[tuple[Columns, np.ndarray]]) -> Columns:
    """One segment of the rows of several, each with the mask of its rows to keep."""
    renumbered: list[np.ndarray] = []
    offset = 0
    for columns, keep in parts:
        new_rows = np.full(len(columns), -1, dtype=np.int64)
        new_rows[keep] = np.arange(offset, offset + int(keep.sum()))
        offset += int(keep.sum())
        renumbered.append(new_rows)

    def rows_of(select: str, rows: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
        picked: list[np.ndarray] = []
        mapped: list[np.ndarray] = []
        for (columns, _), new_rows in zip(parts, renumbered, strict=True):
            target = new_rows[getattr(columns, rows)] if len(getattr(columns, rows)) else None
            if target is None:
                continue
            alive = target >= 0
            picked.append(np.asarray(getattr(columns, select))[alive])
            mapped.append(target[alive])
        return picked, mapped

    def cat(name: str) -> np.ndarray:
        return np.concatenate([np.asarray(getattr(c, name))[keep] for c, keep in parts])

    pdq_codes, pdq_row = rows_of("pdq_codes", "pdq_row")
    pdq_at, _ = rows_of("pdq_at", "pdq_row")
    text_sigs, text_row = rows_of("text_sigs", "text_row")
    long_row: list[int] = []
    long_parts: list[bytes] = []
    for (columns, _), new_rows in zip(parts, renumbered, strict=True):
        ends = np.asarray(columns.long_end)
        data = np.asarray(columns.long_values).tobytes()
        for i, row in enumerate(np.asarray(columns.long_row).tolist()):
            if new_rows[row] >= 0:
                long_row.append(int(new_rows[row]))
                long_parts.append(data[int(ends[i - 1]) if i else 0 : int(ends[i])])
    exact: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for kind in sorted({k for c, _ in parts for k in c.exact}):
        keys: list[np.ndarray] = []
        rows: list[np.ndarray] = []
        for (columns, _), new_rows in zip(parts, renumbered, strict=True):
            if kind in columns.exact:
                k, r = columns.exact[kind]
                target = new_rows[r]
                keys.append(np.asarray(k)[target >= 0])
                rows.append(target[target >= 0])
        exact[kind] = _sorted_exact(np.concatenate(keys), np.concatenate(rows))
    return Columns(
        entry_ids=cat("entry_ids"),
        bank=cat("bank"),
        label=cat("label"),
        kind=cat("kind"),
        value=cat("value"),
        pdq_codes=np.concatenate(pdq_codes) if pdq_codes else np.empty((0, WORDS), np.uint64),
        pdq_row=np.concatenate(pdq_row) if pdq_row else np.empty(0, np.int64),
        pdq_at=np.concatenate(pdq_at) if pdq_at else np.empty(0, np.float64),
        text_sigs=np.concatenate(text_sigs) if text_sigs else np.empty((0, NUM_PERM), np.uint32),
        text_row=np.concatenate(text_row) if text_row else np.empty(0, np.int64),
        long_row=np.array(long_row, dtype=np.int64),
        long_end=np.cumsum([len(v) for v in long_parts], dtype=np.int64),
        long_values=np.frombuffer(b"".join(long_parts), dtype=np.uint8),
        exact=exact,
    )


def with_tables(columns: Columns) -> Columns:
    if len(columns.pdq_codes) >= TABLES_FROM:
        columns.tables = build_tables(np.ascontiguousarray(columns.pdq_codes))
    return columns
