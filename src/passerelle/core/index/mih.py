"""Multi-index hashing for PDQ in NumPy: exact Hamming range search, fast at any size.

The 256 bits are cut into 16 sub-hashes of 16 bits, each kept sorted. A hash within `radius`
of the query has, by the pigeonhole principle, at least one sub-hash within
`nflip = radius // 16` bits of the query's: probing every sub-hash value within `nflip` bits
finds every candidate, whose exact distance is then computed. Queries are answered in batches,
vectorised end to end. New hashes go to a small unsorted buffer searched by brute force and
merged into the sorted tables when it grows, so adding never rebuilds the whole index at once.
Persists as a NumPy archive of the codes and keys (no pickle)."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from pathlib import Path

import numpy as np

from passerelle.core.errors import InvalidInput

TABLES = 16
SUB_BITS = 16
WORDS = 4  # 256 bits as four 64-bit words
MIN_BUFFER = 4096


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
    counts: np.ndarray = np.bitwise_count(left ^ right).sum(axis=1, dtype=np.int64)
    return counts


class MihIndex:
    def __init__(self, *, radius: int = 31) -> None:
        if not 0 <= radius <= 63:
            raise InvalidInput(f"PDQ radius must be 0-63, got {radius}")
        self.radius = radius
        self._masks = _flip_masks(radius // TABLES)
        self._codes = np.empty((0, WORDS), dtype=np.uint64)
        self._keys = np.empty(0, dtype=np.int64)
        self._starts = np.zeros((TABLES << SUB_BITS) + 1, dtype=np.int64)
        self._positions = np.empty(0, dtype=np.int32)
        self._prefix = np.empty((0, 2), dtype=np.uint64)
        self._buffer_codes: list[np.ndarray] = []
        self._buffer_keys: list[np.ndarray] = []
        self._buffered = 0

    def __len__(self) -> int:
        return len(self._keys) + self._buffered

    @property
    def nbytes(self) -> int:
        """Memory held by the index's arrays (about 360 MB per million hashes)."""
        arrays = (self._codes, self._keys, self._starts, self._positions, self._prefix)
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
        # One sorted array for all tables: (table << 16 | sub-hash), so that a whole batch of
        # probes is answered by two binary searches.
        subs = _sub_hashes(self._codes)  # (n, 16)
        tagged = (np.arange(TABLES, dtype=np.int64)[None, :] << SUB_BITS) | subs
        flat = tagged.ravel()  # element i*16+t holds (t << 16 | sub-hash t of code i)
        order = np.argsort(flat, kind="stable")
        self._positions = (order // TABLES).astype(np.int32)
        # Bucket boundaries by direct address: bucket b is _positions[_starts[b]:_starts[b+1]].
        counts = np.bincount(flat, minlength=TABLES << SUB_BITS)
        self._starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        # The first 128 bits of each code, laid out in bucket order: candidates of one bucket
        # are read contiguously, and a partial distance above the radius rules one out
        # before its whole code is fetched from a random place in memory.
        self._prefix = self._codes[self._positions, :2]

    def query(
        self, values: Sequence[str], radius: int | None = None
    ) -> list[list[tuple[int, int]]]:
        """For each query hash, (key, distance) of every stored hash within `radius`."""
        limit = self.radius if radius is None else radius
        if limit > self.radius:
            raise InvalidInput(f"this index guarantees recall up to radius {self.radius}")
        queries = codes_of(values)
        pairs: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        if len(self._keys):
            q_index, slots = self._candidates(queries)
            near = _distances(self._prefix[slots], queries[q_index, :2]) <= limit
            q_index, positions = q_index[near], self._positions[slots[near]]
            d = _distances(self._codes[positions], queries[q_index])
            keep = d <= limit
            # A true neighbour is reached through several sub-hashes: keep each pair once.
            unique = np.unique(q_index[keep] * len(self._keys) + positions[keep])
            rows, found = unique // len(self._keys), unique % len(self._keys)
            d_found = _distances(self._codes[found], queries[rows])
            pairs.append((rows, self._keys[found], d_found))
        if self._buffered:
            codes = np.vstack(self._buffer_codes)
            keys = np.concatenate(self._buffer_keys)
            for query in range(len(queries)):
                d = _distances(codes, queries[query][None, :])
                keep = d <= limit
                pairs.append((np.full(int(keep.sum()), query, dtype=np.int64), keys[keep], d[keep]))
        results: list[list[tuple[int, int]]] = [[] for _ in values]
        if not pairs:
            return results
        for rows, keys_found, dists in pairs:
            for row, key, distance in zip(
                rows.tolist(), keys_found.tolist(), dists.tolist(), strict=True
            ):
                results[row].append((key, distance))
        return results

    def _candidates(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(query index, slot in bucket order) of every stored hash sharing a probed
        sub-hash (with repeats: a hash sharing several sub-hashes is listed once per table)."""
        tables = np.arange(TABLES, dtype=np.int64)[None, :, None] << SUB_BITS
        subs = _sub_hashes(queries)
        probes = (tables | (subs[:, :, None] ^ self._masks[None, None, :])).ravel()
        low = self._starts[probes]
        counts = self._starts[probes + 1] - low
        total = int(counts.sum())
        per_query = TABLES * len(self._masks)
        query_of_probe = np.repeat(np.arange(len(queries), dtype=np.int64), per_query)
        offsets = np.repeat(low - (np.cumsum(counts) - counts), counts)
        return np.repeat(query_of_probe, counts), offsets + np.arange(total)

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
