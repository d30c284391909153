"""Running the pipeline over many items on several processes, results in input order.

Items are scanned in windows: each window's signals are matched in one batch (see
`scan.scan_many`), and a payload met again in the scan is not fingerprinted again
(`scan.SeenPayloads`, one per process).

With `workers` N, N processes scan: the reading process and N - 1 forked from a server process
that has imported the pipeline once (no worker imports anything again); each opens the same
index files memory-mapped (the operating system shares their pages; nothing is rebuilt or
pickled); an index held only in memory is written to a temporary folder first. The reading
process keeps a few windows in flight per forked worker and scans the next window itself
whenever they are all taken: no core waits while the workers start (a second or more on a busy
machine), and reading, scanning and writing the results share the cores as the work comes.
The language of the results is detected by the reading process (its model loads there once,
when a first result needs it), not in each worker. Problems pass through untouched."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from passerelle.core.content import Content
from passerelle.core.index.store import UnusableIndex, open_index, save, writing
from passerelle.core.match import Matcher
from passerelle.scan import (
    ScanOptions,
    ScanResult,
    SeenPayloads,
    Unsettled,
    scan_many,
    scan_many_unsettled,
    settle,
)

if TYPE_CHECKING:
    from concurrent.futures import Future

_STATE: dict[str, object] = {}
# Items whose signals are matched together, and the unit of work sent to a worker.
MATCH_BATCH = 32
# Windows handed to the workers ahead of the one whose results are awaited, per worker:
# bounds memory on crawls of any size while no worker waits for the reader.
WINDOWS_IN_FLIGHT_PER_WORKER = 3
# Windows whose results wait for an earlier one (scanned here while a worker still has it):
# past this many, the reading process waits for the worker, so that memory stays bounded.
MAX_WINDOWS_PENDING = 32
# What the workers' server imports once, before forking them.
PRELOADED = (
    "passerelle.batch",
    "passerelle.core.signals.text",
    "passerelle.core.extract.html",  # the HTML parsers, loaded with the first page otherwise
    "passerelle.core.index.store",
    "PIL.JpegImagePlugin",
    "PIL.PngImagePlugin",
    "pdqhash",
)


def _init_worker(path: str, bank_ids: frozenset[str] | None, options: ScanOptions) -> None:
    try:
        index = open_index(Path(path), verify=False)
    except UnusableIndex:  # replaced by a newer one while this worker started: open that
        index = open_index(Path(path), verify=False)
    _single_threaded_faiss()
    _STATE["matcher"] = Matcher(index).restricted(bank_ids)
    _STATE["options"] = options
    _STATE["seen"] = SeenPayloads()


def _single_threaded_faiss() -> None:
    """One thread per worker: the workers already share the cores, and OpenMP threads only
    spin-wait on a small machine."""
    import sys

    faiss = sys.modules.get("faiss")
    if faiss is not None:
        faiss.omp_set_num_threads(1)


def _scan_window(items: list[object]) -> list[object]:
    """A window scanned in a worker: results come back unsettled (see `scan.Unsettled`)."""
    matcher, options, seen = _STATE["matcher"], _STATE["options"], _STATE["seen"]
    assert isinstance(matcher, Matcher) and isinstance(options, ScanOptions)  # set by _init_worker
    assert isinstance(seen, SeenPayloads)
    return _scan_unsettled(items, matcher, options, seen)


def _scan_unsettled(
    items: list[object], matcher: Matcher, options: ScanOptions, seen: SeenPayloads
) -> list[object]:
    contents = [item for item in items if isinstance(item, Content)]
    results = iter(scan_many_unsettled(contents, matcher, options, seen) if contents else ())
    return [next(results) if isinstance(item, Content) else item for item in items]


def _settled(items: list[object]) -> Iterator[object]:
    for item in items:
        yield settle(item) if isinstance(item, Unsettled) else item


def _windows(items: Iterable[object]) -> Iterator[list[object]]:
    window: list[object] = []
    for item in items:
        window.append(item)
        if len(window) >= MATCH_BATCH:
            yield window
            window = []
    if window:
        yield window


def _scan_some(
    items: list[object], matcher: Matcher, options: ScanOptions, seen: SeenPayloads
) -> Iterator[object]:
    contents = [item for item in items if isinstance(item, Content)]
    results = iter(scan_many(contents, matcher, options, seen)) if contents else iter(())
    for item in items:
        yield next(results) if isinstance(item, Content) else item


def scan_all(
    items: Iterable[object], *, matcher: Matcher, options: ScanOptions, workers: int = 1
) -> Iterator[ScanResult | object]:
    """Scan every `Content` of `items` (anything else is passed through), in order."""
    if workers <= 1:
        seen = SeenPayloads()
        for window in _windows(items):
            yield from _scan_some(window, matcher, options, seen)
        return
    # Loaded for workers only: a scan in one process (one image, say) never pays for them.
    import multiprocessing
    import tempfile
    from concurrent.futures import Future, ProcessPoolExecutor

    with tempfile.TemporaryDirectory(prefix="passerelle-index-") as scratch:
        path = matcher.index.path
        if path is None:
            path = Path(scratch)
            with writing(path):
                save(matcher.index, path)
        # A fork server, not fork: the reading process may run threads (a progress bar,
        # OpenMP) that a forked child would inherit half-way; not spawn: each worker would
        # import everything again.
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(list(PRELOADED))
        _single_threaded_faiss()  # this process scans too, beside the workers
        seen = SeenPayloads()
        forked = workers - 1
        with ProcessPoolExecutor(
            max_workers=forked,
            mp_context=context,
            initializer=_init_worker,
            initargs=(str(path), matcher.bank_ids, options),
        ) as pool:
            # Windows in input order: a worker's (a future) or one scanned here (its results).
            pending: deque[Future[list[object]] | list[object]] = deque()
            for window in _windows(items):
                in_flight = sum(not _is_done(waiting) for waiting in pending)
                if in_flight < WINDOWS_IN_FLIGHT_PER_WORKER * forked:
                    pending.append(pool.submit(_scan_window, window))
                else:
                    pending.append(_scan_unsettled(window, matcher, options, seen))
                while pending and (len(pending) > MAX_WINDOWS_PENDING or _is_done(pending[0])):
                    head = pending.popleft()
                    yield from _settled(head.result() if isinstance(head, Future) else head)
            while pending:
                head = pending.popleft()
                yield from _settled(head.result() if isinstance(head, Future) else head)


def _is_done(window: Future[list[object]] | list[object]) -> bool:
    return isinstance(window, list) or window.done()
