"""The banks console at volume: one bank of N md5 entries (default 100,000) on SQLite, filled
through the bank repository (the counting triggers run on every row); then the median and
p95 over 20 reads of the first page, a page deep in the bank (keyset), a prefix search, and
the bank list with its counts; beside them, in the same run, the reads the console made
before (grouped counts over every entry, a LIKE prefix search).

    python -m benchmarks.bench_banks [N]
"""

from __future__ import annotations

import hashlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from passerelle.core.bank import EntryQuery, NewEntry
from passerelle.core.signals import Signal
from passerelle.core.taxonomy import Labels
from passerelle.db.engine import make_engine
from passerelle.db.migrate import upgrade
from passerelle.db.models import BankEntryRow
from passerelle.db.session import Database
from passerelle.services.admin import create_agency
from passerelle.services.banks import create_bank

SECRET = "bench-banks-secret-0123456789abcdef"  # noqa: S105 (a throw-away database)


def timed(label: str, read: Callable[[], object], runs: int = 20) -> None:
    timings = []
    for _ in range(runs):
        began = time.perf_counter()
        read()
        timings.append((time.perf_counter() - began) * 1000)
    timings.sort()
    p95 = timings[max(0, round(0.95 * len(timings)) - 1)]
    print(f"{label:42s} p50 {statistics.median(timings):8.1f} ms   p95 {p95:8.1f} ms")


def main() -> None:
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as folder:
        database = Database(make_engine(f"sqlite:///{Path(folder) / 'b.db'}"), secret=SECRET)
        upgrade(database.engine)
        began = time.perf_counter()
        with database.unit_of_work(write=True) as uow:
            agency = create_agency(uow, code="unite-a", name="Unité de mesure", jurisdiction="FR")
            bank = create_bank(uow, agency_code="unite-a", name="connu", actor="bench")
            for start in range(0, size, 10_000):
                uow.banks.add_entries(
                    bank.id,
                    [
                        NewEntry(
                            Signal("md5", hashlib.md5(f"neutre {n}".encode()).hexdigest()),  # noqa: S324
                            Labels(),
                        )
                        for n in range(start, min(size, start + 10_000))
                    ],
                )
            uow.commit()
        print(f"filled {size:,} entries in {time.perf_counter() - began:.1f} s ({os.getloadavg()})")
        now = datetime.now(UTC)
        with database.unit_of_work() as uow:
            page = uow.banks.find_entries(bank.id, EntryQuery(), now=now, limit=51)
            for _ in range(200):
                last = page[-1]
                page = uow.banks.find_entries(
                    bank.id,
                    EntryQuery(after=(last.moment, last.entry.id)),
                    now=now,
                    limit=51,
                )
            deep = (page[-1].moment, page[-1].entry.id)
            timed(
                "first page (50)",
                lambda: uow.banks.find_entries(bank.id, EntryQuery(), now=now, limit=51),
            )
            timed(
                "page 10,000 entries deep (keyset)",
                lambda: uow.banks.find_entries(bank.id, EntryQuery(after=deep), now=now, limit=51),
            )
            timed(
                "prefix search 'abc' (index range)",
                lambda: uow.banks.find_entries(
                    bank.id, EntryQuery(prefix="abc"), now=now, limit=51
                ),
            )
            timed(
                "  before: LIKE 'abc%'",
                lambda: uow.session.execute(  # type: ignore[attr-defined]
                    select(BankEntryRow.id)
                    .where(BankEntryRow.bank_id == bank.id, BankEntryRow.value.like("abc%"))
                    .order_by(BankEntryRow.added_at.desc())
                    .limit(51)
                ).all(),
            )
            timed("bank list with counts (kept counts)", lambda: uow.banks.summaries(agency.id))
            timed(
                "  before: grouped counts over entries",
                lambda: [
                    uow.session.execute(  # type: ignore[attr-defined]
                        select(BankEntryRow.bank_id, column, func.count())
                        .where(BankEntryRow.bank_id == bank.id)
                        .group_by(BankEntryRow.bank_id, column)
                    ).all()
                    for column in (
                        BankEntryRow.signal_type,
                        BankEntryRow.tlp,
                        BankEntryRow.distribution,
                    )
                ],
            )


if __name__ == "__main__":
    main()
