"""What every signal type provides, and the value object that carries one signal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Signal:
    """One fingerprint: the stored name of its type and its canonical text form.

    Build it with the type's `parse` (or its compute function): a `Signal` is always valid.
    `quality` is set for image hashes (PDQ quality, 0-100)."""

    type: str
    value: str
    quality: int | None = None


class SignalType(Protocol):
    """A kind of fingerprint. `distance` is 0 for identical signals and grows with difference;
    two signals match when `distance <= threshold`."""

    @property
    def name(self) -> str: ...
    @property
    def default_threshold(self) -> float: ...
    @property
    def max_threshold(self) -> float: ...
    def parse(self, text: str) -> Signal: ...
    def dump(self, signal: Signal) -> str: ...
    def distance(self, a: Signal, b: Signal) -> float: ...
    def can_match(self, signal: Signal) -> bool: ...
