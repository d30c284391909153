"""vPDQ, Meta's video fingerprint: the PDQ hash of sampled frames, each with its quality and
its time in the video.

Two text forms, both Meta's:

- the signal value is python-threatexchange's: a JSON list of `"pdq_hex,quality,timestamp"`
  strings (one line, what travels in banks, feeds and pytx files);
- a vPDQ hash file has one frame a line, `frame_number,quality,pdq_hex,timestamp`
  (`load_frames_file` / `dump_frames_file`), as Meta's `vpdq` tools write it.

Upstream's rule compares frames of quality >= 50; two frames match at PDQ distance <= 31; of
each video only its unique frame hashes count. `compare_videos` is that rule written plainly
(the reference the frames index is tested against); the matcher answers it through an index.
As a `SignalType`, the distance of two videos is 100 minus the smaller of the two shares of
unique frames matched, in percent: 0 for the same video, symmetric."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from passerelle.core.errors import InvalidInput
from passerelle.core.message import grouped
from passerelle.core.signals.base import Signal

NAME = "vpdq"
FRAME_DISTANCE = 31
MIN_FRAME_QUALITY = 50
DEFAULT_COMPARED_SHARE = 80.0
DEFAULT_QUERY_SHARE = 0.0
QUERY_SHARE_KEY = "vpdq_query"  # a bank's minimum share of the query matched, in percent
# A bank's shortest stretch of a scanned video, in seconds, matched in order to a banked video
# that makes a match on its own (a compilation holding part of a banked video); 0: never.
SEGMENT_SECONDS_KEY = "vpdq_segment"
DEFAULT_SEGMENT_SECONDS = 10.0
MAX_SEGMENT_SECONDS = 3600.0
MAX_FRAMES = 200_000
_HEX = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class VpdqFrame:
    """One hashed frame: its PDQ hash (hex), PDQ quality (0-100) and time in seconds."""

    pdq: str
    quality: int
    timestamp: float

    def __str__(self) -> str:
        return f"{self.pdq},{self.quality},{self.timestamp:.3f}"


def parse_frame(pdq: str, quality: str | int, timestamp: str | float) -> VpdqFrame:
    value = pdq.strip().lower()
    if not _HEX.fullmatch(value):
        raise InvalidInput(
            "vpdq frame hash must be 64 hexadecimal digits, got %(pdq)s", pdq=repr(pdq)
        )
    try:
        q = int(quality)
        t = float(timestamp)
    except (TypeError, ValueError):
        raise InvalidInput(
            "vpdq frame quality and time must be numbers: %(quality)s, %(timestamp)s",
            quality=repr(quality),
            timestamp=repr(timestamp),
        ) from None
    if not 0 <= q <= 100:
        raise InvalidInput("vpdq frame quality must be 0-100, got %(quality)s", quality=q)
    if not math.isfinite(t) or t < 0:
        raise InvalidInput(
            "vpdq frame time must be a non-negative number, got %(timestamp)s",
            timestamp=repr(timestamp),
        )
    return VpdqFrame(value, q, round(t, 3))


def _parse_json_list(text: str) -> list[VpdqFrame]:
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            "vpdq value is not a JSON list of frames: %(msg)s", msg=exc.msg
        ) from None
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise InvalidInput("vpdq value must be a JSON list of 'pdq,quality,timestamp' strings")
    frames = []
    for item in items:
        parts = item.split(",")
        if len(parts) != 3:
            raise InvalidInput(
                "vpdq frame must be 'pdq,quality,timestamp', got %(item)s", item=repr(item)
            )
        frames.append(parse_frame(*parts))
    return frames


def load_frames_file(text: str) -> tuple[VpdqFrame, ...]:
    """Meta's vPDQ hash file: `frame_number,quality,pdq_hex,timestamp` per line."""
    frames = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.strip().split(",")
        if len(parts) != 4 or not parts[0].strip().isdigit():
            raise InvalidInput(
                "vpdq line %(number)s must be 'frame_number,quality,pdq,timestamp', got %(line)s",
                number=number,
                line=repr(line),
            )
        frames.append(parse_frame(parts[2], parts[1], parts[3]))
    if not frames:
        raise InvalidInput("vpdq hash file holds no frame")
    return tuple(frames)


def dump_frames_file(
    frames: Sequence[VpdqFrame], frame_numbers: Sequence[int] | None = None
) -> str:
    """The inverse of `load_frames_file`; frame numbers default to the position."""
    numbers = frame_numbers if frame_numbers is not None else range(len(frames))
    return "".join(
        f"{n},{f.quality},{f.pdq},{f.timestamp:.3f}\n" for n, f in zip(numbers, frames, strict=True)
    )


def to_signal(frames: Iterable[VpdqFrame]) -> Signal:
    listed = list(frames)
    if not listed:
        raise InvalidInput("a vpdq signal needs at least one frame")
    if len(listed) > MAX_FRAMES:
        raise InvalidInput(
            "vpdq signal has %(count)s frames (limit %(limit)s)",
            count=grouped(len(listed)),
            limit=grouped(MAX_FRAMES),
        )
    return Signal(NAME, json.dumps([str(f) for f in listed]))


@lru_cache(maxsize=256)
def _frames_of_value(value: str) -> tuple[VpdqFrame, ...]:
    return tuple(_parse_json_list(value))


def frames_of(signal: Signal) -> tuple[VpdqFrame, ...]:
    """The frames of a vpdq signal (which is valid: it was parsed or computed)."""
    return _frames_of_value(signal.value)


def comparable(frames: Sequence[VpdqFrame]) -> list[VpdqFrame]:
    """Upstream's preparation: frames of quality >= 50, each hash once (the first)."""
    seen: set[str] = set()
    kept = []
    for frame in frames:
        if frame.quality >= MIN_FRAME_QUALITY and frame.pdq not in seen:
            seen.add(frame.pdq)
            kept.append(frame)
    return kept


def _codes(frames: Sequence[VpdqFrame]) -> np.ndarray:
    if not frames:
        return np.empty((0, 4), dtype=np.uint64)
    raw = bytes.fromhex("".join(f.pdq for f in frames))
    return np.frombuffer(raw, dtype="<u8").reshape(-1, 4)


def compare_videos(
    query: Sequence[VpdqFrame], compared: Sequence[VpdqFrame], *, distance: int = FRAME_DISTANCE
) -> tuple[float, float]:
    """Upstream's rule, brute force: (percent of the query's unique frames that match some
    frame of the compared video, percent of the compared video's unique frames matched)."""
    q, c = comparable(query), comparable(compared)
    if not q or not c:
        return 0.0, 0.0
    qc, cc = _codes(q), _codes(c)
    near = np.bitwise_count(qc[:, None, :] ^ cc[None, :, :]).sum(axis=2) <= distance
    return float(100.0 * near.any(axis=1).mean()), float(100.0 * near.any(axis=0).mean())


@dataclass(frozen=True, slots=True)
class VpdqType:
    name: str = NAME
    # Distance in percent: 100 minus the share of unique frames matched (see module doc).
    default_threshold: float = 100 - DEFAULT_COMPARED_SHARE
    max_threshold: float = 100

    def parse(self, text: str) -> Signal:
        value = text.strip().lower()
        if not value:
            raise InvalidInput("vpdq value is empty")
        frames = _parse_json_list(value) if value.startswith("[") else load_frames_file(value)
        return to_signal(frames)

    def dump(self, signal: Signal) -> str:
        return signal.value

    def distance(self, a: Signal, b: Signal) -> float:
        if a.value == b.value:
            return 0.0
        share_a, share_b = compare_videos(frames_of(a), frames_of(b))
        return 100.0 - min(share_a, share_b)

    def can_match(self, signal: Signal) -> bool:
        return any(f.quality >= MIN_FRAME_QUALITY for f in frames_of(signal))


VPDQ = VpdqType()
