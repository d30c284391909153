"""What a match index keeps of a bank entry (plain data, no NumPy: the database reads it)."""

from __future__ import annotations

from dataclasses import dataclass

from passerelle.core.signals.base import Signal
from passerelle.core.taxonomy import Labels


@dataclass(frozen=True, slots=True)
class Frame:
    """One PDQ hash of a video frame, at `at` seconds into the video."""

    pdq: str
    at: float


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """A bank entry as the index keeps it. `frames`: the PDQ hashes of a video entry's
    frames, found by image and frame queries like any PDQ entry, with their time."""

    entry_id: str
    bank_id: str
    signal: Signal
    labels: Labels
    frames: tuple[Frame, ...] = ()
