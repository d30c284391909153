"""Every comparable frame of every banked video in one PDQ index, so that a video is matched
by one batched look-up of its frames, never by a loop over the banked videos.

A banked video contributes its frames of quality >= 50, each hash once (upstream's unique
frames); each indexed frame remembers its video (the owner, an integer key of the caller)
and its time. A query gives, per owner with at least one frame within the radius, upstream's
two shares (query frames matched, banked frames matched) and the pairs of matched frames,
from which the matched segments are drawn. The same index answers one image hash (a still
against banked videos)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from passerelle.core.index.pdq import PdqIndex
from passerelle.core.signals.vpdq import FRAME_DISTANCE, VpdqFrame, comparable


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of the query (seconds) matched to a stretch of the banked video."""

    query_start: float
    query_end: float
    banked_start: float
    banked_end: float
    frames: int

    def as_dict(self) -> dict[str, float | int]:
        return {
            "query_start": self.query_start,
            "query_end": self.query_end,
            "banked_start": self.banked_start,
            "banked_end": self.banked_end,
            "frames": self.frames,
        }


@dataclass(frozen=True, slots=True)
class VideoHit:
    owner: int
    query_share: float  # percent of the query's unique frames matched
    compared_share: float  # percent of the banked video's unique frames matched
    segments: tuple[Segment, ...]
    best_distance: int


@dataclass(frozen=True, slots=True)
class FrameHit:
    owner: int
    timestamp: float
    distance: int


class FrameIndex(Protocol):
    """What the matcher needs of a frames index (in memory here; on disk later)."""

    def add_video(self, owner: int, frames: Sequence[VpdqFrame]) -> None: ...
    def query_video(self, frames: Sequence[VpdqFrame]) -> list[VideoHit]: ...
    def query_hash(self, pdq: str) -> list[FrameHit]: ...


class InMemoryFrameIndex:
    def __init__(self, *, radius: int = FRAME_DISTANCE, multi_hash: bool = False) -> None:
        self.radius = radius
        self._pdq = PdqIndex(multi_hash=multi_hash, radius=radius)
        self._owners: list[int] = []
        self._times: list[float] = []
        self._unique: dict[int, int] = {}
        self._owner_array = np.empty(0, dtype=np.int64)
        self._time_array = np.empty(0, dtype=np.float64)

    def __len__(self) -> int:
        return len(self._owners)

    @property
    def videos(self) -> int:
        return len(self._unique)

    def add_video(self, owner: int, frames: Sequence[VpdqFrame]) -> None:
        kept = comparable(frames)
        if not kept:
            return
        start = len(self._owners)
        self._owners.extend([owner] * len(kept))
        self._times.extend(f.timestamp for f in kept)
        self._unique[owner] = self._unique.get(owner, 0) + len(kept)
        self._pdq.add([f.pdq for f in kept], list(range(start, start + len(kept))))

    def compact(self) -> None:
        self._pdq.compact()
        self._owner_array = np.asarray(self._owners, dtype=np.int64)
        self._time_array = np.asarray(self._times, dtype=np.float64)

    def _arrays(self) -> tuple[np.ndarray, np.ndarray]:
        if len(self._owner_array) != len(self._owners):
            self.compact()
        return self._owner_array, self._time_array

    def query_hash(self, pdq: str) -> list[FrameHit]:
        """The closest frame of each banked video within the radius of one image hash."""
        owners, times = self._arrays()
        best: dict[int, FrameHit] = {}
        for row, distance in self._pdq.query([pdq])[0]:
            owner = int(owners[row])
            if owner not in best or distance < best[owner].distance:
                best[owner] = FrameHit(owner, float(times[row]), distance)
        return sorted(best.values(), key=lambda h: (h.distance, h.owner))

    def query_video(self, frames: Sequence[VpdqFrame]) -> list[VideoHit]:
        query = comparable(frames)
        if not query or not self._owners:
            return []
        owners, times = self._arrays()
        found = self._pdq.query([f.pdq for f in query])
        counts = [len(hits) for hits in found]
        if not sum(counts):
            return []
        q_rows = np.repeat(np.arange(len(query), dtype=np.int64), counts)
        b_rows = np.fromiter((r for hits in found for r, _ in hits), dtype=np.int64)
        dists = np.fromiter((d for hits in found for _, d in hits), dtype=np.int64)
        hit_owners = owners[b_rows]
        q_times = np.asarray([f.timestamp for f in query], dtype=np.float64)
        order = np.argsort(hit_owners, kind="stable")
        bounds = np.flatnonzero(np.diff(hit_owners[order])) + 1
        hits = []
        for group in np.split(order, bounds):
            owner = int(hit_owners[group[0]])
            q_matched = len(np.unique(q_rows[group]))
            b_matched = len(np.unique(b_rows[group]))
            pairs = best_pairs(q_times[q_rows[group]], times[b_rows[group]], dists[group])
            hits.append(
                VideoHit(
                    owner=owner,
                    query_share=100.0 * q_matched / len(query),
                    compared_share=100.0 * b_matched / self._unique[owner],
                    segments=segments_of(pairs),
                    best_distance=int(dists[group].min()),
                )
            )
        return hits


def best_pairs(
    q_times: np.ndarray, b_times: np.ndarray, dists: np.ndarray
) -> list[tuple[float, float]]:
    """For each matched query time, the banked time of its closest frame, in query order."""
    order = np.lexsort((dists, q_times))
    pairs: list[tuple[float, float]] = []
    for i in order.tolist():
        if not pairs or pairs[-1][0] != q_times[i]:
            pairs.append((float(q_times[i]), float(b_times[i])))
    return pairs


def segments_of(pairs: list[tuple[float, float]], gap: float = 3.0) -> tuple[Segment, ...]:
    """Runs of matched frames that advance together in both videos (a jump of more than
    `gap` seconds in either, or backwards in the banked video, starts a new segment)."""
    segments: list[Segment] = []
    run: list[tuple[float, float]] = []
    for q, b in pairs:
        if run and (q - run[-1][0] > gap or not 0 <= b - run[-1][1] <= gap + (q - run[-1][0])):
            segments.append(_segment(run))
            run = []
        run.append((q, b))
    if run:
        segments.append(_segment(run))
    return tuple(sorted(segments, key=lambda s: (-s.frames, s.query_start)))


def _segment(run: list[tuple[float, float]]) -> Segment:
    return Segment(
        query_start=run[0][0],
        query_end=run[-1][0],
        banked_start=min(b for _, b in run),
        banked_end=max(b for _, b in run),
        frames=len(run),
    )


@dataclass(frozen=True, slots=True)
class VideoEvidence:
    """What a video match rests on: upstream's two shares (None when one side is a still
    image) and the matched segments, query against banked, in seconds."""

    query_share: float | None
    compared_share: float | None
    segments: tuple[Segment, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "query_share": None if self.query_share is None else round(self.query_share, 1),
            "compared_share": None
            if self.compared_share is None
            else round(self.compared_share, 1),
            "segments": [s.as_dict() for s in self.segments],
        }
