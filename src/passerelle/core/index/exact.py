"""Exact look-up for digests and URL hashes."""

from __future__ import annotations

from collections import defaultdict


class ExactIndex:
    def __init__(self) -> None:
        self._entries: defaultdict[str, list[int]] = defaultdict(list)

    def __len__(self) -> int:
        return sum(len(v) for v in self._entries.values())

    def add(self, value: str, key: int) -> None:
        self._entries[value].append(key)

    def query(self, value: str) -> list[tuple[int, float]]:
        return [(key, 0.0) for key in self._entries.get(value, ())]
