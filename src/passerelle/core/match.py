"""The matcher: every bank entry in one index per signal type, and the rule that a negative
(known-benign) bank suppresses the positive matches of the same signal type."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from passerelle.core.bank import Bank, BankEntry, BankKind, BankOrigin
from passerelle.core.index.exact import ExactIndex
from passerelle.core.index.pdq import PdqIndex
from passerelle.core.index.text import TextIndex
from passerelle.core.signals import SIGNAL_TYPES, Signal, get_signal_type
from passerelle.core.taxonomy import Labels


@dataclass(frozen=True, slots=True)
class EntryRef:
    entry_id: str
    bank_name: str
    bank_kind: BankKind
    origin: BankOrigin
    signal: Signal
    labels: Labels
    threshold: float


@dataclass(frozen=True, slots=True)
class Match:
    bank: str
    bank_kind: BankKind
    origin: BankOrigin
    signal_type: str
    value: str
    distance: float
    threshold: float
    labels: Labels
    entry_id: str

    def as_dict(self) -> dict[str, object]:
        return {
            "bank": self.bank,
            "signal_type": self.signal_type,
            "value": self.value,
            "distance": self.distance,
            "threshold": self.threshold,
            "labels": self.labels.as_dict(),
            "origin": self.origin.value,
        }


@dataclass(frozen=True, slots=True)
class MatchOutcome:
    matches: tuple[Match, ...]
    suppressed: tuple[Match, ...]
    benign: tuple[Match, ...]


class Matcher:
    """Built once from banks and their entries; `add` takes new entries without a rebuild."""

    def __init__(
        self, *, pdq_radius: int = 31, pdq_multi_hash: bool = False, text_distance: float = 0.7
    ) -> None:
        self._refs: list[EntryRef] = []
        self._exact: dict[str, ExactIndex] = {
            name: ExactIndex() for name in SIGNAL_TYPES if name not in {"pdq", "text"}
        }
        self._pdq = PdqIndex(multi_hash=pdq_multi_hash, radius=pdq_radius)
        self._text = TextIndex(max_distance=text_distance)

    @classmethod
    def build(cls, banks: Sequence[Bank], entries: Iterable[BankEntry]) -> Matcher:
        by_id = {bank.id: bank for bank in banks}
        materialised = [e for e in entries if e.bank_id in by_id]
        pdq_count = sum(1 for e in materialised if e.signal.type == "pdq")
        radius = int(max([b.threshold_for("pdq") for b in banks] or [31]))
        matcher = cls(
            pdq_radius=radius, pdq_multi_hash=PdqIndex.for_size(pdq_count, radius).is_multi_hash
        )
        matcher.add(by_id, materialised)
        matcher._pdq.compact()
        return matcher

    def __len__(self) -> int:
        return len(self._refs)

    def add(self, banks: dict[str, Bank], entries: Iterable[BankEntry]) -> None:
        pdq_values: list[str] = []
        pdq_keys: list[int] = []
        for entry in entries:
            bank = banks[entry.bank_id]
            key = len(self._refs)
            self._refs.append(
                EntryRef(
                    entry_id=entry.id,
                    bank_name=bank.name,
                    bank_kind=bank.kind,
                    origin=bank.origin,
                    signal=entry.signal,
                    labels=entry.labels,
                    threshold=bank.threshold_for(entry.signal.type),
                )
            )
            if entry.signal.type == "pdq":
                pdq_values.append(entry.signal.value)
                pdq_keys.append(key)
            elif entry.signal.type == "text":
                self._text.add([entry.signal.value], [key])
            else:
                self._exact[entry.signal.type].add(entry.signal.value, key)
        if pdq_values:
            self._pdq.add(pdq_values, pdq_keys)

    def _candidates(self, signal: Signal) -> list[tuple[int, float]]:
        if signal.type == "pdq":
            return [(k, float(d)) for k, d in self._pdq.query([signal.value])[0]]
        if signal.type == "text":
            return self._text.query(signal.value)
        return self._exact[signal.type].query(signal.value)

    def match(self, signals: Sequence[Signal]) -> MatchOutcome:
        positive: list[Match] = []
        benign: list[Match] = []
        for signal in signals:
            if not get_signal_type(signal.type).can_match(signal):
                continue
            for key, distance in self._candidates(signal):
                ref = self._refs[key]
                if distance > ref.threshold:
                    continue
                found = Match(
                    bank=ref.bank_name,
                    bank_kind=ref.bank_kind,
                    origin=ref.origin,
                    signal_type=signal.type,
                    value=ref.signal.value,
                    distance=distance,
                    threshold=ref.threshold,
                    labels=ref.labels,
                    entry_id=ref.entry_id,
                )
                (benign if ref.bank_kind is BankKind.NEGATIVE else positive).append(found)
        benign_types = {m.signal_type for m in benign}
        kept = tuple(m for m in positive if m.signal_type not in benign_types)
        suppressed = tuple(m for m in positive if m.signal_type in benign_types)
        return MatchOutcome(matches=kept, suppressed=suppressed, benign=tuple(benign))
