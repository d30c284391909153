"""PDQ look-up by Hamming radius with exact recall, on FAISS binary indexes.

Small collections use a flat (brute-force) index; large ones a multi-hash index whose 16
sub-hashes of 16 bits are probed with `nflip = radius // 16` flipped bits, which by the
pigeonhole principle finds every hash within `radius` (a hash missed by every probe differs
from the query in at least `nflip + 1` bits of each of the 16 sub-hashes, so in more than
`radius` bits). Both persist with FAISS's own file format, never pickle."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import faiss
import numpy as np

from passerelle.core.errors import InvalidInput

BITS = 256
NHASH = 16
SUBHASH_BITS = BITS // NHASH
FLAT_LIMIT = 50_000


def hashes_to_array(values: Sequence[str]) -> np.ndarray:
    if not values:
        return np.empty((0, BITS // 8), dtype=np.uint8)
    return np.frombuffer(bytes.fromhex("".join(values)), dtype=np.uint8).reshape(-1, BITS // 8)


class PdqIndex:
    """Hashes with integer keys; `query` returns every key within `radius` (inclusive)."""

    def __init__(self, *, multi_hash: bool = False, radius: int = 31) -> None:
        self._radius = radius
        self._index = self._new_index(multi_hash, radius)
        self._keys: list[int] = []

    @staticmethod
    def _new_index(multi_hash: bool, radius: int) -> faiss.IndexBinary:
        if not multi_hash:
            return faiss.IndexBinaryFlat(BITS)
        index = faiss.IndexBinaryMultiHash(BITS, NHASH, SUBHASH_BITS)
        index.nflip = radius // NHASH
        return index

    @classmethod
    def for_size(cls, size: int, radius: int) -> PdqIndex:
        return cls(multi_hash=size > FLAT_LIMIT, radius=radius)

    @property
    def is_multi_hash(self) -> bool:
        return isinstance(self._index, faiss.IndexBinaryMultiHash)

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, values: Sequence[str], keys: Sequence[int]) -> None:
        if len(values) != len(keys):
            raise InvalidInput("as many keys as hashes are needed")
        self._index.add(hashes_to_array(values))
        self._keys.extend(keys)

    def query(
        self, values: Sequence[str], radius: int | None = None
    ) -> list[list[tuple[int, int]]]:
        """For each query hash, (key, distance) of every indexed hash within `radius`."""
        limit = self._radius if radius is None else radius
        if self.is_multi_hash and limit > self._radius:
            raise InvalidInput(f"this index guarantees recall up to radius {self._radius}")
        results: list[list[tuple[int, int]]] = [[] for _ in values]
        if not values or not self._keys:
            return results
        # FAISS range search is strict (< radius): add one for an inclusive radius.
        lims, distances, ids = self._index.range_search(hashes_to_array(values), limit + 1)
        for query in range(len(values)):
            start, end = int(lims[query]), int(lims[query + 1])
            results[query] = [
                (self._keys[int(i)], int(d))
                for i, d in zip(ids[start:end], distances[start:end], strict=True)
            ]
        return results

    def dump(self, path: Path) -> None:
        faiss.write_index_binary(self._index, str(path))
        np.save(path.with_suffix(".keys.npy"), np.asarray(self._keys, dtype=np.int64))

    @classmethod
    def load(cls, path: Path, radius: int) -> PdqIndex:
        loaded = cls.__new__(cls)
        loaded._radius = radius
        loaded._index = faiss.read_index_binary(str(path))
        if isinstance(loaded._index, faiss.IndexBinaryMultiHash):
            loaded._index.nflip = radius // NHASH
        loaded._keys = np.load(path.with_suffix(".keys.npy")).tolist()
        if len(loaded._keys) != loaded._index.ntotal:
            raise InvalidInput(f"index {path} and its keys disagree; rebuild it")
        return loaded
