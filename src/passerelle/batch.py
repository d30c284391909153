"""Running the pipeline over many items on several processes, results in input order.

Items are scanned in windows: each window's signals are matched in one batch (see
`scan.scan_many`). With several workers, each process opens the same index files
memory-mapped (the operating system shares their pages; nothing is rebuilt or pickled); an
index held only in memory is written to a temporary folder first. Problems pass through
untouched."""

from __future__ import annotations

import multiprocessing
import tempfile
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from passerelle.core.content import Content
from passerelle.core.index.store import UnusableIndex, open_index, save, writing
from passerelle.core.match import Matcher
from passerelle.scan import ScanOptions, ScanResult, scan_many

_STATE: dict[str, object] = {}
# Items held in memory at once per worker: bounds memory on crawls of any size.
WINDOW_PER_WORKER = 64
# Items whose signals are matched together.
MATCH_BATCH = 32


def _init_worker(path: str, bank_ids: frozenset[str] | None, options: ScanOptions) -> None:
    try:
        index = open_index(Path(path), verify=False)
    except UnusableIndex:  # replaced by a newer one while this worker started: open that
        index = open_index(Path(path), verify=False)
    _STATE["matcher"] = Matcher(index).restricted(bank_ids)
    _STATE["options"] = options


def _scan_window(items: list[object]) -> list[object]:
    matcher = _STATE["matcher"]
    options = _STATE["options"]
    assert isinstance(matcher, Matcher) and isinstance(options, ScanOptions)  # set by _init_worker
    return list(_scan_in_batches(items, matcher, options))


def _scan_in_batches(
    items: Iterable[object], matcher: Matcher, options: ScanOptions
) -> Iterator[object]:
    window: list[object] = []
    for item in items:
        window.append(item)
        if len(window) >= MATCH_BATCH:
            yield from _scan_some(window, matcher, options)
            window = []
    yield from _scan_some(window, matcher, options)


def _scan_some(items: list[object], matcher: Matcher, options: ScanOptions) -> Iterator[object]:
    contents = [item for item in items if isinstance(item, Content)]
    results = iter(scan_many(contents, matcher, options)) if contents else iter(())
    for item in items:
        yield next(results) if isinstance(item, Content) else item


def scan_all(
    items: Iterable[object], *, matcher: Matcher, options: ScanOptions, workers: int = 1
) -> Iterator[ScanResult | object]:
    """Scan every `Content` of `items` (anything else is passed through), in order."""
    if workers <= 1:
        yield from _scan_in_batches(items, matcher, options)
        return
    with tempfile.TemporaryDirectory(prefix="passerelle-index-") as scratch:
        path = matcher.index.path
        if path is None:
            path = Path(scratch)
            with writing(path):
                save(matcher.index, path)
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            max_workers=workers,
            mp_context=context,
            initializer=_init_worker,
            initargs=(str(path), matcher.bank_ids, options),
        ) as pool:
            window: list[object] = []
            chunks: list[list[object]] = []
            for item in items:
                window.append(item)
                if len(window) >= MATCH_BATCH:
                    chunks.append(window)
                    window = []
                if len(chunks) >= WINDOW_PER_WORKER * workers // MATCH_BATCH:
                    for done in pool.map(_scan_window, chunks):
                        yield from done
                    chunks = []
            chunks.append(window)
            for done in pool.map(_scan_window, chunks):
                yield from done
