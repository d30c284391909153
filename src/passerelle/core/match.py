"""The matcher: every bank entry in one index (`index.store.MatchIndex`, in memory or opened
from disk), and the rule that a negative (known-benign) bank suppresses the positive matches
of the same signal type. Many items are matched at once by `match_many`: their hashes go to
the index as one batch per signal type.

Videos (`vpdq`) keep their comparable frames as PDQ rows of the same index, each with its
video and time. A scanned video is matched by upstream's rule with the bank's thresholds
(`video_candidates`), its frames are also looked up among banked images, and a scanned image
among banked frames (the closest frame of each video)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from passerelle.core.bank import Bank, BankEntry, BankKind, BankOrigin
from passerelle.core.index.columns import EXACT_TYPES
from passerelle.core.index.frames import (
    Segment,
    VideoEvidence,
    best_pairs,
    long_segment,
    segments_of,
)
from passerelle.core.index.store import Frame, Hit, IndexEntry, MatchIndex
from passerelle.core.signals import Signal, get_signal_type
from passerelle.core.signals.pdq import MIN_MATCH_QUALITY
from passerelle.core.signals.vpdq import (
    FRAME_DISTANCE,
    QUERY_SHARE_KEY,
    SEGMENT_SECONDS_KEY,
    comparable,
    frames_of,
)
from passerelle.core.taxonomy import Labels

MIN_CLIP_FRAMES = 5

# (entry row, distance, video evidence) of one query signal
Candidate = tuple[int, float, VideoEvidence | None]


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


def index_entry(entry_id: str, bank_id: str, signal: Signal, labels: Labels) -> IndexEntry:
    """A bank entry as the index keeps it: a video with its comparable frames."""
    frames: tuple[Frame, ...] = ()
    if signal.type == "vpdq":
        frames = tuple(Frame(f.pdq, f.timestamp) for f in comparable(frames_of(signal)))
    return IndexEntry(entry_id, bank_id, signal, labels, frames)


def index_entries(banks: Sequence[Bank], entries: Iterable[BankEntry]) -> Iterable[IndexEntry]:
    known = {bank.id for bank in banks}
    for entry in entries:
        if entry.bank_id in known:
            yield index_entry(entry.id, entry.bank_id, entry.signal, entry.labels)


class Matcher:
    """Matches signals against an index, optionally restricted to some of its banks."""

    def __init__(self, index: MatchIndex, *, bank_ids: frozenset[str] | None = None) -> None:
        self.index = index
        self._bank_ids = bank_ids

    @classmethod
    def build(cls, banks: Sequence[Bank], entries: Iterable[BankEntry]) -> Matcher:
        return cls(MatchIndex.build(banks, index_entries(banks, entries)))

    @property
    def bank_ids(self) -> frozenset[str] | None:
        return self._bank_ids

    @property
    def generation(self) -> int:
        return self.index.generation

    def restricted(self, bank_ids: Iterable[str] | None) -> Matcher:
        """The same index, matching only the banks named by id (all of them for None)."""
        return Matcher(self.index, bank_ids=None if bank_ids is None else frozenset(bank_ids))

    def __len__(self) -> int:
        return len(self.index)

    def add(self, banks: dict[str, Bank], entries: Iterable[BankEntry]) -> None:
        """Take new entries (in memory) without a rebuild."""
        self.index = self.index.with_changes(
            banks=list(banks.values()),
            added=index_entries(list(banks.values()), entries),
            removed=(),
            generation=self.index.generation,
        )

    def match(self, signals: Sequence[Signal]) -> MatchOutcome:
        return self.match_many([signals])[0]

    def match_many(self, items: Sequence[Sequence[Signal]]) -> list[MatchOutcome]:
        """The outcome of each item's signals, every signal type asked in one batch."""
        asked: dict[str, list[tuple[int, Signal]]] = {}
        for item, signals in enumerate(items):
            for signal in signals:
                if get_signal_type(signal.type).can_match(signal):
                    asked.setdefault(signal.type, []).append((item, signal))
        found: list[list[Match]] = [[] for _ in items]
        for signal_type, queries in asked.items():
            candidates = self._candidates(signal_type, [signal for _, signal in queries])
            for (item, _), listed in zip(queries, candidates, strict=True):
                for row, distance, video in listed:
                    match = self._match(signal_type, row, distance, video)
                    if match is not None:
                        found[item].append(match)
        return [_outcome(matches) for matches in found]

    def _candidates(self, signal_type: str, signals: list[Signal]) -> list[list[Candidate]]:
        values = [signal.value for signal in signals]
        listed: list[list[Candidate]] = [[] for _ in signals]
        if signal_type == "vpdq":
            return [video_candidates(signal, self.index) for signal in signals]
        if signal_type == "pdq":
            return _pdq_candidates(self.index, self.index.query_pdq(values), len(values))
        if signal_type == "text":
            limit = max([b.threshold_for("text") for b in self.index.catalogue.banks] or [0.0])
            hits = self.index.query_text(values, limit)
        elif signal_type in EXACT_TYPES:
            hits = self.index.query_exact(signal_type, values)
        else:
            hits = []
        for hit in hits:
            listed[hit.query].append((hit.row, hit.distance, None))
        return listed

    def _match(
        self, signal_type: str, row: int, distance: float, video: VideoEvidence | None
    ) -> Match | None:
        bank = self.index.bank(row)
        if self._bank_ids is not None and bank.id not in self._bank_ids:
            return None
        stored_type = self.index.signal_type(row)
        threshold = bank.threshold_for(stored_type if stored_type == signal_type else "pdq")
        if distance > threshold:
            return None
        return Match(
            bank=bank.name,
            bank_kind=bank.kind,
            origin=bank.origin,
            signal_type=stored_type,
            value=self.index.value(row),
            distance=distance,
            threshold=threshold,
            labels=self.index.labels(row),
            entry_id=self.index.entry_id(row),
            video=video,
        )


def _pdq_candidates(index: MatchIndex, hits: list[Hit], queries: int) -> list[list[Candidate]]:
    """Image hashes against banked images (every one within the radius) and against banked
    videos (the closest frame of each, within the frame distance)."""
    listed: list[list[Candidate]] = [[] for _ in range(queries)]
    closest: dict[tuple[int, int], Hit] = {}
    for hit in hits:
        if math.isnan(hit.at):
            listed[hit.query].append((hit.row, hit.distance, None))
        elif hit.distance <= FRAME_DISTANCE:
            key = (hit.query, hit.row)
            best = closest.get(key)
            if best is None or (hit.distance, hit.at) < (best.distance, best.at):
                closest[key] = hit
    for (query, row), hit in sorted(closest.items(), key=lambda p: (p[0][0], p[1].distance)):
        segment = Segment(0.0, 0.0, hit.at, hit.at, 1)
        listed[query].append((row, hit.distance, VideoEvidence(None, None, (segment,))))
    return listed


def video_candidates(signal: Signal, index: MatchIndex) -> list[Candidate]:
    """A scanned video against banked videos and, frame by frame, against banked images
    (PDQ distance, timecoded).

    Against a video, upstream's rule: the distance is 100 minus the share of the banked
    video's unique frames matched, and the query's share must reach the bank's minimum. A
    clip cut from a banked video covers only part of it: it matches too when the share of its
    own frames matched counts instead, provided at least `MIN_CLIP_FRAMES` of them match. A
    compilation holds a banked video's stretch among other footage: it matches when one
    matched segment lasts the bank's `vpdq_segment` seconds (see `long_segment`); its
    distance is then the bank's threshold, and the segment comes first."""
    query = comparable(frames_of(signal))
    if not query:
        return []
    hits = index.query_pdq([f.pdq for f in query])
    q_times = np.asarray([f.timestamp for f in query], dtype=np.float64)
    found: list[Candidate] = []
    by_video: dict[int, list[Hit]] = {}
    images: dict[int, tuple[float, list[float]]] = {}
    strong = [f.quality >= MIN_MATCH_QUALITY for f in query]
    for hit in hits:
        if not math.isnan(hit.at):
            if hit.distance <= FRAME_DISTANCE:
                by_video.setdefault(hit.row, []).append(hit)
        elif strong[hit.query]:
            low, times = images.get(hit.row, (hit.distance, []))
            images[hit.row] = (min(low, hit.distance), [*times, float(q_times[hit.query])])
    for row in sorted(by_video):
        group = by_video[row]
        query_share = 100.0 * len({h.query for h in group}) / len(query)
        if query_share < index.bank(row).threshold_for(QUERY_SHARE_KEY):
            continue
        compared_share = 100.0 * len({h.at for h in group}) / max(1, index.frame_count(row))
        pairs = best_pairs(
            q_times[[h.query for h in group]],
            np.asarray([h.at for h in group], dtype=np.float64),
            np.asarray([h.distance for h in group], dtype=np.float64),
        )
        spans = segments_of(pairs)
        evidence = VideoEvidence(query_share, compared_share, spans)
        is_clip = sum(s.frames for s in spans) >= MIN_CLIP_FRAMES
        distance = 100.0 - max(compared_share, query_share if is_clip else 0.0)
        the_bank = index.bank(row)
        limit = the_bank.threshold_for("vpdq")
        seconds = the_bank.threshold_for(SEGMENT_SECONDS_KEY)
        long = long_segment(spans, q_times, seconds, MIN_CLIP_FRAMES) if seconds > 0 else None
        if distance > limit and long is not None:
            others = tuple(s for s in spans if s is not long)
            evidence = VideoEvidence(query_share, compared_share, (long, *others), by_segment=True)
            distance = limit
        found.append((row, distance, evidence))
    for row, (distance, times) in sorted(images.items()):
        spans = tuple(Segment(t, t, 0.0, 0.0, 1) for t in sorted(set(times)))
        found.append((row, float(distance), VideoEvidence(None, None, spans)))
    return found


def _outcome(found: list[Match]) -> MatchOutcome:
    positive = [m for m in found if m.bank_kind is not BankKind.NEGATIVE]
    benign = [m for m in found if m.bank_kind is BankKind.NEGATIVE]
    benign_types = {m.signal_type for m in benign}
    kept = tuple(m for m in positive if m.signal_type not in benign_types)
    suppressed = tuple(m for m in positive if m.signal_type in benign_types)
    return MatchOutcome(matches=kept, suppressed=suppressed, benign=tuple(benign))
