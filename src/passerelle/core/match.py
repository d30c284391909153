"""The matcher: every bank entry in one index per signal type, and the rule that a negative
(known-benign) bank suppresses the positive matches of the same signal type.

Videos (`vpdq`) are matched through one index of all banked frames (`index.frames`), by
upstream's rule with the bank's thresholds; their frames are also looked up among banked
images, and a scanned image among banked frames (see `video_candidates`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from passerelle.core.bank import Bank, BankEntry, BankKind, BankOrigin
from passerelle.core.index.exact import ExactIndex
from passerelle.core.index.frames import InMemoryFrameIndex, Segment, VideoEvidence
from passerelle.core.index.pdq import PdqIndex
from passerelle.core.index.text import TextIndex
from passerelle.core.signals import SIGNAL_TYPES, Signal, get_signal_type
from passerelle.core.signals.pdq import MIN_MATCH_QUALITY
from passerelle.core.signals.vpdq import DEFAULT_QUERY_SHARE, QUERY_SHARE_KEY, frames_of
from passerelle.core.taxonomy import Labels

MIN_CLIP_FRAMES = 5


@dataclass(frozen=True, slots=True)
class EntryRef:
    entry_id: str
    bank_name: str
    bank_kind: BankKind
    origin: BankOrigin
    signal: Signal
    labels: Labels
    threshold: float
    min_query_share: float = DEFAULT_QUERY_SHARE
    pdq_threshold: float = 31


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
    video: VideoEvidence | None = None

    def as_dict(self) -> dict[str, object]:
        found: dict[str, object] = {"video": self.video.as_dict()} if self.video else {}
        return found | {
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
            name: ExactIndex() for name in SIGNAL_TYPES if name not in {"pdq", "text", "vpdq"}
        }
        self._frames = InMemoryFrameIndex(multi_hash=pdq_multi_hash)
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
        matcher._frames.compact()
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
                    min_query_share=bank.thresholds.get(QUERY_SHARE_KEY, DEFAULT_QUERY_SHARE),
                    pdq_threshold=bank.threshold_for("pdq"),
                )
            )
            if entry.signal.type == "vpdq":
                self._frames.add_video(key, frames_of(entry.signal))
            elif entry.signal.type == "pdq":
                pdq_values.append(entry.signal.value)
                pdq_keys.append(key)
            elif entry.signal.type == "text":
                self._text.add([entry.signal.value], [key])
            else:
                self._exact[entry.signal.type].add(entry.signal.value, key)
        if pdq_values:
            self._pdq.add(pdq_values, pdq_keys)

    def _candidates(self, signal: Signal) -> list[tuple[int, float, VideoEvidence | None]]:
        if signal.type == "vpdq":
            return video_candidates(signal, self._frames, self._pdq, self._refs)
        if signal.type == "pdq":
            found = [(k, float(d), None) for k, d in self._pdq.query([signal.value])[0]]
            return found + still_candidates(signal, self._frames, self._refs)
        if signal.type == "text":
            return [(k, d, None) for k, d in self._text.query(signal.value)]
        return [(k, d, None) for k, d in self._exact[signal.type].query(signal.value)]

    def match(self, signals: Sequence[Signal]) -> MatchOutcome:
        positive: list[Match] = []
        benign: list[Match] = []
        for signal in signals:
            if not get_signal_type(signal.type).can_match(signal):
                continue
            for key, distance, video in self._candidates(signal):
                ref = self._refs[key]
                threshold = ref.threshold if ref.signal.type == signal.type else ref.pdq_threshold
                if distance > threshold:
                    continue
                found = Match(
                    bank=ref.bank_name,
                    bank_kind=ref.bank_kind,
                    origin=ref.origin,
                    signal_type=ref.signal.type,
                    value=ref.signal.value,
                    distance=distance,
                    threshold=threshold,
                    labels=ref.labels,
                    entry_id=ref.entry_id,
                    video=video,
                )
                (benign if ref.bank_kind is BankKind.NEGATIVE else positive).append(found)
        benign_types = {m.signal_type for m in benign}
        kept = tuple(m for m in positive if m.signal_type not in benign_types)
        suppressed = tuple(m for m in positive if m.signal_type in benign_types)
        return MatchOutcome(matches=kept, suppressed=suppressed, benign=tuple(benign))


def video_candidates(
    signal: Signal, frames: InMemoryFrameIndex, images: PdqIndex, refs: Sequence[EntryRef]
) -> list[tuple[int, float, VideoEvidence | None]]:
    """A scanned video against banked videos and, frame by frame, against banked images
    (PDQ distance, timecoded).

    Against a video, upstream's rule: the distance is 100 minus the share of the banked
    video's unique frames matched, and the query's share must reach the bank's minimum. A
    clip cut from a banked video covers only part of it: it matches too when the share of its
    own frames matched counts instead, provided at least `MIN_CLIP_FRAMES` of them match."""
    found: list[tuple[int, float, VideoEvidence | None]] = []
    query = frames_of(signal)
    for hit in frames.query_video(query):
        if hit.query_share < refs[hit.owner].min_query_share:
            continue
        evidence = VideoEvidence(hit.query_share, hit.compared_share, hit.segments)
        is_clip = sum(s.frames for s in hit.segments) >= MIN_CLIP_FRAMES
        share = max(hit.compared_share, hit.query_share if is_clip else 0.0)
        found.append((hit.owner, 100.0 - share, evidence))
    kept = [f for f in query if f.quality >= MIN_MATCH_QUALITY]
    best: dict[int, tuple[int, list[float]]] = {}
    for frame, hits in zip(kept, images.query([f.pdq for f in kept]), strict=True):
        for key, distance in hits:
            low, times = best.get(key, (distance, []))
            best[key] = (min(low, distance), [*times, frame.timestamp])
    for key, (distance, times) in best.items():
        spans = tuple(Segment(t, t, 0.0, 0.0, 1) for t in sorted(set(times)))
        found.append((key, float(distance), VideoEvidence(None, None, spans)))
    return found


def still_candidates(
    signal: Signal, frames: InMemoryFrameIndex, refs: Sequence[EntryRef]
) -> list[tuple[int, float, VideoEvidence | None]]:
    """A scanned image against the frames of banked videos: the closest frame of each."""
    del refs  # the bank's PDQ threshold is applied by the caller
    return [
        (
            hit.owner,
            float(hit.distance),
            VideoEvidence(None, None, (Segment(0.0, 0.0, hit.timestamp, hit.timestamp, 1),)),
        )
        for hit in frames.query_hash(signal.value)
    ]
