"""PDQ matching at 100k and 1M hashes: queries per second and recall of Passerelle's index
against python-threatexchange's PDQ indexes, on the same hashes and queries, in the same run.

Half the queries are stored hashes with 1-31 bits flipped (each must be found), half are
random. Truth is a brute-force scan (FAISS IndexBinaryFlat, exact by construction).

The persisted index (`core.index.store`: what the CLI, the server and the jobs open) is
measured too: its open time beside pytx's own persisted index (deserialised), and its single
and batched queries. FAISS runs on one thread on both sides.

With `--huge N` (the issue's size: 10000000), N random hashes generated here are built into
an index on disk first, which a fresh process opens and queries: build time, open time,
resident memory, single queries per second, and exactness against comparing every hash on
a sample of the queries (no peer at that size: pytx's index of 10M is not built here).

    .venv/bin/python -m benchmarks.bench_pdq [SIZES] [--huge N]   # e.g. 100000,1000000
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
import warnings
from pathlib import Path

import faiss

from passerelle.core.bank import Bank, BankKind, BankOrigin
from passerelle.core.index.pdq import PdqIndex, hashes_to_array
from passerelle.core.index.store import IndexEntry, MatchIndex, open_index, save, writing
from passerelle.core.signals import Signal
from passerelle.core.taxonomy import Labels

RADIUS = 31
OPEN_TIMES: dict[int, tuple[float, float]] = {}  # size: (ours, pytx), seconds


def make_data(size: int, queries: int, seed: int = 7) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    stored = [f"{rng.getrandbits(256):064x}" for _ in range(size)]
    asked = []
    for i in range(queries):
        if i % 2:
            asked.append(f"{rng.getrandbits(256):064x}")
        else:
            number = int(stored[rng.randrange(size)], 16)
            for bit in rng.sample(range(256), rng.randint(1, RADIUS)):
                number ^= 1 << bit
            asked.append(f"{number:064x}")
    return stored, asked


def truth(stored: list[str], asked: list[str]) -> list[set[int]]:
    flat = faiss.IndexBinaryFlat(256)
    flat.add(hashes_to_array(stored))
    lims, _, ids = flat.range_search(hashes_to_array(asked), RADIUS + 1)
    return [set(ids[lims[i] : lims[i + 1]].tolist()) for i in range(len(asked))]


def timed(label: str, queries: list[str], ask) -> tuple[float, list[set[int]]]:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    found = [ask(q) for q in queries]
    elapsed = time.perf_counter() - start
    return len(queries) / elapsed, found


def recall(found: list[set[int]], expected: list[set[int]]) -> tuple[float, bool]:
    wanted = sum(len(e) for e in expected)
    got = sum(len(f & e) for f, e in zip(found, expected, strict=True))
    return got / max(1, wanted), found == expected


def persisted(
    stored: list[str], asked: list[str], expected: list[set[int]], folder: Path
) -> tuple[dict[str, tuple[float, float, bool]], float, float]:
    """Our on-disk index: built, written, opened (with its checksums), then queried."""
    bank = Bank("b", "a", "b", BankKind.POSITIVE, BankOrigin.OWN, "")
    labels = Labels()
    start = time.perf_counter()
    index = MatchIndex.build(
        [bank], (IndexEntry(str(i), "b", Signal("pdq", h), labels) for i, h in enumerate(stored))
    )
    with writing(folder):
        save(index, folder)
    build = time.perf_counter() - start
    start = time.perf_counter()
    opened = open_index(folder)
    open_time = time.perf_counter() - start
    row_of = [int(opened.entry_id(r)) for r in range(opened.rows)]
    figures: dict[str, tuple[float, float, bool]] = {}
    qps, found = timed(
        "disk", asked, lambda q: {row_of[h.row] for h in opened.query_pdq([q], RADIUS)}
    )
    figures["passerelle index on disk (one query per call)"] = (qps, *recall(found, expected))
    start = time.perf_counter()
    hits = opened.query_pdq(asked, RADIUS)
    batch: list[set[int]] = [set() for _ in asked]
    for hit in hits:
        batch[hit.query].add(row_of[hit.row])
    figures["passerelle index on disk (batch of 1000)"] = (
        len(asked) / (time.perf_counter() - start),
        *recall(batch, expected),
    )
    return figures, build, open_time


def pytx_open_time(peer: object, folder: Path) -> float:
    from threatexchange.signal_type.pdq.pdq_index import PDQIndex

    target = folder / "pytx.index"
    with target.open("wb") as out:
        peer.serialize(out)  # type: ignore[attr-defined]
    start = time.perf_counter()
    with target.open("rb") as fin:
        PDQIndex.deserialize(fin)
    return time.perf_counter() - start


def run(size: int) -> dict[str, tuple[float, float, bool]]:
    from threatexchange.signal_type.pdq.pdq_index import PDQIndex
    from threatexchange.signal_type.pdq.pdq_index2 import PDQIndex2

    stored, asked = make_data(size, 1000)
    expected = truth(stored, asked)
    figures: dict[str, tuple[float, float, bool]] = {}

    ours = PdqIndex.for_size(size, RADIUS)
    start = time.perf_counter()
    ours.add(stored, list(range(size)))
    ours.compact()
    build = time.perf_counter() - start
    qps, found = timed("ours", asked, lambda q: {k for k, _ in ours.query([q])[0]})
    figures["passerelle PdqIndex (one query per call)"] = (qps, *recall(found, expected))
    start = time.perf_counter()
    batch = [{k for k, _ in hits} for hits in ours.query(asked)]
    figures["passerelle PdqIndex (batch of 1000)"] = (
        len(asked) / (time.perf_counter() - start),
        *recall(batch, expected),
    )
    kind = "multi-index hashing (NumPy)" if ours.is_multi_hash else "FAISS flat"
    print(f"  passerelle index: {kind}, built in {build:.2f} s, {ours.nbytes / 1e6:.0f} MB")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer = PDQIndex(entries=((h, i) for i, h in enumerate(stored)))
        qps, found = timed("pytx", asked, lambda q: {m.metadata for m in peer.query(q)})
        figures["pytx PDQIndex (default, multi-hash)"] = (qps, *recall(found, expected))
        with tempfile.TemporaryDirectory(prefix="bench-pdq-") as scratch:
            on_disk, disk_build, ours_open = persisted(stored, asked, expected, Path(scratch))
            figures.update(on_disk)
            peer_open = pytx_open_time(peer, Path(scratch))
        print(
            f"  persisted index: passerelle built and written in {disk_build:.2f} s,"
            f" opens in {ours_open:.3f} s (header checksum, sizes and times checked); pytx opens in"
            f" {peer_open:.3f} s"
        )
        OPEN_TIMES[size] = (ours_open, peer_open)
        flat_peer = PDQIndex2(entries=((h, i) for i, h in enumerate(stored)))
        subset = asked[: 1000 if size <= 200_000 else 100]
        qps, found = timed("pytx2", subset, lambda q: {m.metadata for m in flat_peer.query(q)})
        figures["pytx PDQIndex2 (flat L2)"] = (qps, *recall(found, expected[: len(subset)]))
    return figures


def load() -> str:
    return "load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def main() -> None:
    faiss.omp_set_num_threads(1)  # one thread on both sides (pytx's indexes are FAISS too)
    arguments = sys.argv[1:]
    huge = 0
    if "--huge" in arguments:
        at = arguments.index("--huge")
        huge = int(arguments[at + 1])
        del arguments[at : at + 2]
    if huge:
        from benchmarks.bench_pdq_huge import run_huge

        run_huge(huge)
    sizes = [int(s) for s in (arguments[0] if arguments else "100000,1000000").split(",")]
    for size in sizes:
        print(f"PDQ, {size:,} stored hashes, 1,000 queries (500 within {RADIUS} bits, 500 random):")
        print(f"  before: {load()}")
        figures = run(size)
        for label, (qps, rec, same) in figures.items():
            print(
                f"  {label:<44} {qps:>10,.0f} queries/s  recall {rec:.4f}  identical to brute force: {same}"
            )
        print(f"  after: {load()}")
        ours = figures["passerelle index on disk (one query per call)"][0]
        batched = figures["passerelle index on disk (batch of 1000)"][0]
        default = figures["pytx PDQIndex (default, multi-hash)"][0]
        exact = figures["pytx PDQIndex2 (flat L2)"][0]
        opened, peer_opened = OPEN_TIMES[size]
        print(f"pdq_{size}_open: {peer_opened / opened:.2f}x vs pytx PDQIndex deserialised")
        print(f"pdq_{size}_batch_1000: {batched / default:.2f}x vs pytx PDQIndex")
        print(f"pdq_{size}_vs_pytx_flat: {ours / exact:.2f}x vs pytx PDQIndex2")
        print(f"pdq_{size}: {ours / default:.2f}x vs pytx PDQIndex")


if __name__ == "__main__":
    main()
