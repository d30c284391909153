"""Multi-index hashing for PDQ in NumPy: exact Hamming range search, fast at any size.

The 256 bits are cut into 16 sub-hashes of 16 bits, each kept sorted. A hash within `radius`
of the query has, by the pigeonhole principle, at least one sub-hash within
`nflip = radius // 16` bits of the query's: probing every sub-hash value within `nflip` bits
finds every candidate, whose exact distance is then computed. Queries are answered in batches,
vectorised end to end. New hashes go to a small unsorted buffer searched by brute force and
merged into the sorted tables when it grows, so adding never rebuilds the whole index at once.
The tables are plain arrays (`MihTables`), so that the persisted index (`store.py`) opens them
memory-mapped, without sorting anything again. `MihIndex` is the in-memory index over them.
Persists as a NumPy archive of the codes and keys (no pickle)."""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from itertools import combinations
from pathlib import Path

import numpy as np

from passerelle.core.errors import InvalidInput

TABLES = 16
SUB_BITS = 16
WORDS = 4  # 256 bits as four 64-bit words
MIN_BUFFER = 4096
# Query-by-code comparisons held at once by a brute-force search (bounds its memory).
BRUTE_BLOCK = 1 << 20
# glibc's mallopt parameters, and what the tables' searches want of them.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_SCRATCH_IN_HEAP = 32 << 20
_HEAP_KEPT = 128 << 20
_scratch_kept = False


def _keep_scratch_in_heap() -> None:
    """Have the C allocator keep a search's temporaries in its heap (once per process).

    A query's candidates (some 40,000 records of 16 bytes at 10 million hashes, a batch's
    more) are above glibc's first threshold for giving memory its own mapping: each array was
    mapped fresh, faulted in page by page and unmapped again, some 300 page faults a query
    and most of its time (a tenth of the rate at 10 million). Arrays up to 32 MB now come
    from the heap, and the heap keeps up to 128 MB free for the next query instead of giving
    it back. Other C libraries (no `mallopt`) are left as they are."""
    global _scratch_kept
    if _scratch_kept:
        return
    _scratch_kept = True
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt(_M_TRIM_THRESHOLD, _HEAP_KEPT)
    mallopt(_M_MMAP_THRESHOLD, _SCRATCH_IN_HEAP)


def codes_of(values: Sequence[str]) -> np.ndarray:
    if not values:
        return np.empty((0, WORDS), dtype=np.uint64)
    return np.frombuffer(bytes.fromhex("".join(values)), dtype="<u8").reshape(-1, WORDS).copy()


def _flip_masks(nflip: int) -> np.ndarray:
    masks = [0]
    for count in range(1, nflip + 1):
        for bits in combinations(range(SUB_BITS), count):
            masks.append(sum(1 << b for b in bits))
    return np.asarray(masks, dtype=np.int64)


def _sub_hashes(codes: np.ndarray) -> np.ndarray:
    """The 16 sub-hashes of each code, as a (n, 16) array: the little-endian 64-bit words
    seen as 16-bit ones are exactly the consecutive 16-bit slices."""
    return codes.astype("<u8", copy=False).view("<u2").astype(np.int64)


def _distances(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Hamming distance of each row pair of two (n, 4) uint64 arrays."""
    return _row_sums(np.bitwise_count(_flat(left) ^ _flat(right)), WORDS)


def _flat(codes: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(codes, dtype=np.uint64).reshape(-1)


def _row_sums(counts: np.ndarray, width: int) -> np.ndarray:
    """Sums of consecutive groups of `width` in a flat array of bit counts. NumPy loops over
    the last axis of a 2-D array one short row at a time, so strided 1-D adds are used
    (tens of times faster on rows of 2 or 4 words)."""
    total = counts[0::width].astype(np.int64)
    for word in range(1, width):
        total += counts[word::width]
    return total


def _rows_of(array: np.ndarray) -> np.ndarray:
    """A (n, w) uint64 array seen as n opaque records of w words: gathering records by index
    is one memory copy each, unlike fancy indexing of a 2-D array row by row."""
    contiguous = np.ascontiguousarray(array)
    return contiguous.view(np.dtype((np.void, 8 * contiguous.shape[1]))).reshape(-1)


class MihTables:
    """The sorted sub-hash tables of a set of codes: bucket b (table t, sub-hash value v,
    b = t << 16 | v) holds the codes `positions[starts[b]:starts[b + 1]]`; `prefix` holds the
    first 128 bits of those codes in the same order, read contiguously. The arrays may be
    memory-mapped; the search reads them through plain views made once, here."""

    __slots__ = (
        "_codes",
        "_positions",
        "_prefix",
        "_starts",
        "codes",
        "positions",
        "prefix",
        "starts",
    )

    def __init__(
        self, starts: np.ndarray, positions: np.ndarray, prefix: np.ndarray, codes: np.ndarray
    ) -> None:
        self.starts = starts  # int64, (16 << 16) + 1
        self.positions = positions  # int32, 16 n
        self.prefix = prefix  # uint64, (16 n, 2)
        self.codes = codes  # uint64, (n, 4): the codes the tables index
        _keep_scratch_in_heap()
        self._starts = np.asarray(starts, dtype=np.int64)
        self._positions = np.asarray(positions)
        self._prefix = _rows_of(np.asarray(prefix, dtype=np.uint64).reshape(-1, 2))
        self._codes = _rows_of(np.asarray(codes, dtype=np.uint64).reshape(-1, WORDS))


def build_tables(codes: np.ndarray) -> MihTables:
    """The tables of `codes`, one table at a time (a stable radix sort of 16-bit keys each,
    so that building 10 million needs a few hundred megabytes beside the result)."""
    codes = np.ascontiguousarray(codes, dtype=np.uint64).reshape(-1, WORDS)
    size = len(codes)
    subs = codes.view("<u2")  # (n, 16): sub-hash t of code i at [i, t]
    heads = _rows_of(codes[:, :2])
    starts = np.zeros((TABLES << SUB_BITS) + 1, dtype=np.int64)
    positions = np.empty(TABLES * size, dtype=np.int32)
    prefix = np.empty((TABLES * size, 2), dtype=np.uint64)
    records = _rows_of(prefix)
    for table in range(TABLES):
        keys = np.ascontiguousarray(subs[:, table])
        order = np.argsort(keys, kind="stable").astype(np.int32)
        span = slice(table * size, (table + 1) * size)
        positions[span] = order
        records[span] = heads[order]
        counts = np.bincount(keys, minlength=1 << SUB_BITS)
        first = table << SUB_BITS
        starts[first + 1 : first + (1 << SUB_BITS) + 1] = table * size + np.cumsum(counts)
    return MihTables(starts=starts, positions=positions, prefix=prefix, codes=codes)


def flip_masks(radius: int) -> np.ndarray:
    return _flip_masks(radius // TABLES)


def search_tables(
    tables: MihTables, queries: np.ndarray, limit: int, masks: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(query row, code row, distance) of every code within `limit` of a query, each pair once.
    `masks` must come from `flip_masks(r)` with r >= limit.

    Every step works on flat arrays: the candidates of the probed buckets are read as 16-byte
    records (their first 128 bits, in bucket order, so each bucket is one contiguous read),
    compared with the query's first 128 bits, and only the few within `limit` there are read
    whole and compared on all 256 bits."""
    empty = np.empty(0, dtype=np.int64)
    if not len(tables.codes) or not len(queries):
        return empty, empty, empty
    queries = np.ascontiguousarray(queries, dtype=np.uint64)
    if len(queries) == 1:
        return _search_one(tables, queries, limit, masks)
    q_index, slots = _probe(tables._starts, queries, masks)
    prefixes = tables._prefix[slots].view(np.uint64)
    wanted = _rows_of(queries[:, :2])[q_index].view(np.uint64)
    near = np.flatnonzero(_row_sums(np.bitwise_count(prefixes ^ wanted), 2) <= limit)
    q_index = q_index[near]
    positions = tables._positions[slots[near]].astype(np.int64)
    d = _distances(tables._codes[positions].view(np.uint64), queries[q_index])
    keep = d <= limit
    # A true neighbour is reached through several sub-hashes: keep each pair once.
    size = len(tables.codes)
    unique, first = np.unique(q_index[keep] * size + positions[keep], return_index=True)
    return unique // size, unique % size, d[keep][first]


# Queries probed together: enough to pay for NumPy's per-call cost, few enough that their
# candidates stay in the processor's caches (a whole batch at once is slower at 1M hashes).
QUERY_BLOCK = 32


def search_in_blocks(
    tables: MihTables, queries: np.ndarray, limit: int, masks: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if len(queries) <= QUERY_BLOCK:
        return search_tables(tables, queries, limit, masks)
    parts = []
    for first in range(0, len(queries), QUERY_BLOCK):
        q, c, d = search_tables(tables, queries[first : first + QUERY_BLOCK], limit, masks)
        parts.append((q + first, c, d))
    return (
        np.concatenate([p[0] for p in parts]),
        np.concatenate([p[1] for p in parts]),
        np.concatenate([p[2] for p in parts]),
    )


def _search_one(
    tables: MihTables, query: np.ndarray, limit: int, masks: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`search_tables` for one query, with as few NumPy calls as can be (their fixed cost is
    most of a single query's time): its words are compared as scalars, no row is gathered
    for the query's side."""
    probes = ((_sub_hashes(query)[0] | _TABLE_BASES)[:, None] ^ masks[None, :]).reshape(-1)
    starts = tables._starts
    low = starts[probes]
    counts = starts[probes + 1] - low
    ends = np.cumsum(counts)
    total = int(ends[-1])
    slots = np.repeat(low - ends + counts, counts)
    slots += np.arange(total)
    prefixes = tables._prefix[slots].view(np.uint64)
    words = query[0]
    d = np.bitwise_count(prefixes[0::2] ^ words[0])
    d += np.bitwise_count(prefixes[1::2] ^ words[1])
    near = np.flatnonzero(d <= limit)
    if not len(near):
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, empty
    positions = _distinct(tables._positions[slots[near]].astype(np.int64))
    full = tables._codes[positions].view(np.uint64)
    d = np.bitwise_count(full[0::4] ^ words[0]).astype(np.int64)
    for word in range(1, WORDS):
        d += np.bitwise_count(full[word::4] ^ words[word])
    keep = np.flatnonzero(d <= limit)
    return np.zeros(len(keep), dtype=np.int64), positions[keep], d[keep]


def _distinct(values: np.ndarray) -> np.ndarray:
    """The distinct values, sorted: `np.unique` without its look for masked arrays, which
    imports `numpy.ma` (tens of milliseconds of a one-image `scan` spent on an import)."""
    values = np.sort(values)
    if len(values) < 2:
        return values
    keep = np.empty(len(values), dtype=bool)
    keep[0] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


def brute_search(
    codes: np.ndarray, queries: np.ndarray, limit: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The same answer by comparing every code, in blocks that bound memory: one word at a
    time, so that NumPy's inner loop runs along the stored codes."""
    rows: list[np.ndarray] = []
    found: list[np.ndarray] = []
    dists: list[np.ndarray] = []
    if len(codes) and len(queries):
        codes = np.asarray(codes, dtype=np.uint64)
        columns = [np.ascontiguousarray(codes[:, word]) for word in range(WORDS)]
        step = max(1, BRUTE_BLOCK // len(codes))
        for first in range(0, len(queries), step):
            block = np.asarray(queries[first : first + step], dtype=np.uint64)
            d = np.zeros((len(block), len(codes)), dtype=np.int64)
            for word, column in enumerate(columns):
                d += np.bitwise_count(block[:, word : word + 1] ^ column[None, :])
            q, c = np.nonzero(d <= limit)
            rows.append(q + first)
            found.append(c)
            dists.append(d[q, c])
    if not rows:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, empty
    return (
        np.concatenate(rows).astype(np.int64),
        np.concatenate(found).astype(np.int64),
        np.concatenate(dists),
    )


_TABLE_BASES = np.arange(TABLES, dtype=np.int64) << SUB_BITS


def _probe(
    starts: np.ndarray, queries: np.ndarray, masks: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(query index, slot in bucket order) of every stored hash sharing a probed sub-hash
    (with repeats: a hash sharing several sub-hashes is listed once per table)."""
    subs = _sub_hashes(queries)
    probes = ((subs | _TABLE_BASES)[:, :, None] ^ masks[None, None, :]).reshape(-1)
    low = starts[probes]
    counts = starts[probes + 1] - low
    ends = np.cumsum(counts)
    total = int(ends[-1])
    # Slot k of probe p is low[p] + k: one run of consecutive slots per probe.
    slots = np.repeat(low - (ends - counts), counts) + np.arange(total)
    if len(queries) == 1:
        return np.zeros(total, dtype=np.int64), slots
    per_query = ends[len(masks) * TABLES - 1 :: len(masks) * TABLES]
    q_index = np.repeat(np.arange(len(queries), dtype=np.int64), np.diff(per_query, prepend=0))
    return q_index, slots


class MihIndex:
    def __init__(self, *, radius: int = 31) -> None:
        if not 0 <= radius <= 63:
            raise InvalidInput("PDQ radius must be 0-63, got %(radius)s", radius=radius)
        self.radius = radius
        self._masks = flip_masks(radius)
        self._codes = np.empty((0, WORDS), dtype=np.uint64)
        self._keys = np.empty(0, dtype=np.int64)
        self._tables = build_tables(self._codes)
        self._buffer_codes: list[np.ndarray] = []
        self._buffer_keys: list[np.ndarray] = []
        self._buffered = 0

    def __len__(self) -> int:
        return len(self._keys) + self._buffered

    @property
    def nbytes(self) -> int:
        """Memory held by the index's arrays (about 360 MB per million hashes)."""
        t = self._tables
        arrays = (self._codes, self._keys, t.starts, t.positions, t.prefix)
        return sum(a.nbytes for a in arrays)

    def add(self, values: Sequence[str], keys: Sequence[int]) -> None:
        if len(values) != len(keys):
            raise InvalidInput("as many keys as hashes are needed")
        self._buffer_codes.append(codes_of(values))
        self._buffer_keys.append(np.asarray(keys, dtype=np.int64))
        self._buffered += len(values)
        if self._buffered > max(MIN_BUFFER, len(self._keys) // 8):
            self.compact()

    def compact(self) -> None:
        """Move buffered hashes into the sorted tables (done on its own as the buffer grows)."""
        if not self._buffered:
            return
        self._codes = np.vstack([self._codes, *self._buffer_codes])
        self._keys = np.concatenate([self._keys, *self._buffer_keys])
        self._buffer_codes, self._buffer_keys, self._buffered = [], [], 0
        self._tables = build_tables(self._codes)

    def query(
        self, values: Sequence[str], radius: int | None = None
    ) -> list[list[tuple[int, int]]]:
        """For each query hash, (key, distance) of every stored hash within `radius`."""
        limit = self.radius if radius is None else radius
        if limit > self.radius:
            raise InvalidInput(
                "this index guarantees recall up to radius %(radius)s", radius=self.radius
            )
        queries = codes_of(values)
        pairs = [search_in_blocks(self._tables, queries, limit, self._masks)]
        pairs[0] = (pairs[0][0], self._keys[pairs[0][1]], pairs[0][2])
        if self._buffered:
            rows, found, dists = brute_search(np.vstack(self._buffer_codes), queries, limit)
            pairs.append((rows, np.concatenate(self._buffer_keys)[found], dists))
        results: list[list[tuple[int, int]]] = [[] for _ in values]
        for rows, keys_found, dists in pairs:
            for row, key, distance in zip(
                rows.tolist(), keys_found.tolist(), dists.tolist(), strict=True
            ):
                results[row].append((key, distance))
        return results

    def dump(self, path: Path) -> None:
        self.compact()
        np.savez(path, codes=self._codes, keys=self._keys, radius=np.int64(self.radius))

    @classmethod
    def load(cls, path: Path) -> MihIndex:
        with np.load(path, allow_pickle=False) as stored:
            index = cls(radius=int(stored["radius"]))
            index._buffer_codes = [stored["codes"]]
            index._buffer_keys = [stored["keys"]]
            index._buffered = len(stored["keys"])
        index.compact()
        return index
