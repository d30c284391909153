"""The hash chain itself: built events verify; any change, removal or insertion is named."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from passerelle.core.audit import (
    GENESIS_HASH,
    AuditEntry,
    AuditEvent,
    chain_event,
    compute_event_hash,
    parse_action,
    verify_chain,
)
from passerelle.core.errors import InvalidInput

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def build_chain(count: int) -> list[AuditEvent]:
    events: list[AuditEvent] = []
    prev = GENESIS_HASH
    for i in range(count):
        entry = AuditEntry(
            action="case.opened",
            actor=f"analyste{i}",
            agency_id="agency-1",
            object_type="case",
            object_id=str(i),
            details={"n": i, "note": "é"},
        )
        event = chain_event(entry, seq=i + 1, prev_hash=prev, moment=T0 + timedelta(seconds=i))
        events.append(event)
        prev = event.hash
    return events


def verify(events: list[AuditEvent], head: AuditEvent | None = None) -> tuple[int | None, str]:
    last = head or (events[-1] if events else None)
    report = verify_chain(
        events, head_seq=last.seq if last else 0, head_hash=last.hash if last else GENESIS_HASH
    )
    return report.broken_seq, report.reason or ""


def test_an_untouched_chain_is_intact() -> None:
    events = build_chain(5)
    report = verify_chain(events, head_seq=5, head_hash=events[-1].hash)
    assert report.is_intact
    assert report.checked == 5


def test_an_empty_log_is_intact() -> None:
    assert verify_chain([], head_seq=0, head_hash=GENESIS_HASH).is_intact


def test_an_altered_event_is_named() -> None:
    events = build_chain(5)
    events[2] = dataclasses.replace(events[2], actor="someone-else")
    assert verify(events) == (3, "event #3 was altered (its hash does not match)")


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
        )


@given(
    actor=st.text(max_size=30),
    details=st.dictionaries(st.text(max_size=10), st.integers() | st.text(max_size=10)),
)
def test_the_hash_covers_every_field(actor: str, details: dict[str, object]) -> None:
    entry = AuditEntry("case.opened", actor, "agency-1", "case", "1", details)
    event = chain_event(entry, seq=1, prev_hash=GENESIS_HASH, moment=T0)
    assert event.details == details
    fields = dataclasses.asdict(event)
    fields.pop("hash")
    assert compute_event_hash(**fields) == event.hash
    for name in ("actor", "object_id", "details_json", "occurred_at"):
        changed = dict(fields, **{name: fields[name] + "x"})
        assert compute_event_hash(**changed) != event.hash
