"""Banks: named sets of signals with labels. A negative bank holds known-benign signals whose
matches suppress the positive ones of the same signal type."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import datetime

from passerelle.core.errors import InvalidInput
from passerelle.core.marking import TLP_ORDER, Distribution, Tlp
from passerelle.core.message import Message
from passerelle.core.signals import Signal, get_signal_type
from passerelle.core.signals.vpdq import (
    DEFAULT_SEGMENT_SECONDS,
    MAX_SEGMENT_SECONDS,
    QUERY_SHARE_KEY,
    SEGMENT_SECONDS_KEY,
)
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
            "bank name %(value)s must be 1-64 characters: lower-case letters, digits,"
            " '.', '_', '-'",
            value=repr(text),
        )
    return name


def threshold_key(text: str) -> str:
    """A key of a bank's thresholds: a signal type's name, `vpdq_query` (the share of a
    scanned video's frames that must match, in percent; upstream's default 0) or
    `vpdq_segment` (the seconds of a matched stretch that make a match alone; 0: never)."""
    key = text.strip().lower()
    if key in (QUERY_SHARE_KEY, SEGMENT_SECONDS_KEY):
        return key
    return get_signal_type(key).name


def parse_threshold(signal_type: str, text: str | float) -> float:
    key = threshold_key(signal_type)
    if key in (QUERY_SHARE_KEY, SEGMENT_SECONDS_KEY):
        top = 100.0 if key == QUERY_SHARE_KEY else MAX_SEGMENT_SECONDS
    else:
        top = get_signal_type(key).max_threshold
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise InvalidInput(
            "threshold for %(key)s must be a number, got %(value)s", key=key, value=repr(text)
        ) from None
    if not 0 <= value <= top:
        raise InvalidInput(
            "threshold for %(key)s must be between 0 and %(top)s, got %(value)s",
            key=key,
            top=format(top, "g"),
            value=format(value, "g"),
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
        if signal_type == QUERY_SHARE_KEY:
            return self.thresholds.get(QUERY_SHARE_KEY, 0.0)
        if signal_type == SEGMENT_SECONDS_KEY:
            return self.thresholds.get(SEGMENT_SECONDS_KEY, DEFAULT_SEGMENT_SECONDS)
        if signal_type in self.thresholds:
            return self.thresholds[signal_type]
        return get_signal_type(signal_type).default_threshold

    def as_dict(self, *, description: bool = True) -> dict[str, object]:
        """The bank as JSON holds it: in a bank bundle, and (without its description) in
        the catalogue of an index file."""
        data: dict[str, object] = {
            "id": self.id,
            "agency_id": self.agency_id,
            "name": self.name,
            "kind": self.kind.value,
            "origin": self.origin.value,
            "thresholds": self.thresholds,
        }
        if description:
            data["description"] = self.description
        return data


@dataclass(frozen=True, slots=True)
class BankEntry:
    id: str
    bank_id: str
    signal: Signal
    labels: Labels
    note: str = ""
    added_at: datetime | None = None
    # The strictest marking it was received or decided under (None: the unit's own, not
    # marked: each channel marks it), and how far it may travel (None: the agreements decide).
    tlp: Tlp | None = None
    distribution: Distribution | None = None


@dataclass(frozen=True, slots=True)
class EntryInput:
    """One entry to add, as typed or read from a file; `line` names it in error reports."""

    signal_type: str
    value: str
    labels: Labels = field(default_factory=Labels)
    note: str = ""
    quality: int | None = None
    line: int = 0
    # The marking the file gave it, if any (else the one the importer names).
    tlp: Tlp | None = None
    distribution: Distribution | None = None


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
    tlp: Tlp | None = None
    distribution: Distribution | None = None


class EntryState(enum.StrEnum):
    """Where an entry stands: matched (live), past its partner's retention and awaiting the
    purge (expired), or withdrawn by a person of the unit (kept with the reason)."""

    LIVE = "live"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


_HEX_PREFIX = re.compile(r"^[0-9a-f]{1,2048}$")


def parse_value_prefix(text: str) -> str:
    """The beginning of a stored value (hexadecimal, any case) to look entries up by."""
    prefix = text.strip().lower()
    if not _HEX_PREFIX.match(prefix):
        raise InvalidInput(
            "search by the beginning of a value: hexadecimal digits (0-9, a-f), or an address",
            field="q",
        )
    return prefix


@dataclass(frozen=True, slots=True)
class EntryQuery:
    """What a person looks for in one bank; every part optional. `value` is an exact value
    (an address's hash), `prefix` the beginning of one. `after` is the keyset cursor: the time
    and id of the last entry of the page before (the order is newest first)."""

    state: EntryState = EntryState.LIVE
    prefix: str | None = None
    value: str | None = None
    signal_type: str | None = None
    category: str | None = None
    tier: str | None = None
    tag: str | None = None
    after: tuple[datetime, str] | None = None


@dataclass(frozen=True, slots=True)
class ListedEntry:
    """An entry as the console lists it: the entry, the address it was given as (url), where
    a partner's came from and when it expires, or when and why it was withdrawn."""

    entry: BankEntry
    moment: datetime  # added (live, expired) or withdrawn: the order of the list
    source_value: str | None = None
    provenance: str | None = None
    expires_at: datetime | None = None
    withdrawal_id: str | None = None
    withdrawn_by: str | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class BankSummary:
    """A bank with what the list of banks shows: entries per signal type, entries per
    marking (None: unmarked, the unit's own) and distribution, the newest generation of its
    entries and its last change."""

    bank: Bank
    counts: dict[str, int]
    markings: dict[str | None, int]
    distributions: dict[str | None, int]
    generation: int
    last_change: datetime | None
    withdrawn: int = 0

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def ordered_markings(self) -> list[tuple[str | None, int]]:
        """Unmarked first, then from the laxest marking to the strictest."""
        order = [None, *(t.value for t in TLP_ORDER)]
        return sorted(
            self.markings.items(), key=lambda i: order.index(i[0]) if i[0] in order else 99
        )

    @property
    def ordered_distributions(self) -> list[tuple[str, int]]:
        return sorted((d, n) for d, n in self.distributions.items() if d is not None)


# What a partner's bank says of itself (recorded in English when the bank is made).
PARTNER_BANK = "Shared by %(name)s (%(code)s) under agreement"
_PARTNER_BANK = re.compile(r"Shared by (?P<name>.*) \((?P<code>[^()]*)\) under agreement")


def partner_bank_description(name: str, code: str) -> str:
    """The description a partner's bank is made with."""
    return PARTNER_BANK % {"name": name, "code": code}


def bank_description(description: str) -> Message | None:
    """The recorded description of a partner's bank as a message, said in the reader's
    language; None for a description people wrote (shown as they wrote it)."""
    found = _PARTNER_BANK.fullmatch(description)
    return Message(PARTNER_BANK, found.groupdict()) if found else None


# The note of a partner's entry that carried its decision (recorded in English).
PARTNER_NOTE = "decided by %(partner)s on %(date)s"
_PARTNER_NOTE = re.compile(r"decided by (?P<partner>\S+) on (?P<date>\S+)")


def partner_note(partner: str, decided: object) -> str:
    """The note a partner's entry is added with when its decision came with it."""
    return PARTNER_NOTE % {"partner": partner, "date": decided}


def entry_note(note: str) -> Message | None:
    """The recorded note of a partner's entry as a message, said in the reader's language;
    None for a note people wrote (shown as they wrote it)."""
    found = _PARTNER_NOTE.fullmatch(note)
    return Message(PARTNER_NOTE, found.groupdict()) if found else None
