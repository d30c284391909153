"""PDQ look-up by Hamming radius with exact recall, chosen by size.

- Up to FLAT_LIMIT hashes: FAISS's flat binary index (brute force in C, the fastest there).
- Beyond: multi-index hashing in NumPy (`mih.MihIndex`), which probes only the buckets that
  can hold a match. Measured crossover on this machine: about 50,000 hashes.

Both return every hash within the radius, inclusive. An index that outgrows the flat limit
moves to multi-index hashing once. Persistence: FAISS's own file format for the flat index,
a NumPy archive for the other; never pickle."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from passerelle.core.errors import InvalidInput
from passerelle.core.index.mih import MihIndex

if TYPE_CHECKING:
    import faiss

BITS = 256
FLAT_LIMIT = 50_000


def hashes_to_array(values: Sequence[str]) -> np.ndarray:
    if not values:
        return np.empty((0, BITS // 8), dtype=np.uint8)
    return np.frombuffer(bytes.fromhex("".join(values)), dtype=np.uint8).reshape(-1, BITS // 8)


class PdqIndex:
    """Hashes with integer keys; `query` returns every key within `radius` (inclusive)."""

    def __init__(self, *, multi_hash: bool = False, radius: int = 31) -> None:
        import faiss  # loaded by the commands that build a flat index, not at start-up

        self.radius = radius
        self._flat: faiss.IndexBinary | None = None if multi_hash else faiss.IndexBinaryFlat(BITS)
        self._mih: MihIndex | None = MihIndex(radius=radius) if multi_hash else None
        self._keys: list[int] = []
        self._values: list[str] = []

    @classmethod
    def for_size(cls, size: int, radius: int) -> PdqIndex:
        return cls(multi_hash=size > FLAT_LIMIT, radius=radius)

    def compact(self) -> None:
        if self._mih is not None:
            self._mih.compact()

    @property
    def nbytes(self) -> int:
        if self._mih is not None:
            return self._mih.nbytes
        return len(self._keys) * (BITS // 8 + 8)

    @property
    def is_multi_hash(self) -> bool:
        return self._mih is not None

    def __len__(self) -> int:
        return len(self._mih) if self._mih is not None else len(self._keys)

    def add(self, values: Sequence[str], keys: Sequence[int]) -> None:
        if len(values) != len(keys):
            raise InvalidInput("as many keys as hashes are needed")
        if self._mih is not None:
            self._mih.add(values, keys)
            return
        assert self._flat is not None  # one of the two always exists
        self._flat.add(hashes_to_array(values))
        self._keys.extend(keys)
        self._values.extend(values)
        if len(self._keys) > FLAT_LIMIT:
            self._mih = MihIndex(radius=self.radius)
            self._mih.add(self._values, self._keys)
            self._flat, self._keys, self._values = None, [], []

    def query(
        self, values: Sequence[str], radius: int | None = None
    ) -> list[list[tuple[int, int]]]:
        """For each query hash, (key, distance) of every indexed hash within `radius`."""
        limit = self.radius if radius is None else radius
        if limit > self.radius:
            raise InvalidInput(
                "this index guarantees recall up to radius %(radius)s", radius=self.radius
            )
        if self._mih is not None:
            return self._mih.query(values, limit)
        results: list[list[tuple[int, int]]] = [[] for _ in values]
        if not values or not self._keys or self._flat is None:
            return results
        # FAISS range search is strict (< radius): add one for an inclusive radius.
        lims, distances, ids = self._flat.range_search(hashes_to_array(values), limit + 1)
        for query in range(len(values)):
            start, end = int(lims[query]), int(lims[query + 1])
            results[query] = [
                (self._keys[int(i)], int(d))
                for i, d in zip(ids[start:end], distances[start:end], strict=True)
            ]
        return results

    def dump(self, path: Path) -> Path:
        """Write the index next to `path` (suffix by kind) and return the file written."""
        if self._mih is not None:
            target = path.with_suffix(".mih.npz")
            self._mih.dump(target)
            return target
        assert self._flat is not None
        import faiss

        target = path.with_suffix(".faiss")
        faiss.write_index_binary(self._flat, str(target))
        np.save(target.with_suffix(".keys.npy"), np.asarray(self._keys, dtype=np.int64))
        return target

    @classmethod
    def load(cls, path: Path, radius: int = 31) -> PdqIndex:
        if path.name.endswith(".mih.npz"):
            mih = MihIndex.load(path)
            loaded = cls(multi_hash=True, radius=mih.radius)
            loaded._mih = mih
            return loaded
        import faiss

        flat = faiss.read_index_binary(str(path))
        keys = np.load(path.with_suffix(".keys.npy"), allow_pickle=False).tolist()
        if len(keys) != flat.ntotal:
            raise InvalidInput("index %(path)s and its keys disagree; rebuild it", path=path)
        loaded = cls(radius=radius)
        loaded._flat = flat
        loaded._keys = keys
        codes = flat.reconstruct_n(0, flat.ntotal) if flat.ntotal else np.empty((0, 32), np.uint8)
        loaded._values = [bytes(row).hex() for row in codes]
        return loaded
