"""Queries of a large multi-index reuse their scratch memory: the candidates of a query's
buckets (up to a megabyte at 10 million hashes) were mapped fresh from the system and given
back at every query, a few hundred page faults each, most of a query's time. Counted in a
fresh process that opens the tables memory-mapped, as a server does (page faults are the
process's own count, not a time)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from passerelle.core.index.mih import build_tables

NAMES = ("starts", "positions", "prefix", "codes")
PROBE = """
import json, resource, sys
from pathlib import Path
import numpy as np
from passerelle.core.index.mih import MihTables, flip_masks, search_in_blocks
folder = Path(sys.argv[1])
NAMES = sys.argv[2:]
tables = MihTables(*(np.load(folder / (k + ".npy"), mmap_mode="r") for k in NAMES))
rng = np.random.default_rng(4)
masks = flip_masks(31)
blocks = [rng.integers(0, 2**64, size=(32, 4), dtype=np.uint64) for _ in range(40)]
for block in blocks:  # the first round may grow the heap
    search_in_blocks(tables, block, 31, masks)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for block in blocks:
    search_in_blocks(tables, block, 31, masks)
print(json.dumps(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before))
"""


def test_repeated_queries_fault_no_fresh_memory_in(tmp_path: Path) -> None:
    codes = np.random.default_rng(3).integers(0, 2**64, size=(300_000, 4), dtype=np.uint64)
    tables = build_tables(codes)
    for name in NAMES:
        np.save(tmp_path / f"{name}.npy", getattr(tables, name))
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path), *NAMES],
        capture_output=True,
        text=True,
        check=True,
    )
    faults = json.loads(done.stdout)
    # A block's candidates span some 160 pages: mapped afresh each time, 40 blocks fault
    # thousands of times.
    assert faults < 200, faults
