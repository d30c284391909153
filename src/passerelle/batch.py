"""Running the pipeline over many items on several processes, results in input order.

Each worker process builds its own matcher from the banks and entries (plain data, cheap to
send); FAISS indexes are never shared across a fork. Problems pass through untouched."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor

from passerelle.core.bank import Bank, BankEntry
from passerelle.core.content import Content
from passerelle.core.match import Matcher
from passerelle.scan import ScanOptions, ScanResult, scan

_STATE: dict[str, object] = {}
# Items held in memory at once per worker: bounds memory on crawls of any size.
WINDOW_PER_WORKER = 64


def _init_worker(banks: Sequence[Bank], entries: Sequence[BankEntry], options: ScanOptions) -> None:
    _STATE["matcher"] = Matcher.build(banks, entries)
    _STATE["options"] = options


def _scan_one(item: object) -> object:
    if not isinstance(item, Content):
        return item
    matcher = _STATE["matcher"]
    options = _STATE["options"]
    assert isinstance(matcher, Matcher) and isinstance(options, ScanOptions)  # set by _init_worker
    return scan(item, matcher, options)


def scan_all(
    items: Iterable[object],
    *,
    banks: Sequence[Bank],
    entries: Sequence[BankEntry],
    options: ScanOptions,
    workers: int = 1,
) -> Iterator[ScanResult | object]:
    """Scan every `Content` of `items` (anything else is passed through), in order."""
    if workers <= 1:
        matcher = Matcher.build(banks, entries)
        for item in items:
            yield scan(item, matcher, options) if isinstance(item, Content) else item
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_init_worker,
        initargs=(list(banks), list(entries), options),
    ) as pool:
        window: list[object] = []
        for item in items:
            window.append(item)
            if len(window) >= WINDOW_PER_WORKER * workers:
                yield from pool.map(_scan_one, window, chunksize=8)
                window = []
        yield from pool.map(_scan_one, window, chunksize=8)
