"""The Spark job against `passerelle scan` on the same generated WARC files, in the same run:
records per second of the job on local[1] and local[2] (fast path and full path) beside the
CLI's pipeline on one process and on two (`--workers 2`). Both match against the same index
on disk (the job ships its files to the executors).

The banks: the PDQ hash of one public test photo and the text fingerprints of two pages of
../shared/data/extraction-fr (so every kind of work happens: images decoded, pages parsed).
Spark's start-up and a warm-up run (workers started, Passerelle imported, the index opened)
are printed apart and not counted in the rates.

    .venv/bin/python -m benchmarks.bench_spark [RECORDS] [FILES]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.warcgen import SHARED, describe, write_warc
from passerelle.batch import scan_all
from passerelle.cli.scanning import scanned_types
from passerelle.core.bank import Bank, BankEntry, BankKind, BankOrigin
from passerelle.core.index.store import open_index
from passerelle.core.match import Matcher
from passerelle.core.signals.pdq import PDQ
from passerelle.core.signals.text import TEXT
from passerelle.core.taxonomy import Category, Labels, Tier
from passerelle.intake.archive import iter_archive
from passerelle.scan import ScanOptions, ScanResult
from passerelle.scan import compared_text as page_text
from passerelle.spark.job import build_index, job_options, make_session, run_scan


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def banks() -> tuple[list[Bank], list[BankEntry]]:
    labels = Labels(category=Category.INCITES, tier=Tier.PROMOTIONAL)
    bank = Bank("bank", "agency", "bench", BankKind.POSITIVE, BankOrigin.OWN, "")
    image = (SHARED / "pdq" / "images" / "aaa-orig.jpg").read_bytes()
    entries = [BankEntry("e-pdq", "bank", PDQ.compute(image), labels)]
    for number, name in enumerate(("aoc.media.archaisme.html", "arteradio.com-nuls.html")):
        text = page_text((SHARED / "extraction-fr" / "html" / name).read_bytes()) or ""
        signal = TEXT.compute(text)
        assert signal is not None
        entries.append(BankEntry(f"e-text-{number}", "bank", signal, labels))
    return [bank], entries


def run_cli_pipeline(files: list[Path], index: Path, workers: int) -> tuple[int, int, float]:
    items = (item for path in files for item in iter_archive(path))
    start = time.perf_counter()
    read = matched = 0
    matcher = Matcher(open_index(index))  # as `passerelle scan` opens it
    options = ScanOptions(signal_types=scanned_types(matcher, all_signals=False))
    for result in scan_all(items, matcher=matcher, options=options, workers=workers):
        if isinstance(result, ScanResult):
            read += 1
            matched += bool(result.matches)
    return read, matched, time.perf_counter() - start


def main() -> None:
    records = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    bank_list, entries = banks()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        files = [
            write_warc(root / f"part-{n}.warc.gz", records // count, image_share=0.1)
            for n in range(count)
        ]
        total = sum(f.stat().st_size for f in files)
        index = build_index(bank_list, entries, root / "index")
        images = build_index(
            bank_list, [e for e in entries if e.signal.type == "pdq"], root / "index-images"
        )
        print(
            f"WARC: {count} files of {records // count} responses ({total / 1e6:.1f} MB gzip),"
            f" each: {describe(records // count)}; load average {load()}"
        )
        rates: dict[str, float] = {}
        for label, workers in (
            ("passerelle scan, 1 process", 1),
            ("passerelle scan, --workers 2", 2),
        ):
            read, matched, seconds = run_cli_pipeline(files, index, workers)
            rates[label] = read / seconds
            print(
                f"{label:<34} {read} records, {matched} matched, {seconds:.2f} s = {rates[label]:.1f} records/s"
            )
        for master in ("local[1]", "local[2]"):
            started = time.perf_counter()
            spark = make_session(master, app_name="passerelle-bench")
            session = time.perf_counter() - started
            # Start-up, not counted in the rates: a first job of one file (the Python workers
            # start, import Passerelle and open the index, then scan it), beside the same job
            # again once they run.
            warm_up = []
            for attempt in range(2):
                started = time.perf_counter()
                output = str(root / f"warm-{master}-{attempt}")
                run_scan(spark, [str(files[0])], index=index, output=output)
                warm_up.append(time.perf_counter() - started)
            print(
                f"spark {master} start-up, not counted in the rates: session {session:.1f} s;"
                f" first job of one file {warm_up[0]:.1f} s, the same job again {warm_up[1]:.1f} s:"
                f" {max(0.0, warm_up[0] - warm_up[1]):.1f} s to start the Python workers, import"
                f" Passerelle and open the index (load average {load()})"
            )
            runs = [("", index, True), ("", index, False)]
            if master == "local[2]":
                runs += [(", image bank only", images, True), (", image bank only", images, False)]
            try:
                for which, chosen, full in runs:
                    label = f"spark job {master}, {'full' if full else 'fast'} path{which}"
                    start = time.perf_counter()
                    counters = run_scan(
                        spark,
                        [str(f) for f in files],
                        index=chosen,
                        output=str(root / f"out-{len(rates)}"),
                        full=full,
                    )
                    seconds = time.perf_counter() - start
                    rates[label] = counters.records_read / seconds
                    print(
                        f"{label:<52} {counters.records_read} records, {counters.matched} matched,"
                        f" {seconds:.2f} s = {rates[label]:.1f} records/s (load average {load()})"
                    )
            finally:
                spark.stop()
    fast = job_options({e.signal.type for e in entries}).signal_types
    print(f"fast path computes only: {', '.join(sorted(fast or []))}; load average {load()}")
    base = rates["passerelle scan, 1 process"]
    print(f"spark_local_1: {rates['spark job local[1], fast path'] / base:.2f}x vs passerelle scan")
    print(f"spark_local_2: {rates['spark job local[2], fast path'] / base:.2f}x vs passerelle scan")


if __name__ == "__main__":
    main()
