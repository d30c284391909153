"""Properties of the parsers of times and days that clients send: any text gives a value in
range or `InvalidInput`, never another error (an OverflowError was a 500); a time written in
RFC 3339 with any offset is read back as the same moment; a day read leaves room for the day
after it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from passerelle.core.errors import InvalidInput
from passerelle.core.timestamps import EARLIEST, LAST_DAY, LATEST, parse_day, parse_timestamp

TIMESTAMPISH = st.one_of(
    st.text(max_size=40),
    st.from_regex(
        r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,10})?([Zz]|[+-]\d{2}:\d{2})?",
        fullmatch=True,
    ),
)
OFFSETS = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)


@settings(max_examples=300, deadline=None)
@given(TIMESTAMPISH)
@example("0001-01-01T00:00:00+23:59")
@example("9999-12-31T23:59:59-23:59")
@example("9999-12-31T23:59:59.9999999Z")
@example("2026-11-29T00:00:00+24:00")
@example("2026-02-30T00:00:00Z")
@example("0000-01-01T00:00:00Z")
def test_a_timestamp_is_a_moment_in_utc_or_invalid_input(text: str) -> None:
    try:
        moment = parse_timestamp(text, "added_after")
    except InvalidInput as exc:
        assert "added_after" in str(exc)
        return
    assert moment.tzinfo is UTC
    assert EARLIEST <= moment <= LATEST


@settings(max_examples=300, deadline=None)
@given(st.datetimes(timezones=OFFSETS), st.booleans())
def test_a_time_written_with_any_offset_reads_back_as_the_same_moment(
    moment: datetime, with_fraction: bool
) -> None:
    text = moment.isoformat(timespec="microseconds" if with_fraction else "seconds")
    if not with_fraction:
        moment = moment.replace(microsecond=0)
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:  # year 1 ahead of UTC, or 9999 behind it: no such moment in UTC
        utc = None
    if utc is None:
        with pytest.raises(InvalidInput, match="out of range"):
            parse_timestamp(text, "added_after")
        return
    assert parse_timestamp(text, "added_after") == utc
    assert parse_timestamp(text.replace("+00:00", "Z"), "added_after") == utc


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=12), st.dates().map(date.isoformat)))
@example("9999-12-31")
@example("2026-02-30")
@example("20261129")
def test_a_day_leaves_room_for_the_next_or_is_invalid_input(text: str) -> None:
    try:
        day = parse_day(text, "to")
    except InvalidInput as exc:
        assert exc.field == "to"
        return
    assert day <= LAST_DAY
    assert day + timedelta(days=1) > day  # the next midnight exists
    assert parse_day(day.isoformat(), "to") == day
