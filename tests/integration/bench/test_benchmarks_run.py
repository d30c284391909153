"""The benchmarks still run and end with their `NAME: RATIOx vs PEER` line (on tiny inputs:
this checks that they work, not how fast anything is)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.shared import shared

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("module", "argument", "last"),
    [
        ("benchmarks.bench_pdq", "3000", r"pdq_3000: \d+\.\d\dx vs pytx PDQIndex"),
        ("benchmarks.bench_cli", "300", r"cli_scan_300: \d+\.\d\dx vs pytx match"),
        ("benchmarks.bench_match_api", "300", r"match_api_p95_1: \d+\.\d ms \(aim: under 20 ms\)"),
        ("benchmarks.bench_queue", "300", r"queue_p95_ms: \d+"),
        (
            "benchmarks.bench_warc",
            "30",
            r"warc_scan: \d+\.\d\dx vs warcio\+trafilatura\n"
            r"warc_scan_fast_peer: \d+\.\d\dx vs fastwarc loop",
        ),
        ("benchmarks.bench_video", "40", r"vpdq_match: \d+\.\d\dx vs loop"),
        ("benchmarks.bench_spark", "40", r"spark_local_2: \d+\.\d\dx vs passerelle scan"),
        (
            "benchmarks.bench_extraction",
            "1",
            r"extraction_speed: \d+\.\d\dx vs trafilatura defaults",
        ),
    ],
)
def test_benchmark_runs(module: str, argument: str, last: str) -> None:
    shared("pdq")  # the benchmarks read ../shared/data
    result = subprocess.run(
        [sys.executable, "-m", module, argument],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    # The last line, or the last lines when the pattern names several.
    tail = result.stdout.strip().splitlines()[-(last.count(r"\n") + 1) :]
    assert re.fullmatch(last, "\n".join(tail)), result.stdout
