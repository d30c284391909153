"""Time-ordered row ids: valid UUIDs of version 7 whose text sorts as their time."""

from __future__ import annotations

import time
import uuid

from passerelle.db.ids import time_ordered_id


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
