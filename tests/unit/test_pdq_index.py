"""The PDQ index finds exactly what a brute-force scan finds, flat or multi-hash, before and
after persistence, and takes new entries without a rebuild."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from passerelle.core.index.pdq import PdqIndex
from passerelle.core.signals.pdq import hamming
from tests.shared import shared


def lines(name: str) -> list[str]:
    text = shared("pdq", "hash-sets", name).read_text()
    return [line.strip() for line in text.splitlines() if line.strip()]


def brute_force(
    needles: list[str], haystack: list[str], radius: int
) -> list[list[tuple[int, int]]]:
    return [
        sorted((i, hamming(q, h)) for i, h in enumerate(haystack) if hamming(q, h) <= radius)
        for q in needles
    ]


@pytest.mark.parametrize("multi_hash", [False, True])
@pytest.mark.parametrize("radius", [31, 32])
def test_needles_in_haystack_match_brute_force(
    multi_hash: bool, radius: int, tmp_path: Path
) -> None:
    haystack, needles = lines("haystack.txt"), lines("needles.txt")
    assert (len(haystack), len(needles)) == (1350, 100)
    expected = brute_force(needles, haystack, radius)
    assert sum(map(len, expected)) > 100  # the data set really has matches to find
    index = PdqIndex(multi_hash=multi_hash, radius=radius)
    index.add(haystack, list(range(len(haystack))))
    assert index.is_multi_hash is multi_hash
    assert [sorted(found) for found in index.query(needles)] == expected
    path = tmp_path / "pdq.faiss"
    index.dump(path)
    reloaded = PdqIndex.load(path, radius)
    assert [sorted(found) for found in reloaded.query(needles)] == expected


def test_new_entries_are_found_without_a_rebuild() -> None:
    index = PdqIndex(multi_hash=True, radius=31)
    index.add(["0" * 64], [7])
    assert index.query(["0" * 63 + "1"]) == [[(7, 1)]]
    index.add(["f" * 64], [8])
    assert index.query(["f" * 64, "0" * 64]) == [[(8, 0)], [(7, 0)]]


def test_a_multi_hash_index_refuses_a_radius_it_cannot_guarantee() -> None:
    index = PdqIndex(multi_hash=True, radius=31)
    index.add(["0" * 64], [1])
    with pytest.raises(Exception, match="radius 31"):
        index.query(["0" * 64], radius=40)


def flip(value: str, bits: list[int]) -> str:
    number = int(value, 16)
    for bit in bits:
        number ^= 1 << bit
    return f"{number:064x}"


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    flips=st.integers(0, 31),
)
def test_any_hash_within_31_bits_is_found_by_the_multi_hash_index(seed: int, flips: int) -> None:
    rng = random.Random(seed)
    stored = [f"{rng.getrandbits(256):064x}" for _ in range(200)]
    index = PdqIndex(multi_hash=True, radius=31)
    index.add(stored, list(range(200)))
    target = rng.randrange(200)
    query = flip(stored[target], rng.sample(range(256), flips))
    found = dict(index.query([query])[0])
    assert found[target] == flips
