"""The chained audit log: what an event is, how its MAC is computed, how a chain is checked.

Each event carries the MAC of the one before it. Changing, deleting or inserting a row breaks
the chain at that row; `verify_chain` names the first event where it breaks. The head (last
sequence number and MAC) is stored apart, so that deleting the newest events is detected too.

Two versions of the link exist. Version 1 (events written before keyed chaining) is a plain
SHA-256 of the event: anyone with write access to the database could rewrite an event and
recompute every later hash. Version 2 is an HMAC-SHA256 under a key the database does not
give away (a random key per *epoch*, stored only sealed under the instance secret; a new
epoch starts when the secret is rotated). A chain is a prefix of version 1 events — pinned by
a *legacy seal* (its last sequence number and hash, sealed under the same secret) — followed
by version 2 events only: a version 1 event after the seal, or with no seal, is refused, so a
forged unkeyed tail is never accepted. A head kept outside the database (`AuditHead`, printed
by `passerelle audit head`, witnessed by partners) also catches truncation and rewriting by
someone who holds the key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from passerelle.core.errors import InvalidInput
from passerelle.core.message import Message

GENESIS_HASH = "0" * 64
MAC_PLAIN = 1  # SHA-256 of the event: the events written before keyed chaining
MAC_KEYED = 2  # HMAC-SHA256 under the epoch's key
_HEAD = re.compile(r"^(\d{1,18}):([0-9a-f]{64})$")
_ACTION = re.compile(r"^[a-z][a-z_]*\.[a-z][a-z_]*$")


def parse_action(text: str) -> str:
    """An action is `noun.past_verb`, e.g. `case.opened`."""
    if not _ACTION.match(text):
        raise InvalidInput(
            "audit action must look like 'noun.past_verb', got %(value)s", value=repr(text)
        )
    return text


def format_time(moment: datetime) -> str:
    """UTC ISO-8601 with microseconds: the one textual form hashed and stored."""
    if moment.tzinfo is None:
        raise InvalidInput("audit times must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """An event about to be appended: what happened, by whom, to what."""

    action: str
    actor: str
    agency_id: str | None
    object_type: str
    object_id: str
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """An event as stored: its place in the chain and its hashes."""

    seq: int
    occurred_at: str
    action: str
    actor: str
    agency_id: str | None
    object_type: str
    object_id: str
    details_json: str
    prev_hash: str
    hash: str
    mac_version: int = MAC_PLAIN

    @property
    def details(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.details_json)
        return loaded


def dump_details(details: Mapping[str, Any]) -> str:
    return json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def compute_event_hash(
    *,
    seq: int,
    occurred_at: str,
    action: str,
    actor: str,
    agency_id: str | None,
    object_type: str,
    object_id: str,
    details_json: str,
    prev_hash: str,
) -> str:
    payload = json.dumps(
        [
            seq,
            occurred_at,
            action,
            actor,
            agency_id,
            object_type,
            object_id,
            details_json,
            prev_hash,
        ],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _fields(event: AuditEvent) -> list[Any]:
    return [
        event.seq,
        event.occurred_at,
        event.action,
        event.actor,
        event.agency_id,
        event.object_type,
        event.object_id,
        event.details_json,
        event.prev_hash,
    ]


def compute_event_mac(event: AuditEvent, key: bytes) -> str:
    """Version 2: HMAC-SHA256 of the version number and every field but the MAC itself."""
    payload = json.dumps([MAC_KEYED, *_fields(event)], separators=(",", ":"), ensure_ascii=False)
    return hmac.new(key, payload.encode("utf-8"), hashlib.sha256).hexdigest()


def chain_event(
    entry: AuditEntry, *, seq: int, prev_hash: str, moment: datetime, key: bytes | None
) -> AuditEvent:
    """Build the stored form of `entry` as the event after `prev_hash`: keyed (version 2)
    with `key`; `None` only rebuilds a version 1 event (legacy chains and their tests)."""
    parse_action(entry.action)
    occurred_at = format_time(moment)
    unsealed = AuditEvent(
        seq=seq,
        occurred_at=occurred_at,
        action=entry.action,
        actor=entry.actor,
        agency_id=entry.agency_id,
        object_type=entry.object_type,
        object_id=entry.object_id,
        details_json=dump_details(entry.details),
        prev_hash=prev_hash,
        hash="",
        mac_version=MAC_PLAIN if key is None else MAC_KEYED,
    )
    if key is None:
        return replace(unsealed, hash=hash_of(unsealed))
    return replace(unsealed, hash=compute_event_mac(unsealed, key))


def hash_of(event: AuditEvent) -> str:
    """The hash an event must carry, from every field but the hash itself."""
    return compute_event_hash(
        seq=event.seq,
        occurred_at=event.occurred_at,
        action=event.action,
        actor=event.actor,
        agency_id=event.agency_id,
        object_type=event.object_type,
        object_id=event.object_id,
        details_json=event.details_json,
        prev_hash=event.prev_hash,
    )


@dataclass(frozen=True, slots=True)
class KeyEpoch:
    """A MAC key and the first event it chains (the keys are random, 32 bytes)."""

    epoch: int
    from_seq: int
    key: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class LegacySeal:
    """The unkeyed prefix of a chain: it ends at event `until`, whose hash is `hash`."""

    until: int
    hash: str


@dataclass(frozen=True, slots=True)
class AuditKeyring:
    """Every MAC key of the log, unsealed, and the seal of its unkeyed prefix if it has one."""

    epochs: tuple[KeyEpoch, ...]
    legacy: LegacySeal | None = None

    def key_for(self, seq: int) -> KeyEpoch | None:
        found = None
        for epoch in sorted(self.epochs, key=lambda e: e.from_seq):
            if epoch.from_seq <= seq:
                found = epoch
        return found

    @property
    def current(self) -> KeyEpoch | None:
        return max(self.epochs, key=lambda e: e.epoch, default=None)

    def problem(self) -> Message | None:
        """What makes the keyring itself inconsistent (epochs out of order, a gap after the
        legacy prefix), or None."""
        ordered = sorted(self.epochs, key=lambda e: e.epoch)
        if [e.epoch for e in ordered] != list(range(1, len(ordered) + 1)):
            return Message("the audit key epochs are not numbered 1, 2, 3…")
        starts = [e.from_seq for e in ordered]
        if starts != sorted(set(starts)):
            return Message("the audit key epochs do not follow each other")
        if ordered:
            first = self.legacy.until + 1 if self.legacy else 1
            if ordered[0].from_seq != first:
                return Message(
                    "keyed chaining starts at event #%(start)s, but the sealed unkeyed prefix"
                    " ends at #%(end)s",
                    {"start": ordered[0].from_seq, "end": first - 1},
                )
        return None


@dataclass(frozen=True, slots=True)
class AuditHead:
    """The newest event's number and MAC, in a form to paste and keep outside the database."""

    seq: int
    mac: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.mac}"


def parse_head(text: str) -> AuditHead:
    found = _HEAD.match(text.strip().lower())
    if found is None:
        raise InvalidInput(
            "an audit head is <event number>:<64 hexadecimal characters>, got %(value)s",
            value=repr(text.strip()),
        )
    return AuditHead(int(found.group(1)), found.group(2))


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The outcome of a verification: how many events were checked, and the first break."""

    checked: int
    broken_seq: int | None = None
    problem: Message | None = None  # why, in the reader's language when shown

    @property
    def is_intact(self) -> bool:
        return self.broken_seq is None

    @property
    def reason(self) -> str | None:
        """Why the chain is broken, in English (for logs)."""
        return self.problem.english() if self.problem else None


def _link_problem(event: AuditEvent, keyring: AuditKeyring) -> Message | None:
    """Why this event's MAC (or legacy hash) is wrong, or None."""
    seq = {"seq": event.seq}
    epoch = keyring.key_for(event.seq)
    if epoch is not None:
        if event.mac_version != MAC_KEYED:
            return Message(
                "event #%(seq)s is not keyed although keyed chaining started before it", seq
            )
        if not hmac.compare_digest(compute_event_mac(event, epoch.key), event.hash):
            return Message("event #%(seq)s was altered (its MAC does not match)", seq)
        return None
    legacy = keyring.legacy
    if legacy is None or event.seq > legacy.until:
        return Message(
            "event #%(seq)s is not keyed and no sealed unkeyed prefix covers it"
            " (rewritten without the key?)",
            seq,
        )
    if event.mac_version != MAC_PLAIN:
        return Message("event #%(seq)s claims a keyed MAC inside the unkeyed prefix", seq)
    if hash_of(event) != event.hash:
        return Message("event #%(seq)s was altered (its hash does not match)", seq)
    if event.seq == legacy.until and event.hash != legacy.hash:
        return Message("event #%(seq)s does not match the seal of the unkeyed prefix", seq)
    return None


def verify_chain(
    events: Iterable[AuditEvent],
    *,
    head_seq: int,
    head_hash: str,
    keyring: AuditKeyring,
    anchor: AuditHead | None = None,
) -> ChainReport:
    """Walk the events in sequence order; report the first one that breaks the chain. With
    `anchor` (a head kept elsewhere), the chain must still hold that event with that MAC."""
    problem = keyring.problem()
    if problem is not None:
        return ChainReport(0, 1, problem)
    expected_prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    for event in events:
        if event.seq != expected_seq:
            if event.seq > expected_seq:
                return ChainReport(
                    checked,
                    expected_seq,
                    Message("event #%(seq)s is missing (deleted)", {"seq": expected_seq}),
                )
            return ChainReport(
                checked,
                event.seq,
                Message("event #%(seq)s is out of sequence", {"seq": event.seq}),
            )
        if event.seq > head_seq:
            return ChainReport(
                checked,
                event.seq,
                Message(
                    "event #%(seq)s was added outside Passerelle"
                    " (the head says the log ends at #%(head)s)",
                    {"seq": event.seq, "head": head_seq},
                ),
            )
        if event.prev_hash != expected_prev:
            return ChainReport(
                checked,
                event.seq,
                Message(
                    "event #%(seq)s does not follow event #%(previous)s"
                    " (a row was inserted, deleted or rewritten before it)",
                    {"seq": event.seq, "previous": event.seq - 1},
                ),
            )
        problem = _link_problem(event, keyring)
        if problem is not None:
            return ChainReport(checked, event.seq, problem)
        if anchor is not None and event.seq == anchor.seq and event.hash != anchor.mac:
            return ChainReport(
                checked,
                event.seq,
                Message(
                    "event #%(seq)s differs from the head kept outside (rewritten)",
                    {"seq": event.seq},
                ),
            )
        expected_prev = event.hash
        expected_seq += 1
        checked += 1
    last_seq = expected_seq - 1
    if last_seq < head_seq:
        return ChainReport(
            checked,
            last_seq + 1,
            Message(
                "event #%(seq)s is missing (the log ends at #%(last)s but its head says #%(head)s)",
                {"seq": last_seq + 1, "last": last_seq, "head": head_seq},
            ),
        )
    if last_seq > 0 and expected_prev != head_hash:
        return ChainReport(
            checked,
            last_seq,
            Message("event #%(seq)s does not match the stored head", {"seq": last_seq}),
        )
    if keyring.legacy is not None and last_seq < keyring.legacy.until:
        return ChainReport(
            checked,
            last_seq + 1,
            Message(
                "the log ends at #%(last)s, inside its sealed unkeyed prefix (#%(until)s):"
                " truncated",
                {"last": last_seq, "until": keyring.legacy.until},
            ),
        )
    latest = max((e.from_seq for e in keyring.epochs), default=1)
    if latest > last_seq + 1:
        return ChainReport(
            checked,
            last_seq + 1,
            Message(
                "the log ends at #%(last)s, but a key epoch starts at #%(start)s: truncated",
                {"last": last_seq, "start": latest},
            ),
        )
    if anchor is not None and last_seq < anchor.seq:
        return ChainReport(
            checked,
            last_seq + 1,
            Message(
                "the log ends at #%(last)s, before the head kept outside (#%(kept)s): truncated",
                {"last": last_seq, "kept": anchor.seq},
            ),
        )
    return ChainReport(checked)
