"""What a video match rests on: the matched segments, drawn from the pairs of matched frames.

The frames themselves live in the match index (`index.store`) as PDQ rows with their video
and time; `core.match.video_candidates` looks all of a video's frames up in one batch and
hands the pairs it found here."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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


def long_segment(
    segments: tuple[Segment, ...], q_times: np.ndarray, seconds: float, min_frames: int
) -> Segment | None:
    """The longest segment that makes a match on its own, if any: it lasts `seconds` or more
    in the scanned video, the banked video advances along it (at least half as far: a still
    shot held in both is no segment), at least `min_frames` frames match and at least half
    the scanned video's frames within it do."""
    best = None
    for segment in segments:
        span = segment.query_end - segment.query_start
        inside = int(((q_times >= segment.query_start) & (q_times <= segment.query_end)).sum())
        if (
            span >= seconds
            and segment.banked_end - segment.banked_start >= span / 2
            and segment.frames >= min_frames
            and 2 * segment.frames >= inside
            and (best is None or span > best.query_end - best.query_start)
        ):
            best = segment
    return best


@dataclass(frozen=True, slots=True)
class VideoEvidence:
    """What a video match rests on: upstream's two shares (None when one side is a still
    image) and the matched segments, query against banked, in seconds. `by_segment`: the
    match holds by its first segment alone (long enough), not by the shares."""

    query_share: float | None
    compared_share: float | None
    segments: tuple[Segment, ...]
    by_segment: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "by_segment": self.by_segment,
            "query_share": None if self.query_share is None else round(self.query_share, 1),
            "compared_share": None
            if self.compared_share is None
            else round(self.compared_share, 1),
            "segments": [s.as_dict() for s in self.segments],
        }
