"""The matchers of the agencies, loaded from their indexes on disk and kept current.

An agency's index lives in `<index root>/<agency id>/` (see `core.index.store`). Opening it
reads the bank generation (one row): equal to the index's, the index is used as it is; newer,
the entries added and withdrawn since are read and written as a delta; the index missing,
damaged or ahead of the database (restored from a backup), it is rebuilt from the database.
Only one process writes an index at a time (a file lock); the others wait and reuse its work.

`MatcherCache` is what a long-running process (the server, the job runner) keeps: the matcher
of each agency in memory, checked against the generation at most once a `period`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from passerelle.core.index.store import (
    MatchIndex,
    StaleIndex,
    UnusableIndex,
    open_index,
    read_header,
    save,
    writing,
)
from passerelle.core.match import Matcher

if TYPE_CHECKING:  # the domain's ports, for types only: `scan` never loads them
    from passerelle.core.ports import UnitOfWork


def current_index(
    uow: UnitOfWork, *, agency_id: str, path: Path, known: MatchIndex | None = None
) -> MatchIndex:
    """The agency's index at `path`, brought up to the database's bank generation."""
    upto = uow.banks.generation()
    if known is not None and known.generation == upto:
        return known
    index = known
    if index is None:
        try:
            index = open_index(path)
        except UnusableIndex:
            index = None
    if index is not None and index.generation == upto:
        return index
    with writing(path):
        # Another process may have brought the index up to date while this one waited.
        try:
            on_disk = int(read_header(path)["generation"])  # type: ignore[call-overload]
        except UnusableIndex:
            on_disk = -1
        if index is None or on_disk != index.generation:
            try:
                index = open_index(path)
            except UnusableIndex:
                index = None
        if index is not None and index.generation == upto:
            return index
        banks = uow.banks.list(agency_id)
        removed: list[str] = []
        if index is not None and index.generation < upto:
            try:
                removed = uow.banks.removed_entries(agency_id, after=index.generation, upto=upto)
            except StaleIndex:  # withdrawals it lacks were pruned: rebuilt below
                index = None
        if index is not None and index.generation < upto:
            changed = index.with_changes(
                banks=banks,
                added=uow.banks.index_entries(agency_id, after=index.generation, upto=upto),
                removed=removed,
                generation=upto,
            )
        else:
            changed = MatchIndex.build(
                banks, uow.banks.index_entries(agency_id, after=-1, upto=upto), generation=upto
            )
        return save(changed, path)


def open_matcher(
    uow: UnitOfWork,
    *,
    agency_id: str,
    index_root: Path,
    bank_ids: list[str] | None = None,
    known: Matcher | None = None,
) -> Matcher:
    index = current_index(
        uow,
        agency_id=agency_id,
        path=index_root / agency_id,
        known=known.index if known is not None else None,
    )
    return Matcher(index).restricted(bank_ids)


@dataclass(slots=True)
class _Cached:
    matcher: Matcher
    checked_at: float


class MatcherCache:
    """The matcher of each agency, in memory, following the bank generation: checked at most
    once a `period` seconds (one row read), caught up when it moved."""

    def __init__(self, index_root: Path, *, period: float = 1.0) -> None:
        self._root = index_root
        self._period = period
        self._cached: dict[str, _Cached] = {}
        self._lock = threading.Lock()

    def known(self, agency_id: str, clock: Callable[[], float] = time.monotonic) -> Matcher | None:
        """The agency's matcher if it was checked within the period, without the database;
        None when it must be checked (`matcher`)."""
        cached = self._cached.get(agency_id)
        if cached is not None and clock() - cached.checked_at < self._period:
            return cached.matcher
        return None

    def matcher(
        self,
        agency_id: str,
        unit_of_work: Callable[[], AbstractContextManager[UnitOfWork]],
        clock: Callable[[], float] = time.monotonic,
    ) -> Matcher:
        now = clock()
        cached = self._cached.get(agency_id)
        if cached is not None and now - cached.checked_at < self._period:
            return cached.matcher
        with self._lock:
            cached = self._cached.get(agency_id)
            if cached is not None and now - cached.checked_at < self._period:
                return cached.matcher
            with unit_of_work() as uow:
                matcher = open_matcher(
                    uow,
                    agency_id=agency_id,
                    index_root=self._root,
                    known=cached.matcher if cached is not None else None,
                )
            self._cached[agency_id] = _Cached(matcher, now)
            return matcher
