"""WARC scanning: records per second of `passerelle scan` (its pipeline, one process, and
`--workers 2`) beside two peers doing the same work on the same generated WARC, in the same
run:

- a plain warcio + trafilatura loop: each page's text extracted by trafilatura, MinHashed
  (datasketch), each image PDQ-hashed (pdqhash), both looked up in the banks;
- a plain fastwarc + resiliparse + pdqhash + MinHash loop, written as a competent user
  would write it for speed (fastwarc's iterator on responses only, resiliparse's main-content
  text, datasketch's `update_batch` with permutations drawn once, NumPy brute force over
  the banks).

The banks hold PDQ and text entries (`--bank-size` random ones of each kind, plus the hash of
one public test photo and the fingerprints of two public test pages, so that some records
match). Ours reads the index from disk, as the CLI does, and writes each result as the JSON
line `scan --json` prints (to a null sink); the peers write a JSON line per record too.

    .venv/bin/python -m benchmarks.bench_warc [RECORDS] [--bank-size N] [--no-workers] [--repeat N]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks.warcgen import SHARED, crawl_responses, describe, write_warc
from passerelle.batch import scan_all
from passerelle.cli.scanning import scanned_types
from passerelle.core.bank import Bank, BankEntry, BankKind, BankOrigin
from passerelle.core.extract.language import detect_language
from passerelle.core.index.store import MatchIndex, open_index, save, writing
from passerelle.core.match import Matcher, index_entries
from passerelle.core.signals import Signal
from passerelle.core.signals.pdq import PDQ
from passerelle.core.signals.text import TEXT
from passerelle.core.taxonomy import Category, Labels, Tier
from passerelle.intake.archive import iter_archive
from passerelle.scan import ScanOptions, ScanResult
from passerelle.scan import compared_text as page_text

BANKED_PAGES = ("aoc.media.archaisme.html", "arteradio.com-nuls.html")
BANKED_IMAGE = "aaa-orig.jpg"
PDQ_THRESHOLD, TEXT_THRESHOLD = 31, 0.7


# --- ours ------------------------------------------------------------------------------------


def our_banks(size: int, rng: np.random.Generator) -> tuple[list[Bank], list[BankEntry]]:
    labels = Labels(category=Category.INCITES, tier=Tier.PROMOTIONAL)
    bank = Bank("bank", "agency", "bench", BankKind.POSITIVE, BankOrigin.OWN, "")
    image = (SHARED / "pdq" / "images" / BANKED_IMAGE).read_bytes()
    entries = [BankEntry("e-pdq", "bank", PDQ.compute(image), labels)]
    for number, name in enumerate(BANKED_PAGES):
        signal = TEXT.compute(
            page_text((SHARED / "extraction-fr" / "html" / name).read_bytes()) or ""
        )
        assert signal is not None
        entries.append(BankEntry(f"e-text-{number}", "bank", signal, labels))
    for n in range(size):
        pdq = rng.integers(0, 256, 32, dtype=np.uint8).tobytes().hex()
        text = rng.integers(0, 2**32, 128, dtype=np.uint64).astype(">u4").tobytes().hex()
        entries.append(BankEntry(f"r-pdq-{n}", "bank", Signal("pdq", pdq, 100), labels))
        entries.append(BankEntry(f"r-text-{n}", "bank", Signal("text", text), labels))
    return [bank], entries


Found = set[tuple[str, str]]  # (address, bank entry) of every match


def run_ours(path: Path, index_path: Path, workers: int) -> tuple[Found, float, float]:
    # Loaded once per process, as in the CLI (a start-up cost, like the peers' imports); the
    # workers of `--workers 2` load it themselves, inside the time measured.
    detect_language("préchauffage du modèle de langue")
    sink = open(os.devnull, "w")  # noqa: SIM115 - closed below
    start, spent = time.perf_counter(), time.process_time()
    matcher = Matcher(open_index(index_path))  # as `passerelle scan` opens it
    options = ScanOptions(signal_types=scanned_types(matcher, all_signals=False))
    found: Found = set()
    for result in scan_all(iter_archive(path), matcher=matcher, options=options, workers=workers):
        if isinstance(result, ScanResult):
            found.update((result.url or "", match.entry_id) for match in result.matches)
            sink.write(json.dumps(result.as_dict(), ensure_ascii=False, sort_keys=True) + "\n")
    seconds, spent = time.perf_counter() - start, time.process_time() - spent
    sink.close()
    return found, seconds, spent


# --- the peers -------------------------------------------------------------------------------


class PeerBanks:
    """The same banks as the peers hold them: PDQ bits and MinHash values in NumPy arrays,
    the banked page and photo fingerprinted with the peer's own code."""

    def __init__(self, size: int, rng: np.random.Generator, text_of: Callable[[bytes], str]):
        from datasketch import MinHash

        self.permutations = MinHash(num_perm=128, seed=1, scheme="affine32").permutations
        photo = pdq_bits((SHARED / "pdq" / "images" / BANKED_IMAGE).read_bytes())
        self.pdq = np.vstack([photo, rng.integers(0, 2, (size, 256), dtype=np.uint8)])
        pages = [
            self.minhash(text_of((SHARED / "extraction-fr" / "html" / name).read_bytes()))
            for name in BANKED_PAGES
        ]
        random = rng.integers(0, 2**32, (size, 128), dtype=np.uint64)
        self.text = np.vstack([*pages, random])
        # The bank entries' names, as ours has them, to compare what both sides found.
        self.pdq_ids = ["e-pdq", *(f"r-pdq-{n}" for n in range(size))]
        self.text_ids = [f"e-text-{n}" for n in range(len(pages))]
        self.text_ids += [f"r-text-{n}" for n in range(size)]

    def minhash(self, text: str) -> np.ndarray:
        from datasketch import MinHash

        words = text.lower().split()
        shingles = {" ".join(words[i : i + 3]) for i in range(len(words) - 2)}
        sketch = MinHash(num_perm=128, scheme="affine32", permutations=self.permutations)
        sketch.update_batch([s.encode("utf-8") for s in shingles])
        return sketch.hashvalues

    def look_up(self, body: bytes, content_type: str, text_of: Callable[[bytes], str]) -> dict:
        found: dict[str, object] = {"sha256": hashlib.sha256(body).hexdigest()}
        if content_type.startswith("image/"):
            bits = pdq_bits(body)
            distances = np.count_nonzero(self.pdq != bits, axis=1)
            found["pdq"] = np.packbits(bits).tobytes().hex()
            rows = np.nonzero(distances <= PDQ_THRESHOLD)[0].tolist()
            found["matches"] = [self.pdq_ids[row] for row in rows]
        elif "html" in content_type:
            values = self.minhash(text_of(body))
            distances = 1.0 - (self.text == values).mean(axis=1)
            found["text"] = values.astype(">u4").tobytes().hex()
            rows = np.nonzero(distances <= TEXT_THRESHOLD)[0].tolist()
            found["matches"] = [self.text_ids[row] for row in rows]
        return found


def pdq_bits(data: bytes) -> np.ndarray:
    import pdqhash
    from PIL import Image

    image = Image.open(io.BytesIO(data)).convert("RGB")
    bits, _quality = pdqhash.compute(np.asarray(image))
    return np.asarray(bits, dtype=np.uint8)


def resiliparse_text(body: bytes) -> str:
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding

    return str(extract_plain_text(bytes_to_str(body, detect_encoding(body)), main_content=True))


def trafilatura_text(body: bytes) -> str:
    import trafilatura

    return trafilatura.extract(body) or ""


def run_fast_peer(path: Path, banks: PeerBanks) -> tuple[Found, float, float]:
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    sink = open(os.devnull, "w")  # noqa: SIM115 - closed below
    start, spent = time.perf_counter(), time.process_time()
    matched: Found = set()
    with path.open("rb") as handle:
        # auto_decode: the gzip-encoded pages come out decoded, as warcio gives them.
        records = ArchiveIterator(handle, record_types=WarcRecordType.response, auto_decode="all")
        for record in records:
            body = record.reader.read()
            content_type = record.http_headers.get("Content-Type", "") or ""
            found = banks.look_up(body, content_type, resiliparse_text)
            found["url"] = url = record.headers.get("WARC-Target-URI")
            matched.update((url, entry) for entry in found.get("matches", ()))
            sink.write(json.dumps(found) + "\n")
    seconds, spent = time.perf_counter() - start, time.process_time() - spent
    sink.close()
    return matched, seconds, spent


def run_warcio_peer(path: Path, banks: PeerBanks) -> tuple[Found, float, float]:
    from warcio.archiveiterator import ArchiveIterator

    sink = open(os.devnull, "w")  # noqa: SIM115 - closed below
    start, spent = time.perf_counter(), time.process_time()
    matched: Found = set()
    with path.open("rb") as handle, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for record in ArchiveIterator(handle):
            if record.rec_type != "response":
                continue
            body = record.content_stream().read()
            content_type = record.http_headers.get_header("Content-Type") or ""
            found = banks.look_up(body, content_type, trafilatura_text)
            found["url"] = url = record.rec_headers.get_header("WARC-Target-URI")
            matched.update((url, entry) for entry in found.get("matches", ()))
            sink.write(json.dumps(found) + "\n")
    seconds, spent = time.perf_counter() - start, time.process_time() - spent
    sink.close()
    return matched, seconds, spent


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("records", nargs="?", type=int, default=1000)
    parser.add_argument("--bank-size", type=int, default=1000)
    parser.add_argument("--no-workers", action="store_true", help="skip the --workers 2 run")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run every side this many times, in turn, and keep each side's best time (on a"
        " shared machine, the best time is the one least slowed by the others' work)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = write_warc(Path(folder) / "bench.warc.gz", args.records)
        size = path.stat().st_size
        # Matches are compared as (address, bank entry): each response has its own address.
        addresses = [response.url for response in crawl_responses(args.records)]
        if len(set(addresses)) != len(addresses):
            raise SystemExit("the generated WARC serves two responses at one address")
        bank_list, entries = our_banks(args.bank_size, np.random.default_rng(7))
        index_path = Path(folder) / "index"
        with writing(index_path):
            save(MatchIndex.build(bank_list, index_entries(bank_list, entries)), index_path)
        fast_banks = PeerBanks(args.bank_size, np.random.default_rng(7), resiliparse_text)
        slow_banks = PeerBanks(args.bank_size, np.random.default_rng(7), trafilatura_text)
        print(
            f"WARC: {args.records} responses ({size / 1e6:.1f} MB gzip): {describe(args.records)};"
            f" banks: {len(entries)} entries ({args.bank_size + 1} PDQ, {args.bank_size + 2} text)"
        )
        ours_label, workers_label = "passerelle scan, 1 process", "passerelle scan, --workers 2"
        fast_label, slow_label = (
            "fastwarc+resiliparse+pdqhash+MinHash",
            "warcio+trafilatura+pdqhash+MinHash",
        )
        runs = [(ours_label, lambda: run_ours(path, index_path, 1))]
        if not args.no_workers:
            runs.append((workers_label, lambda: run_ours(path, index_path, 2)))
        runs += [
            (fast_label, lambda: run_fast_peer(path, fast_banks)),
            (slow_label, lambda: run_warcio_peer(path, slow_banks)),
        ]
        rates: dict[str, float] = {}
        # CPU seconds of the one-process runs: on a shared machine, what the others' work
        # changes least (the workers' CPU is spent in other processes: not counted).
        cpu: dict[str, float] = {}
        found: dict[str, Found] = {}
        for attempt in range(args.repeat):
            for label, run in runs:
                before = load()
                matched, seconds, spent = run()
                if found.setdefault(label, matched) != matched:
                    raise SystemExit(f"{label} found other matches on attempt {attempt + 1}")
                rates[label] = max(rates.get(label, 0.0), args.records / seconds)
                if label != workers_label:
                    cpu[label] = min(cpu.get(label, spent), spent)
                print(
                    f"{label:<38} {len(matched)} matches, {seconds:6.2f} s ="
                    f" {args.records / seconds:6.1f} responses/s, {spent:6.2f} CPU s"
                    f"{' (reading process)' if label == workers_label else ''}"
                    f" (load average {before} before, {load()} after)"
                )
        if args.repeat > 1:
            for label, rate in rates.items():
                print(f"best of {args.repeat}: {label:<38} {rate:6.1f} responses/s")
    differ = [label for label in found if found[label] != found[ours_label]]
    if differ:
        for label in differ:
            print(
                f"{label} differs from ours: only ours {sorted(found[ours_label] - found[label])[:5]},"
                f" only it {sorted(found[label] - found[ours_label])[:5]}"
            )
        raise SystemExit("the runs did not find the same matches")
    print(f"every run found the same {len(found[ours_label])} matches (address, bank entry)")
    print(
        f"by CPU time, one process: {cpu[slow_label] / cpu[ours_label]:.2f}x vs"
        f" warcio+trafilatura, {cpu[fast_label] / cpu[ours_label]:.2f}x vs fastwarc loop"
    )
    ours = rates[ours_label]
    if workers_label in rates:
        print(f"warc_scan_2_workers: {rates[workers_label] / ours:.2f}x vs 1 process")
        print(
            f"warc_scan_2_workers: {rates[workers_label] / rates[fast_label]:.2f}x vs fastwarc loop"
        )
    print(f"warc_scan: {ours / rates[slow_label]:.2f}x vs warcio+trafilatura")
    print(f"warc_scan_fast_peer: {ours / rates[fast_label]:.2f}x vs fastwarc loop")


if __name__ == "__main__":
    main()
