"""The PDQ index finds exactly what a brute-force scan finds, flat or multi-hash, before and
after persistence, and takes new entries without a rebuild."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from passerelle.core.errors import InvalidInput
from passerelle.core.index.mih import MihIndex
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
    written = index.dump(tmp_path / "pdq")
    reloaded = PdqIndex.load(written, radius)
    assert reloaded.is_multi_hash is multi_hash
    assert [sorted(found) for found in reloaded.query(needles)] == expected


def test_new_entries_are_found_without_a_rebuild() -> None:
    index = PdqIndex(multi_hash=True, radius=31)
    index.add(["0" * 64], [7])
    assert index.query(["0" * 63 + "1"]) == [[(7, 1)]]
    index.compact()
    assert index.query(["0" * 63 + "1"]) == [[(7, 1)]]
    index.add(["f" * 64], [8])
    assert index.query(["f" * 64, "0" * 64]) == [[(8, 0)], [(7, 0)]]


@pytest.mark.parametrize("radius", [0, 15, 16, 31, 47])
def test_multi_index_hashing_is_exact_at_every_radius(radius: int) -> None:
    rng = random.Random(radius)
    stored = [f"{rng.getrandbits(256):064x}" for _ in range(3000)]
    queries = [
        flip(stored[i], rng.sample(range(256), rng.randint(0, radius + 2))) for i in range(200)
    ]
    index = MihIndex(radius=radius)
    index.add(stored, list(range(3000)))
    index.compact()
    assert [sorted(found) for found in index.query(queries)] == brute_force(queries, stored, radius)


def test_a_flat_index_moves_to_multi_index_hashing_when_it_grows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("passerelle.core.index.pdq.FLAT_LIMIT", 100)
    rng = random.Random(5)
    stored = [f"{rng.getrandbits(256):064x}" for _ in range(150)]
    index = PdqIndex(radius=31)
    index.add(stored[:90], list(range(90)))
    assert not index.is_multi_hash
    index.add(stored[90:], list(range(90, 150)))
    assert index.is_multi_hash and len(index) == 150
    assert [hits[0][0] for hits in index.query(stored)] == list(range(150))


def test_a_multi_hash_index_refuses_a_radius_it_cannot_guarantee() -> None:
    index = PdqIndex(multi_hash=True, radius=31)
    index.add(["0" * 64], [1])
    with pytest.raises(InvalidInput, match="radius 31"):
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
    index = MihIndex(radius=31)
    index.add(stored[:150], list(range(150)))
    index.compact()  # the sorted tables...
    index.add(stored[150:], list(range(150, 200)))  # ...and the buffer, both searched
    target = rng.randrange(200)
    query = flip(stored[target], rng.sample(range(256), flips))
    found = dict(index.query([query])[0])
    assert found[target] == flips
