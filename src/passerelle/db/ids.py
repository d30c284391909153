"""Row identifiers that follow the time they were made.

Items and cases are written by the hundred thousand; with random identifiers (UUID version 4)
every new row lands on a random page of each index that holds its id (the table's own key,
the sightings, cases and search keys of the item), so that a large queue writes a page per
index per row. An identifier that starts with the time (UUID version 7, RFC 9562) lands at
the end of those indexes: the pages a batch writes stay few whatever the size of the queue."""

from __future__ import annotations

import os
import time


def time_ordered_id() -> str:
    """A UUID version 7: 48 bits of milliseconds since the epoch, then 74 random bits. Its
    text sorts as its time does (ids of the same millisecond in any order)."""
    millis = time.time_ns() // 1_000_000
    random_bits = int.from_bytes(os.urandom(10), "big")
    value = (millis & 0xFFFF_FFFF_FFFF) << 80 | random_bits
    value = value & ~(0xF << 76) | 0x7 << 76  # version 7
    value = value & ~(0x3 << 62) | 0x2 << 62  # variant RFC 9562
    digits = f"{value:032x}"  # as uuid.UUID writes it, without building one (imports make many)
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


# The variant's two bits (10) over the two random bits of the digit that carries them.
_VARIANT_DIGIT = {digit: f"{8 | int(digit, 16) & 3:x}" for digit in "0123456789abcdef"}


def time_ordered_ids(count: int) -> list[str]:
    """`count` UUIDs of version 7 made at once, in increasing order: one clock reading and one
    read of random bytes for them all (an import of a million entries spent 15 s making its
    ids one at a time). Each has the 74 random bits `time_ordered_id` gives its own."""
    millis = f"{time.time_ns() // 1_000_000 & 0xFFFF_FFFF_FFFF:012x}"
    head = f"{millis[:8]}-{millis[8:]}-7"
    digits = os.urandom(10 * count).hex()
    variant = _VARIANT_DIGIT
    made = []
    for start in range(0, 20 * count, 20):
        r = digits[start : start + 20]
        made.append(f"{head}{r[:3]}-{variant[r[3]]}{r[4:7]}-{r[7:19]}")
    made.sort()
    return made
