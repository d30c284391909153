"""The hash-chained audit log: what an event is, how its hash is computed, how a chain is checked.

Each event carries the hash of the one before it. Changing, deleting or inserting a row breaks
the chain at that row; `verify_chain` names the first event where it breaks. The head (last
sequence number and hash) is stored apart, so that deleting the newest events is detected too.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from passerelle.core.errors import InvalidInput

GENESIS_HASH = "0" * 64
_ACTION = re.compile(r"^[a-z][a-z_]*\.[a-z][a-z_]*$")


def parse_action(text: str) -> str:
    """An action is `noun.past_verb`, e.g. `case.opened`."""
    if not _ACTION.match(text):
        raise InvalidInput(f"audit action must look like 'noun.past_verb', got {text!r}")
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


def chain_event(entry: AuditEntry, *, seq: int, prev_hash: str, moment: datetime) -> AuditEvent:
    """Build the stored form of `entry` as the event after `prev_hash`."""
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
    )
    return replace(unsealed, hash=hash_of(unsealed))


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
class ChainReport:
    """The outcome of a verification: how many events were checked, and the first break."""

    checked: int
    broken_seq: int | None = None
    reason: str | None = None

    @property
    def is_intact(self) -> bool:
        return self.broken_seq is None


def verify_chain(events: Iterable[AuditEvent], *, head_seq: int, head_hash: str) -> ChainReport:
    """Walk the events in sequence order; report the first one that breaks the chain."""
    expected_prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    for event in events:
        if event.seq != expected_seq:
            if event.seq > expected_seq:
                return ChainReport(
                    checked, expected_seq, f"event #{expected_seq} is missing (deleted)"
                )
            return ChainReport(checked, event.seq, f"event #{event.seq} is out of sequence")
        if event.seq > head_seq:
            return ChainReport(
                checked,
                event.seq,
                f"event #{event.seq} was added outside Passerelle"
                f" (the head says the log ends at #{head_seq})",
            )
        recomputed = hash_of(event)
        if event.prev_hash != expected_prev:
            return ChainReport(
                checked,
                event.seq,
                f"event #{event.seq} does not follow event #{event.seq - 1}"
                " (a row was inserted, deleted or rewritten before it)",
            )
        if recomputed != event.hash:
            return ChainReport(
                checked, event.seq, f"event #{event.seq} was altered (its hash does not match)"
            )
        expected_prev = event.hash
        expected_seq += 1
        checked += 1
    last_seq = expected_seq - 1
    if last_seq < head_seq:
        return ChainReport(
            checked,
            last_seq + 1,
            f"event #{last_seq + 1} is missing (the log ends at #{last_seq}"
            f" but its head says #{head_seq})",
        )
    if last_seq > 0 and expected_prev != head_hash:
        return ChainReport(checked, last_seq, f"event #{last_seq} does not match the stored head")
    return ChainReport(checked)
