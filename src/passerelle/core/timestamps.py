"""Times and days that clients send (TAXII's `added_after`, the queue's and the reports'
days), parsed into values the code can compute with, or refused naming the parameter: a time
must exist in UTC (year 1 at +23:59 is before year 1 in UTC: an OverflowError, a 500,
before), and a day leaves room for the day after it (the queue's "to" day reads up to the
next midnight)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from passerelle.core.errors import InvalidInput

EARLIEST = datetime.min.replace(tzinfo=UTC)
LATEST = datetime.max.replace(tzinfo=UTC)
LAST_DAY = date(9999, 12, 30)
# RFC 3339's date-time: a zone always (Z or an offset); at most nanoseconds.
_TIMESTAMP = re.compile(
    r"(?P<main>\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2})"
    r"(?:\.(?P<fraction>\d{1,9}))?"
    r"(?P<zone>[Zz]|[+-]\d{2}:\d{2})",
    re.ASCII,
)
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
# A form's `datetime-local` field, to the minute.
_MINUTE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", re.ASCII)


def parse_timestamp(text: str, name: str) -> datetime:
    """An RFC 3339 time such as 2026-11-29T00:00:00Z, in UTC; InvalidInput naming `name`
    when it is not one, or is out of range."""
    found = _TIMESTAMP.fullmatch(text.strip())
    if found is None:
        raise InvalidInput("%(name)s is a timestamp such as 2026-11-29T00:00:00Z", name=name)
    zone = found["zone"].upper()
    if zone != "Z" and (int(zone[1:3]) > 23 or int(zone[4:6]) > 59):
        raise InvalidInput("%(name)s has an offset beyond ±23:59", name=name)
    fraction = (found["fraction"] or "0")[:6].ljust(6, "0")  # microseconds: Python's precision
    try:
        moment = datetime.fromisoformat(
            f"{found['main'].upper()}.{fraction}{'+00:00' if zone == 'Z' else zone}"
        )
        moment = moment.astimezone(UTC)
    except ValueError:
        raise InvalidInput("%(name)s is not a date and time of the calendar", name=name) from None
    except OverflowError:
        raise InvalidInput(
            "%(name)s is out of range: from %(earliest)s to %(latest)s in UTC",
            name=name,
            earliest="0001-01-01T00:00:00Z",
            latest="9999-12-31T23:59:59.999999Z",
        ) from None
    return moment


def parse_day(text: str, name: str) -> date:
    """A day written YYYY-MM-DD; InvalidInput naming `name` when it is not one, or is out
    of range."""
    value = text.strip()
    if _DAY.fullmatch(value) is None:
        raise InvalidInput("dates must be YYYY-MM-DD", field=name)
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise InvalidInput("dates must be YYYY-MM-DD", field=name) from None
    if day > LAST_DAY:
        raise InvalidInput(
            "dates go from %(earliest)s to %(latest)s",
            field=name,
            earliest="0001-01-01",
            latest=LAST_DAY.isoformat(),
        )
    return day


def parse_minute(text: str, name: str) -> datetime:
    """A time to the minute as a form's date-and-time field gives it (YYYY-MM-DDTHH:MM), read
    in UTC; InvalidInput naming `name` when it is not one."""
    value = text.strip()
    if _MINUTE.fullmatch(value) is None:
        raise InvalidInput("%(name)s is a time such as 2026-11-29T09:30", name=name, field=name)
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    except ValueError:
        raise InvalidInput(
            "%(name)s is not a date and time of the calendar", name=name, field=name
        ) from None


def parse_page_key(text: str, name: str) -> tuple[datetime, str]:
    """The keyset position a page link carries, `<RFC 3339 time>~<id>`, read from the
    parameter `name`; a damaged one is refused naming it."""
    moment, sep, ident = text.partition("~")
    try:
        when = parse_timestamp(moment, name)
    except InvalidInput:
        when = None
    if when is None or not sep or not ident or len(ident) > 36:
        raise InvalidInput("this page link is damaged; start from the first page", field=name)
    return when, ident


def dump_timestamp(moment: datetime) -> str:
    """A time written in RFC 3339, in UTC, as `parse_timestamp` reads it back (a time without
    a zone, as SQLite may return it, is taken to be in UTC)."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")
