"""Every date a person or a partner sends is read by the one parser of `core.timestamps`:
page links, a notice's time of issue, a legal hold's end, a signed document's and a signed
request's time. Bad input is `InvalidInput` (or a refusal) naming the field, never a value
read wrongly (a time without a zone compared with aware ones, a one-digit hour)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from passerelle.core.errors import InvalidInput
from passerelle.core.exchange import parse_issued_at
from passerelle.core.timestamps import (
    dump_timestamp,
    parse_minute,
    parse_page_key,
    parse_timestamp,
)
from passerelle.exchange.signing import Refused, request_headers, verify_request
from passerelle.services.jobs import parse_hold_end
from passerelle.services.refer import parse_issue_time

ID = "0192f1c2-7d4e-7abc-8def-0123456789ab"


@settings(max_examples=200, deadline=None)
@given(
    st.datetimes(
        min_value=datetime(1900, 1, 1),
        max_value=datetime(9000, 1, 1),
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=5, minutes=30))]
        ),
    )
)
def test_a_written_time_reads_back_as_the_same_moment(moment: datetime) -> None:
    written = dump_timestamp(moment)
    assert written.endswith("Z")
    assert parse_timestamp(written, "after") == moment


def test_a_time_without_zone_is_written_as_utc() -> None:
    assert dump_timestamp(datetime(2026, 11, 29, 10, 0)) == "2026-11-29T10:00:00Z"


@pytest.mark.parametrize("field", ["before", "after"])
def test_page_links_read_times_with_their_zone(field: str) -> None:
    moment = datetime(2026, 11, 29, 10, 0, 0, 123456, tzinfo=UTC)
    assert parse_page_key(f"{dump_timestamp(moment)}~{ID}", field) == (moment, ID)
    # Links written before (Python's isoformat, with +00:00) still open.
    assert parse_page_key(f"{moment.isoformat()}~{ID}", field) == (moment, ID)


@pytest.mark.parametrize("field", ["before", "after"])
@pytest.mark.parametrize(
    "link",
    [
        "garbage",
        "2026-11-29T10:00:00~" + ID,  # no zone: it was compared with aware times
        "2026-11-29T10:00:00Z",  # no id
        "2026-11-29T10:00:00Z~",
        "2026-11-29T10:00:00Z~" + "x" * 37,
        "2026-02-30T10:00:00Z~" + ID,
        "20261129T100000Z~" + ID,
    ],
)
def test_a_damaged_page_link_is_refused_naming_its_field(field: str, link: str) -> None:
    with pytest.raises(InvalidInput, match="this page link is damaged") as caught:
        parse_page_key(link, field)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-29T09:30", datetime(2026, 11, 29, 9, 30, tzinfo=UTC)),
        (" 2026-11-29T09:30 ", datetime(2026, 11, 29, 9, 30, tzinfo=UTC)),
        ("", None),
    ],
)
def test_a_time_of_issue_is_read_to_the_minute_in_utc(text: str, expected: datetime) -> None:
    assert parse_issue_time(text) == expected


@pytest.mark.parametrize(
    "text", ["2026-11-29T9:30", "2026-11-29T09:5", "2026-11-29 09:30", "2026-02-30T09:30", "x"]
)
def test_a_bad_time_of_issue_names_the_field(text: str) -> None:
    with pytest.raises(InvalidInput, match="time of issue must be") as caught:
        parse_issue_time(text)
    assert caught.value.field == "issued"


@pytest.mark.parametrize("text", ["2026-11-29T9:30", "2026-13-01T09:30", "29/11/2026 09:30"])
def test_the_minute_parser_names_its_field(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_minute(text, "issued")
    assert caught.value.field == "issued"
    assert "issued" in str(caught.value)


def test_a_hold_ends_at_the_end_of_its_day() -> None:
    end = parse_hold_end("2026-12-31")
    assert end == datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert parse_hold_end("  ") is None


@pytest.mark.parametrize("text", ["20261231", "2026-12-32", "31/12/2026", "9999-12-31"])
def test_a_bad_hold_end_names_the_field(text: str) -> None:
    with pytest.raises(InvalidInput, match="YYYY-MM-DD") as caught:
        parse_hold_end(text)
    assert caught.value.field == "until"


@pytest.mark.parametrize("value", ["2026-12-01T10:00:00", "2026-12-01", "hier", None, 17])
def test_a_signed_document_time_without_zone_is_refused_naming_it(value: object) -> None:
    with pytest.raises(InvalidInput, match="issued_at is a timestamp such as"):
        parse_issued_at(value)


def test_a_signed_document_time_reads_any_offset() -> None:
    assert parse_issued_at("2026-12-01T10:00:00-05:00") == datetime(2026, 12, 1, 15, tzinfo=UTC)


def _signed(key: Ed25519PrivateKey, now: datetime, date: str | None = None) -> dict[str, str]:
    headers = request_headers(key, subscriber="b", publisher="a", target="/feed", now=now)
    lowered = {k.lower(): v for k, v in headers.items()}
    if date is not None:
        lowered["x-passerelle-date"] = date
    return lowered


def test_a_signed_request_date_is_read_by_the_one_parser() -> None:
    key = Ed25519PrivateKey.generate()
    public = base64.b64encode(
        key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    ).decode()
    now = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    moment, _ = verify_request(
        _signed(key, now), target="/feed", public_key=public, publisher="a", now=now
    )
    assert moment == now
    with pytest.raises(Refused, match="x-passerelle-date is a timestamp such as"):
        verify_request(
            _signed(key, now, "2026-12-01T10:00:00"),
            target="/feed",
            public_key=public,
            publisher="a",
            now=now,
        )
