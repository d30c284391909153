"""The chain itself: built events verify; any change, removal or insertion is named; a chain
recomputed without the key, a forged unkeyed tail, or a truncation behind an anchored head is
refused."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from passerelle.core.audit import (
    GENESIS_HASH,
    MAC_KEYED,
    MAC_PLAIN,
    AuditEntry,
    AuditEvent,
    AuditHead,
    AuditKeyring,
    KeyEpoch,
    LegacySeal,
    chain_event,
    compute_event_hash,
    compute_event_mac,
    hash_of,
    parse_action,
    parse_head,
    verify_chain,
)
from passerelle.core.errors import InvalidInput

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
KEY = bytes(range(32))
KEYRING = AuditKeyring((KeyEpoch(1, 1, KEY),))


def build_chain(
    count: int, *, key: bytes | None = KEY, after: list[AuditEvent] | None = None
) -> list[AuditEvent]:
    events: list[AuditEvent] = list(after or [])
    prev = events[-1].hash if events else GENESIS_HASH
    for i in range(len(events), len(events) + count):
        entry = AuditEntry(
            action="case.opened",
            actor=f"analyste{i}",
            agency_id="agency-1",
            object_type="case",
            object_id=str(i),
            details={"n": i, "note": "é"},
        )
        event = chain_event(
            entry, seq=i + 1, prev_hash=prev, moment=T0 + timedelta(seconds=i), key=key
        )
        events.append(event)
        prev = event.hash
    return events


def verify(
    events: list[AuditEvent],
    head: AuditEvent | None = None,
    *,
    keyring: AuditKeyring = KEYRING,
    anchor: AuditHead | None = None,
) -> tuple[int | None, str]:
    last = head or (events[-1] if events else None)
    report = verify_chain(
        events,
        head_seq=last.seq if last else 0,
        head_hash=last.hash if last else GENESIS_HASH,
        keyring=keyring,
        anchor=anchor,
    )
    return report.broken_seq, report.reason or ""


def test_an_untouched_chain_is_intact() -> None:
    events = build_chain(5)
    report = verify_chain(events, head_seq=5, head_hash=events[-1].hash, keyring=KEYRING)
    assert report.is_intact
    assert report.checked == 5
    assert {e.mac_version for e in events} == {MAC_KEYED}


def test_an_empty_log_is_intact() -> None:
    assert verify_chain([], head_seq=0, head_hash=GENESIS_HASH, keyring=KEYRING).is_intact


def _rewrite(
    events: list[AuditEvent], index: int, seal: Callable[[AuditEvent], AuditEvent]
) -> None:
    """Change one event's actor and recompute its link and every later one with `seal`."""
    prev = events[index - 1].hash if index else GENESIS_HASH
    for i in range(index, len(events)):
        changed = dataclasses.replace(events[i], prev_hash=prev)
        if i == index:
            changed = dataclasses.replace(changed, actor="someone-else")
        events[i] = seal(changed)
        prev = events[i].hash


def test_a_chain_recomputed_with_plain_hashes_is_refused() -> None:
    events = build_chain(6)
    _rewrite(
        events,
        2,
        lambda e: dataclasses.replace(e, mac_version=MAC_PLAIN, hash=hash_of(e)),
    )
    assert verify(events) == (
        3,
        "event #3 is not keyed although keyed chaining started before it",
    )
    # Even claiming version 2, a hash that is not the MAC under the key is refused.
    _rewrite(events, 2, lambda e: dataclasses.replace(e, mac_version=MAC_KEYED, hash=hash_of(e)))
    assert verify(events) == (3, "event #3 was altered (its MAC does not match)")


def test_a_chain_recomputed_with_another_key_is_refused() -> None:
    events = build_chain(6)
    guessed = b"\x00" * 32
    _rewrite(events, 2, lambda e: dataclasses.replace(e, hash=compute_event_mac(e, guessed)))
    assert verify(events) == (3, "event #3 was altered (its MAC does not match)")


def test_a_chain_rewritten_with_the_key_passes_alone_but_not_against_an_anchored_head() -> None:
    events = build_chain(6)
    anchor = AuditHead(events[-1].seq, events[-1].hash)
    _rewrite(events, 2, lambda e: dataclasses.replace(e, hash=compute_event_mac(e, KEY)))
    assert verify(events) == (None, "")
    assert verify(events, anchor=anchor) == (
        6,
        "event #6 differs from the head kept outside (rewritten)",
    )


def test_a_truncation_behind_an_anchored_head_is_refused() -> None:
    events = build_chain(6)
    anchor = AuditHead(5, events[4].hash)
    kept = events[:3]  # the head row is set back too: alone, the log looks whole
    assert verify(kept) == (None, "")
    assert verify(kept, anchor=anchor) == (
        4,
        "the log ends at #3, before the head kept outside (#5): truncated",
    )
    assert verify(events, anchor=anchor) == (None, "")


def test_an_unkeyed_prefix_is_accepted_only_as_far_as_its_seal() -> None:
    legacy = build_chain(3, key=None)
    events = build_chain(3, after=legacy)
    keyring = AuditKeyring((KeyEpoch(1, 4, KEY),), LegacySeal(3, legacy[-1].hash))
    assert verify(events, keyring=keyring) == (None, "")
    assert [e.mac_version for e in events] == [1, 1, 1, 2, 2, 2]
    # Everything turned into unkeyed events after the seal: refused at the first one.
    forged = build_chain(6, key=None)
    assert verify(forged, keyring=keyring) == (
        4,
        "event #4 is not keyed although keyed chaining started before it",
    )
    # Without the keyed epochs (their rows deleted), the forged tail is still not covered.
    assert verify(forged, keyring=AuditKeyring((), LegacySeal(3, legacy[-1].hash))) == (
        4,
        "event #4 is not keyed and no sealed unkeyed prefix covers it (rewritten without the key?)",
    )
    # Without any seal, an unkeyed event is never accepted.
    assert verify(forged, keyring=AuditKeyring(())) == (
        1,
        "event #1 is not keyed and no sealed unkeyed prefix covers it (rewritten without the key?)",
    )


def test_a_rewritten_unkeyed_prefix_does_not_match_its_seal() -> None:
    legacy = build_chain(3, key=None)
    seal = LegacySeal(3, legacy[-1].hash)
    _rewrite(legacy, 1, lambda e: dataclasses.replace(e, hash=hash_of(e)))
    events = build_chain(2, after=legacy)
    keyring = AuditKeyring((KeyEpoch(1, 4, KEY),), seal)
    assert verify(events, keyring=keyring) == (
        3,
        "event #3 does not match the seal of the unkeyed prefix",
    )


def test_a_chain_goes_on_across_key_epochs() -> None:
    second = bytes(range(32, 64))
    events = build_chain(3)
    events = build_chain(3, key=second, after=events)
    keyring = AuditKeyring((KeyEpoch(1, 1, KEY), KeyEpoch(2, 4, second)))
    assert verify(events, keyring=keyring) == (None, "")
    # The old key cannot continue the chain after the rotation.
    stale = build_chain(1, key=KEY, after=events)
    assert verify(stale, keyring=keyring) == (7, "event #7 was altered (its MAC does not match)")
    # An epoch moved to start elsewhere does not line up with the sealed prefix.
    moved = AuditKeyring((KeyEpoch(1, 2, KEY),), LegacySeal(3, events[2].hash))
    assert verify(events, keyring=moved)[1].startswith("keyed chaining starts at event #2")


def test_a_head_reads_back_from_its_printed_form() -> None:
    head = AuditHead(42, "ab" * 32)
    assert parse_head(f"  {head}\n") == head
    for bad in ("42", "x:" + "ab" * 32, "42:" + "ab" * 31, "-1:" + "ab" * 32, ""):
        with pytest.raises(InvalidInput, match="an audit head is"):
            parse_head(bad)


def test_an_altered_event_is_named() -> None:
    events = build_chain(5)
    events[2] = dataclasses.replace(events[2], actor="someone-else")
    assert verify(events) == (3, "event #3 was altered (its MAC does not match)")


def test_a_deleted_event_in_the_middle_is_named() -> None:
    events = build_chain(5)
    del events[1]
    broken, reason = verify(events)
    assert broken == 2
    assert "missing" in reason


def test_a_deleted_last_event_is_caught_by_the_head() -> None:
    events = build_chain(5)
    head = events[-1]
    broken, reason = verify(events[:-1], head=head)
    assert broken == 5
    assert "missing" in reason


def test_an_inserted_event_with_a_recomputed_hash_breaks_the_link() -> None:
    events = build_chain(4)
    forged = chain_event(
        AuditEntry("case.closed", "intrus", "agency-1", "case", "9"),
        seq=3,
        prev_hash="f" * 64,
        moment=T0,
        key=KEY,
    )
    renumbered = [dataclasses.replace(e, seq=e.seq + 1) for e in events[2:]]
    broken, reason = verify([*events[:2], forged, *renumbered], head=renumbered[-1])
    assert broken == 3
    assert "does not follow" in reason


def test_an_event_appended_behind_the_head_is_named() -> None:
    events = build_chain(3)
    extra = chain_event(
        AuditEntry("case.closed", "intrus", None, "case", "9"),
        seq=4,
        prev_hash=events[-1].hash,
        moment=T0,
        key=KEY,
    )
    broken, reason = verify([*events, extra], head=events[-1])
    assert broken == 4
    assert "added outside" in reason


@pytest.mark.parametrize("bad", ["opened", "Case.Opened", "case.", ".opened", "case opened", ""])
def test_actions_must_be_noun_past_verb(bad: str) -> None:
    with pytest.raises(InvalidInput, match=r"noun\.past_verb"):
        parse_action(bad)


def test_naive_times_are_refused() -> None:
    with pytest.raises(InvalidInput, match="timezone"):
        chain_event(
            AuditEntry("case.opened", "a", None, "case", "1"),
            seq=1,
            prev_hash=GENESIS_HASH,
            moment=datetime(2026, 1, 1),
            key=KEY,
        )


@given(
    actor=st.text(max_size=30),
    details=st.dictionaries(st.text(max_size=10), st.integers() | st.text(max_size=10)),
)
def test_the_hash_covers_every_field(actor: str, details: dict[str, object]) -> None:
    entry = AuditEntry("case.opened", actor, "agency-1", "case", "1", details)
    event = chain_event(entry, seq=1, prev_hash=GENESIS_HASH, moment=T0, key=None)
    assert event.details == details
    fields = dataclasses.asdict(event)
    fields.pop("hash")
    fields.pop("mac_version")
    assert compute_event_hash(**fields) == event.hash
    keyed = chain_event(entry, seq=1, prev_hash=GENESIS_HASH, moment=T0, key=KEY)
    assert compute_event_mac(keyed, KEY) == keyed.hash != event.hash
    for name in ("actor", "object_id", "details_json", "occurred_at"):
        changed = dict(fields, **{name: fields[name] + "x"})
        assert compute_event_hash(**changed) != event.hash
        assert compute_event_mac(dataclasses.replace(keyed, **{name: changed[name]}), KEY) != (
            keyed.hash
        )


def test_a_log_cut_before_its_newest_key_epoch_is_refused() -> None:
    second = bytes(range(32, 64))
    events = build_chain(3)
    events = build_chain(2, key=second, after=events)
    keyring = AuditKeyring((KeyEpoch(1, 1, KEY), KeyEpoch(2, 4, second)))
    assert verify(events[:3], keyring=keyring) == (None, "")  # the rotation's first event stays
    assert verify(events[:2], keyring=keyring) == (
        3,
        "the log ends at #2, but a key epoch starts at #4: truncated",
    )
