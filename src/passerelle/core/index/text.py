"""Near-duplicate text look-up: MinHash LSH for candidates, then the estimated Jaccard
distance of each candidate. Persists as a NumPy array of signatures (no pickle); loading
re-inserts them, and new entries are inserted without a rebuild."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from datasketch import MinHash, MinHashLSH

from passerelle.core.signals.text import NUM_PERM, SCHEME, hex_to_signature

# Candidates are checked exactly afterwards, so the banding errs on the side of recall.
_LSH_WEIGHTS = (0.2, 0.8)


class TextIndex:
    def __init__(self, *, max_distance: float = 0.5) -> None:
        self._max_distance = max_distance
        self._lsh = MinHashLSH(
            threshold=max(0.05, 1.0 - max_distance), num_perm=NUM_PERM, weights=_LSH_WEIGHTS
        )
        self._signatures: list[np.ndarray] = []
        self._keys: list[int] = []

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, values: Sequence[str], keys: Sequence[int]) -> None:
        for value, key in zip(values, keys, strict=True):
            self._insert(hex_to_signature(value), key)

    def _insert(self, signature: np.ndarray, key: int) -> None:
        position = len(self._keys)
        self._signatures.append(signature)
        self._keys.append(key)
        self._lsh.insert(
            position, MinHash(num_perm=NUM_PERM, hashvalues=signature, seed=1, scheme=SCHEME)
        )

    def query(self, value: str, max_distance: float | None = None) -> list[tuple[int, float]]:
        limit = self._max_distance if max_distance is None else max_distance
        signature = hex_to_signature(value)
        candidates = self._lsh.query(
            MinHash(num_perm=NUM_PERM, hashvalues=signature, seed=1, scheme=SCHEME)
        )
        found = []
        for position in candidates:
            distance = (
                1.0 - float(np.count_nonzero(self._signatures[position] == signature)) / NUM_PERM
            )
            if distance <= limit:
                found.append((self._keys[position], distance))
        return sorted(found, key=lambda pair: pair[1])

    def dump(self, path: Path) -> None:
        matrix = np.vstack(self._signatures) if self._signatures else np.empty((0, NUM_PERM))
        np.savez(path, signatures=matrix.astype(np.uint32), keys=np.asarray(self._keys, np.int64))

    @classmethod
    def load(cls, path: Path, max_distance: float) -> TextIndex:
        index = cls(max_distance=max_distance)
        with np.load(path, allow_pickle=False) as stored:
            for row, key in zip(stored["signatures"], stored["keys"], strict=True):
                index._insert(row.astype(np.uint32), int(key))
        return index
