"""Banks: named sets of signals with labels. A negative bank holds known-benign signals whose
matches suppress the positive ones of the same signal type."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import datetime

from passerelle.core.errors import InvalidInput
from passerelle.core.signals import Signal, get_signal_type
from passerelle.core.taxonomy import Labels

_BANK_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


class BankKind(enum.StrEnum):
    POSITIVE = "positive"
    NEGATIVE = "negative"


class BankOrigin(enum.StrEnum):
    OWN = "own"
    PARTNER = "partner"


def parse_bank_name(text: str) -> str:
    name = text.strip().lower()
    if not _BANK_NAME.match(name):
        raise InvalidInput(
            f"bank name {text!r} must be 1-64 characters: lower-case letters, digits, '.', '_', '-'"
        )
    return name


def parse_threshold(signal_type: str, text: str | float) -> float:
    kind = get_signal_type(signal_type)
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise InvalidInput(f"threshold for {kind.name} must be a number, got {text!r}") from None
    if not 0 <= value <= kind.max_threshold:
        raise InvalidInput(
            f"threshold for {kind.name} must be between 0 and {kind.max_threshold:g}, got {value:g}"
        )
    return value


@dataclass(frozen=True, slots=True)
class Bank:
    id: str
    agency_id: str
    name: str
    kind: BankKind
    origin: BankOrigin
    description: str
    thresholds: dict[str, float] = field(default_factory=dict)
    created_at: datetime | None = None

    def threshold_for(self, signal_type: str) -> float:
        if signal_type in self.thresholds:
            return self.thresholds[signal_type]
        return get_signal_type(signal_type).default_threshold


@dataclass(frozen=True, slots=True)
class BankEntry:
    id: str
    bank_id: str
    signal: Signal
    labels: Labels
    note: str = ""
    added_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class EntryInput:
    """One entry to add, as typed or read from a file; `line` names it in error reports."""

    signal_type: str
    value: str
    labels: Labels = field(default_factory=Labels)
    note: str = ""
    quality: int | None = None
    line: int = 0


@dataclass(frozen=True, slots=True)
class NewEntry:
    """A parsed entry on its way into a bank."""

    signal: Signal
    labels: Labels
    note: str = ""
    source_value: str | None = None
    # Partner entries: where they came from and when they expire.
    provenance: str | None = None
    expires_at: datetime | None = None
