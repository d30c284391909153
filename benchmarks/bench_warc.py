"""WARC scanning: records per second of Passerelle's scan against a plain loop of warcio +
trafilatura over the same generated WARC, in the same run.

    .venv/bin/python -m benchmarks.bench_warc [RECORDS]
"""

from __future__ import annotations

import sys
import tempfile
import time
import warnings
from pathlib import Path

import trafilatura
from warcio.archiveiterator import ArchiveIterator as WarcioIterator

from benchmarks.warcgen import write_warc
from passerelle.batch import scan_all
from passerelle.core.extract.language import detect_language
from passerelle.core.match import Matcher
from passerelle.intake.archive import iter_archive
from passerelle.scan import ScanOptions, ScanResult


def run_passerelle(path: Path, workers: int = 1) -> tuple[int, float]:
    detect_language("préchauffage du modèle de langue")  # loaded once per process, as in the CLI
    start = time.perf_counter()
    count = 0
    matcher = Matcher.build([], [])
    for result in scan_all(
        iter_archive(path), matcher=matcher, options=ScanOptions(), workers=workers
    ):
        count += isinstance(result, ScanResult)
    return count, time.perf_counter() - start


def run_peer(path: Path) -> tuple[int, float]:
    start = time.perf_counter()
    count = 0
    with path.open("rb") as handle, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for record in WarcioIterator(handle):
            if record.rec_type != "response":
                continue
            body = record.content_stream().read()
            trafilatura.extract(body)
            count += 1
    return count, time.perf_counter() - start


def main() -> None:
    records = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    with tempfile.TemporaryDirectory() as folder:
        path = write_warc(Path(folder) / "bench.warc.gz", records)
        size = path.stat().st_size
        ours_count, ours_time = run_passerelle(path)
        two_count, two_time = run_passerelle(path, workers=2)
        peer_count, peer_time = run_peer(path)
    ours_rate, peer_rate = ours_count / ours_time, peer_count / peer_time
    two_rate = two_count / two_time
    print(f"WARC: {records} records ({size / 1e6:.1f} MB gzip), 90% HTML pages, 10% JPEG images")
    print(
        f"passerelle scan, 1 process:   {ours_count} records in {ours_time:.2f} s = {ours_rate:.1f} records/s"
    )
    print(
        f"passerelle scan, --workers 2: {two_count} records in {two_time:.2f} s = {two_rate:.1f} records/s"
    )
    print(
        f"warcio + trafilatura.extract: {peer_count} records in {peer_time:.2f} s = {peer_rate:.1f} records/s"
    )
    print(f"warc_scan_2_workers: {two_rate / peer_rate:.2f}x vs warcio+trafilatura")
    print(f"warc_scan: {ours_rate / peer_rate:.2f}x vs warcio+trafilatura")


if __name__ == "__main__":
    main()
