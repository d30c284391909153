"""The audit of look-ups by count, written in short transactions rather than one per call.

Every call of the match API is counted (calls, signals by type, matched), never its content.
Writing one hash-chained audit event per call made each call wait for a transaction of its
own, and calls from several clients wait for each other's. Instead the counts of one user and
source are kept in memory and written as one `match.looked_up` event at most once a `period`
(the first call of a quiet user is written at once: in its own call, or by the background
writer right after the answer when the caller must not wait for the database, as the match
API's answers from memory); the background thread writes what is left after each period, and
`close()` (on the server's clean shutdown) writes the rest. A crash can lose at most the last
period's counts, never a state change: looking up changes nothing."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from passerelle.core.audit import AuditEntry
from passerelle.core.ports import UnitOfWork

LOG = logging.getLogger(__name__)
UnitOfWorkFactory = Callable[[], AbstractContextManager[UnitOfWork]]
Key = tuple[str, str, str]  # agency id, username, source


@dataclass(slots=True)
class _Pending:
    calls: int = 0
    signals: int = 0
    matched: int = 0
    generation: int = 0
    by_type: Counter[str] = field(default_factory=Counter)

    def details(self, source: str) -> dict[str, object]:
        return {
            "source": source,
            "calls": self.calls,
            "signals": self.signals,
            "by_type": dict(sorted(self.by_type.items())),
            "matched": self.matched,
            "generation": self.generation,
        }


class LookupAudit:
    """Counts of look-ups not yet in the audit log, written per user and source at most once
    a `period` seconds, and all of them by `flush()` and `close()`."""

    def __init__(
        self,
        open_write: UnitOfWorkFactory,
        *,
        period: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._open_write = open_write
        self._period = period
        self._clock = clock
        self._pending: dict[Key, _Pending] = {}
        self._written_at: dict[Key, float] = {}
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._stop = threading.Event()
        self._due = threading.Event()  # wakes the background writer before its period ends
        self._thread: threading.Thread | None = None

    def record(
        self,
        *,
        agency_id: str,
        username: str,
        source: str,
        by_type: Counter[str],
        matched: int,
        generation: int,
        wait: bool = True,
    ) -> None:
        """Count one call. A count that is due is written in this call, or with `wait=False`
        by the background writer at once (this call never touches the database)."""
        key = (agency_id, username, source)
        now = self._clock()
        with self._lock:
            pending = self._pending.setdefault(key, _Pending())
            pending.calls += 1
            pending.signals += sum(by_type.values())
            pending.by_type.update(by_type)
            pending.matched += matched
            pending.generation = max(pending.generation, generation)
            due = now - self._written_at.get(key, -self._period) >= self._period
            if not due or not wait:
                self._start()
            if due and not wait:
                self._due.set()
        if due and wait:
            self._write([key])

    def flush(self) -> None:
        """Write every count kept (one event per user and source)."""
        with self._lock:
            keys = list(self._pending)
        self._write(keys)

    def close(self) -> None:
        """Stop the background writer and write what is left (the server's clean shutdown)."""
        self._stop.set()
        self._due.set()
        thread = self._thread
        if thread is not None:
            thread.join()
        self.flush()

    def _start(self) -> None:
        """The background writer, started by the first count left waiting (lock held)."""
        if self._thread is None and not self._stop.is_set():
            self._thread = threading.Thread(target=self._run, name="lookup-audit", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._due.wait(self._period)
            self._due.clear()
            if self._stop.is_set():
                return  # close() writes the rest
            try:
                self.flush()
            except Exception:  # the counts are kept for the next try; the server goes on
                LOG.exception("look-up counts not written to the audit log yet")

    def _write(self, keys: list[Key]) -> None:
        # One writer at a time, so that the events of a key keep their order; counts taken
        # out only inside the transaction that writes them, put back if it fails.
        with self._write_lock:
            with self._lock:
                taken = {k: self._pending.pop(k) for k in keys if k in self._pending}
                now = self._clock()
                for key in taken:
                    self._written_at[key] = now
            if not taken:
                return
            try:
                with self._open_write() as uow:
                    for (agency_id, username, source), pending in taken.items():
                        uow.audit.append(
                            AuditEntry(
                                action="match.looked_up",
                                actor=username,
                                agency_id=agency_id,
                                object_type="agency",
                                object_id=agency_id,
                                details=pending.details(source),
                            )
                        )
                    uow.commit()
            except BaseException:
                with self._lock:
                    for key, pending in taken.items():
                        merged = self._pending.setdefault(key, _Pending())
                        merged.calls += pending.calls
                        merged.signals += pending.signals
                        merged.by_type.update(pending.by_type)
                        merged.matched += pending.matched
                        merged.generation = max(merged.generation, pending.generation)
                raise
