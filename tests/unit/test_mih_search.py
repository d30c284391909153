"""The multi-index search over flat arrays answers exactly what comparing every pair answers:
one query at a time and in batches, on random hashes and on clusters of near-duplicates
(where most candidates pass the first 128-bit comparison and the whole hash decides)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from passerelle.core.index.mih import brute_search, build_tables, flip_masks, search_tables


def reference(codes: np.ndarray, queries: np.ndarray, limit: int) -> set[tuple[int, int, int]]:
    """Every (query, code, distance) within `limit`, by Python integers, pair by pair."""
    stored = [int.from_bytes(row.tobytes(), "little") for row in codes]
    found = set()
    for q, row in enumerate(queries):
        asked = int.from_bytes(row.tobytes(), "little")
        for c, code in enumerate(stored):
            distance = (asked ^ code).bit_count()
            if distance <= limit:
                found.add((q, c, distance))
    return found


def flipped(rng: np.random.Generator, code: np.ndarray, bits: int) -> np.ndarray:
    out = code.copy()
    for bit in rng.choice(256, bits, replace=False):
        out[bit // 64] ^= np.uint64(1) << np.uint64(bit % 64)
    return out


def clusters(rng: np.random.Generator, centres: int, size: int) -> np.ndarray:
    """`centres` random hashes, each with `size` copies at 0-20 bits from it."""
    heads = rng.integers(0, 2**64, size=(centres, 4), dtype=np.uint64)
    return np.array([flipped(rng, h, int(rng.integers(0, 21))) for h in heads for _ in range(size)])


def as_set(found: tuple[np.ndarray, np.ndarray, np.ndarray]) -> set[tuple[int, int, int]]:
    return set(zip(*(part.tolist() for part in found), strict=True))


def one_by_one(tables: object, queries: np.ndarray, limit: int) -> set[tuple[int, int, int]]:
    masks = flip_masks(limit)
    found = set()
    for q in range(len(queries)):
        rows, codes, distances = search_tables(tables, queries[q : q + 1], limit, masks)  # type: ignore[arg-type]
        assert not rows.any()
        found |= {(q, c, d) for c, d in zip(codes.tolist(), distances.tolist(), strict=True)}
    return found


@pytest.mark.parametrize("data", ["random", "near-duplicates"])
@pytest.mark.parametrize("limit", [0, 15, 16, 31, 47])
def test_single_and_batched_queries_equal_every_pair_compared(data: str, limit: int) -> None:
    rng = np.random.default_rng(limit)
    if data == "random":
        codes = rng.integers(0, 2**64, size=(3000, 4), dtype=np.uint64)
    else:
        codes = clusters(rng, 30, 100)
    near = [flipped(rng, codes[i], int(rng.integers(0, limit + 1))) for i in range(0, 3000, 50)]
    beyond = [flipped(rng, codes[i], limit + 1 + i % 3) for i in range(25, 3000, 100)]
    others = rng.integers(0, 2**64, size=(20, 4), dtype=np.uint64)
    queries = np.vstack([np.array(near), np.array(beyond), others])
    expected = reference(codes, queries, limit)
    assert {q for q, _, _ in expected} >= set(range(len(near)))  # each near one is found
    tables = build_tables(codes)
    assert as_set(search_tables(tables, queries, limit, flip_masks(limit))) == expected
    assert one_by_one(tables, queries, limit) == expected
    assert as_set(brute_search(codes, queries, limit)) == expected


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), bits=st.integers(0, 31))
def test_a_hash_within_31_bits_is_found_among_its_near_duplicates(seed: int, bits: int) -> None:
    rng = np.random.default_rng(seed)
    codes = clusters(rng, 3, 40)
    target = int(rng.integers(0, len(codes)))
    query = flipped(rng, codes[target], bits)[None, :]
    _, found, distances = search_tables(build_tables(codes), query, 31, flip_masks(31))
    assert dict(zip(found.tolist(), distances.tolist(), strict=True))[target] == bits
