"""Persisted jobs: what runs outside the request path, on a schedule, once at a time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from passerelle.core.message import Message

RECHECK = "recheck"
PURGE = "purge"
FETCH_REPORTS = "fetch_reports"
SYNC = "sync"  # pull the partners' feeds
INTERVALS = {
    SYNC: timedelta(minutes=15),
    RECHECK: timedelta(hours=1),
    PURGE: timedelta(days=1),
    FETCH_REPORTS: timedelta(minutes=10),
}
LEASE = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    kind: str
    agency_id: str
    run_at: datetime
    runs: int
    last_error: Message | None
    last_run_at: datetime | None
