"""Time-ordered row ids: valid UUIDs of version 7 whose text sorts as their time."""

from __future__ import annotations

import time
import uuid

from passerelle.db.ids import time_ordered_id, time_ordered_ids


def test_an_id_is_a_uuid_of_version_7() -> None:
    made = uuid.UUID(time_ordered_id())
    assert made.version == 7
    assert made.variant == uuid.RFC_4122


def test_an_id_starts_with_the_milliseconds_it_was_made_at() -> None:
    before = time.time_ns() // 1_000_000
    made = uuid.UUID(time_ordered_id())
    after = time.time_ns() // 1_000_000
    assert before <= made.int >> 80 <= after


def test_ids_made_later_sort_after() -> None:
    first = time_ordered_id()
    time.sleep(0.002)
    later = [time_ordered_id() for _ in range(100)]
    assert all(first < other for other in later)
    assert len(set(later)) == 100


def test_ids_made_at_once_are_distinct_uuids_of_version_7_in_order() -> None:
    before = time.time_ns() // 1_000_000
    made = time_ordered_ids(5000)
    after = time.time_ns() // 1_000_000
    assert len(set(made)) == 5000
    assert made == sorted(made)
    for text in made:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 7
        assert parsed.variant == uuid.RFC_4122
        assert before <= parsed.int >> 80 <= after


def test_ids_made_at_once_carry_random_bits_in_every_random_position() -> None:
    made = [uuid.UUID(text).int for text in time_ordered_ids(2000)]
    random_mask = (1 << 80) - 1 & ~(0xF << 76) & ~(0x3 << 62)
    seen = 0
    for value in made:
        seen |= value & random_mask
    assert seen == random_mask  # no random bit stuck at 0 (74 bits, 2,000 ids)
    assert time_ordered_ids(0) == []


def test_ids_made_at_once_sort_after_those_made_before() -> None:
    first = time_ordered_id()
    time.sleep(0.002)
    assert all(first < other for other in time_ordered_ids(100))
