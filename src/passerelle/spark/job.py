"""Crawl-scale scanning on Spark: WARC files in, a Parquet data set of candidates out.

Every record goes through the same `passerelle.scan.scan` as `passerelle scan`. The matcher is
the on-disk index (`core.index.store`): the driver ships its files to the executors with
`SparkContext.addFile` and broadcasts only their name; each Python worker opens them
memory-mapped once per job (their checksums verified once), never a pickled matcher, never a
rebuild. Records are matched in batches. One task per input file. A bad record or file is
counted and named in the counters, never fatal.

Run it with `passerelle spark scan …` (local mode, or any master), or with `spark-submit` on a
cluster (see `passerelle.spark.submit` and the README)."""

from __future__ import annotations

import glob
import json
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import numpy as np

from passerelle.core.bank import Bank, BankEntry
from passerelle.core.content import Content
from passerelle.core.errors import InvalidInput
from passerelle.core.index.store import (
    HEADER,
    MatchIndex,
    UnusableIndex,
    open_index,
    read_header,
    save,
    writing,
)
from passerelle.core.match import Matcher, index_entries
from passerelle.exchange.candidates import candidate_row
from passerelle.intake import Problem
from passerelle.intake.archive import iter_archive
from passerelle.scan import ScanOptions, SeenPayloads, needed_signal_types, scan, scan_many

if TYPE_CHECKING:
    from pyspark import Broadcast
    from pyspark.sql import SparkSession

# Per Python worker: the matcher of the job's index files, opened once per job. Keyed by a
# token drawn for each job: Python workers outlive a Spark context, and broadcast ids start
# again from 0 in the next one (keying by them mixed up two jobs' banks, measured).
_MATCHERS: dict[str, Matcher] = {}
# Records whose signals are matched together (one index search per signal type).
MATCH_BATCH = 64
# (job token, name of the index folder shipped with addFile, bank ids or None for all)
Shared = tuple[str, str, list[str] | None]


@dataclass
class Counters:
    files: int = 0
    records_read: int = 0
    invalid: int = 0  # records or files that could not be read (skipped)
    warnings: int = 0  # records read despite a defect (a digest that does not verify, …)
    matched: int = 0
    problems: dict[str, list[str]] = field(default_factory=dict)  # file -> what went wrong

    def as_dict(self) -> dict[str, object]:
        return {
            "files": self.files,
            "records_read": self.records_read,
            "invalid": self.invalid,
            "warnings": self.warnings,
            "matched": self.matched,
            "problems": self.problems,
        }


def job_options(banked: Iterable[str], *, full: bool = False) -> ScanOptions:
    """The job's options, given the signal types the banks hold. The fast path (the default)
    computes only those (and the address, cheap and needed to key the queue): matches cannot
    differ from the full path, since a signal that no entry has cannot match. Matched records
    keep their bytes, to be preserved when imported, and get every signal."""
    if full:
        return ScanOptions(keep_matched_content=True)
    wanted = needed_signal_types(banked) | {"url"}
    return ScanOptions(keep_matched_content=True, signal_types=wanted)


# --- the index shipped to the executors --------------------------------------------------------


def build_index(banks: Sequence[Bank], entries: Iterable[BankEntry], path: Path) -> Path:
    """Write the index of `banks` to `path` (for `spark-submit`, which reads a banks file)."""
    with writing(path):
        save(MatchIndex.build(banks, index_entries(banks, entries)), path)
    return path


def snapshot_index(source: Path, target: Path) -> Path:
    """The files of the index at `source` as they stand now, hard-linked (copied across file
    systems) into `target`: a writer replacing the index meanwhile never changes what the
    job ships. `UnusableIndex` if no consistent state could be read."""
    for _ in range(5):
        raw = (source / HEADER).read_bytes()
        names: list[str] = []
        try:
            header = json.loads(raw)
            for segment in header["segments"]:
                names.extend(f"{segment['name']}/{name}.npy" for name in segment["files"])
            if isinstance(header.get("dead"), dict):
                names.append(f"{header['dead']['name']}.npy")
        except (ValueError, KeyError, TypeError) as exc:
            raise UnusableIndex(f"{source}: malformed header ({exc})") from None
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        try:
            for name in names:
                (target / name).parent.mkdir(exist_ok=True)
                _link_or_copy(source / name, target / name)
        except FileNotFoundError:
            continue  # replaced by a writer while linking: read the new header
        (target / HEADER).write_bytes(raw)
        read_header(target)  # the checksum of what was shipped
        return target
    raise UnusableIndex(f"{source}: the index kept changing while it was copied")


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        shutil.copyfile(source, target)


def banked_types(index: MatchIndex, bank_ids: Sequence[str] | None) -> frozenset[str]:
    """The signal types the chosen banks hold (all banks for None)."""
    kinds = index.catalogue.kinds
    if bank_ids is None:
        return frozenset(kinds)
    slots = [i for i, b in enumerate(index.catalogue.banks) if b.id in set(bank_ids)]
    found: set[int] = set()
    for segment in index.segments:
        chosen = np.isin(np.asarray(segment.bank), slots)
        found.update(np.unique(np.asarray(segment.kind)[chosen]).tolist())
    return frozenset(kinds[k] for k in found)


# --- inputs ------------------------------------------------------------------------------------


def _scheme(path: str) -> str:
    scheme = urlsplit(path).scheme
    return "" if len(scheme) <= 1 else scheme.lower()  # "C:" is a drive, not a scheme


def expand_inputs(arguments: Iterable[str]) -> list[str]:
    """Paths, globs and `@list` files (one path per line) to the list of input files,
    checked before any job starts: a missing or unreadable local path is an InvalidInput
    naming it. URIs are read through Spark's file system (`s3a://`, `hdfs://`, and `file://`,
    checked here as local files); other schemes are left to the cluster."""
    found: list[str] = []
    for argument in arguments:
        if argument.startswith("@"):
            listing = Path(argument[1:])
            try:
                lines = listing.read_text(encoding="utf-8").splitlines()
            except OSError as exc:
                raise InvalidInput(
                    "cannot read the list %(listing)s: %(strerror)s",
                    listing=listing,
                    strerror=exc.strerror,
                ) from None
            found.extend(expand_inputs(line.strip() for line in lines if line.strip()))
            continue
        scheme = _scheme(argument)
        if scheme and scheme != "file":
            found.append(argument)
            continue
        local = urlsplit(argument).path if scheme == "file" else argument
        files = _local_files(local, argument)
        if scheme:
            found.extend(f"file://{name}" for name in files)
        else:
            found.extend(files)
    if not found:
        raise InvalidInput("no input file")
    return found


def _local_files(pattern: str, argument: str) -> list[str]:
    matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
    if not matches:
        raise InvalidInput("no input matches %(argument)s", argument=argument)
    files: list[str] = []
    for name in matches:
        path = Path(name)
        if path.is_dir():
            files.extend(str(p) for p in sorted(path.rglob("*")) if p.is_file())
        elif not path.is_file():
            raise InvalidInput("no such input file: %(name)s", name=name)
        elif not os.access(path, os.R_OK):
            raise InvalidInput("input file not readable: %(name)s", name=name)
        else:
            files.append(str(path))
    return files


# --- the work of one task ----------------------------------------------------------------------


def _locate(name: str) -> Path:
    """Where this executor received the file shipped under `name`."""
    from pyspark import SparkFiles

    return Path(SparkFiles.get(name))


def _matcher(shared: Broadcast[Shared]) -> Matcher:
    token, name, bank_ids = shared.value
    if token not in _MATCHERS:
        _MATCHERS.clear()  # one job's index at a time in a worker's memory
        _MATCHERS[token] = Matcher(open_index(_locate(name))).restricted(bank_ids)
    return _MATCHERS[token]


def scan_file(path: str, matcher: Matcher, options: ScanOptions) -> Iterator[tuple[Any, ...]]:
    """Every record of one archive through `scan` (records matched in batches of
    `MATCH_BATCH`: one index search per signal type and batch): ("candidate", row) for each
    match, ("problem", source, reason, fatal) for each bad record or file, then ("count",
    path, records read). A payload met again in the archive is not fingerprinted again."""
    read = 0
    batch: list[Content] = []
    seen = SeenPayloads()
    for item in iter_archive(Path(path)):
        if isinstance(item, Problem):
            yield ("problem", item.source, item.reason, item.fatal)
            continue
        read += 1
        batch.append(item)
        if len(batch) >= MATCH_BATCH:
            yield from _scan_batch(batch, matcher, options, seen)
            batch = []
    yield from _scan_batch(batch, matcher, options, seen)
    yield ("count", path, read)


def _scan_batch(
    batch: list[Content], matcher: Matcher, options: ScanOptions, seen: SeenPayloads
) -> Iterator[tuple[Any, ...]]:
    try:
        results = scan_many(batch, matcher, options, seen)
    except Exception:
        # One bad record spoils the batch: scan each alone, so that only it is counted bad.
        for item in batch:
            try:
                result = scan(item, matcher, options)
            except Exception as exc:
                yield ("problem", item.source, f"{type(exc).__name__}: {exc}", True)
                continue
            if result.matches:
                yield ("candidate", candidate_row(result))
        return
    for result in results:
        if result.matches:
            yield ("candidate", candidate_row(result))


def _local_task(
    paths: Iterable[str],
    banks: Broadcast[Shared],
    options: ScanOptions,
) -> Iterator[tuple[Any, ...]]:
    matcher = _matcher(banks)
    for path in paths:
        yield from scan_file(path, matcher, options)


def _remote_task(
    files: Iterable[tuple[str, bytes]],
    banks: Broadcast[Shared],
    options: ScanOptions,
) -> Iterator[tuple[Any, ...]]:
    """Files read by Spark from its file system (s3a://, hdfs://): spooled to a local
    temporary file, then read as any archive; results name the original URI."""
    matcher = _matcher(banks)
    for uri, data in files:
        suffix = "".join(Path(urlsplit(uri).path).suffixes)
        with tempfile.NamedTemporaryFile(suffix=suffix) as spool:
            spool.write(data)
            spool.flush()
            for record in scan_file(spool.name, matcher, options):
                yield tuple(_rename(value, spool.name, uri) for value in record)


def _rename(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, dict) and isinstance(value.get("source"), str):
        return {**value, "source": value["source"].replace(old, new)}
    return value


# --- the job -----------------------------------------------------------------------------------


def candidate_schema() -> Any:
    from pyspark.sql.types import (
        ArrayType,
        BinaryType,
        DoubleType,
        IntegerType,
        MapType,
        StringType,
        StructField,
        StructType,
    )

    text = StringType()
    match = StructType(
        [
            StructField("bank", text),
            StructField("signal_type", text),
            StructField("value", text),
            StructField("distance", DoubleType()),
            StructField("threshold", DoubleType()),
            StructField("origin", text),
            StructField("category", text),
            StructField("tier", text),
            StructField("tags", ArrayType(text)),
        ]
    )
    return StructType(
        [
            StructField("source", text),
            StructField("url", text),
            StructField("crawl_date", text),
            StructField("sha256", text, nullable=False),
            StructField("media_type", text),
            StructField("title", text),
            StructField("language", text),
            StructField("signals", MapType(text, text)),
            StructField("matches", ArrayType(match)),
            StructField("score", IntegerType()),
            StructField("reasons", ArrayType(text)),
            StructField("reasons_json", text),
            StructField("content", BinaryType()),
        ]
    )


def run_scan(
    spark: SparkSession,
    inputs: Sequence[str],
    *,
    index: Path,
    output: str,
    bank_ids: Sequence[str] | None = None,
    full: bool = False,
    mode: str = "errorifexists",
) -> Counters:
    """Scan `inputs` (already expanded) against the index at `index` (restricted to
    `bank_ids`) and write the candidates to `output` (Parquet). The index's files are
    shipped to the executors as they stand now. Returns the counters (also written beside
    the data set when the output is local)."""
    opened = open_index(index)
    if not len(opened):
        raise InvalidInput("the banks hold no entry: nothing could match")
    options = job_options(banked_types(opened, bank_ids), full=full)
    context = spark.sparkContext
    token = uuid.uuid4().hex
    with tempfile.TemporaryDirectory(prefix="passerelle-spark-") as scratch:
        shipped = snapshot_index(index, Path(scratch) / f"passerelle-index-{token}")
        context.addFile(str(shipped), recursive=True)
        shared = context.broadcast((token, shipped.name, list(bank_ids) if bank_ids else None))
        return _run(spark, inputs, shared, options, output, mode)


def _run(
    spark: SparkSession,
    inputs: Sequence[str],
    shared: Broadcast[Shared],
    options: ScanOptions,
    output: str,
    mode: str,
) -> Counters:
    context = spark.sparkContext
    local = [p for p in inputs if not _scheme(p)]
    remote = [p for p in inputs if _scheme(p)]
    parts = []
    if local:
        parts.append(
            context.parallelize(local, numSlices=len(local)).mapPartitions(
                lambda paths: _local_task(paths, shared, options)
            )
        )
    if remote:
        parts.append(
            context.binaryFiles(",".join(remote)).mapPartitions(
                lambda files: _remote_task(files, shared, options)
            )
        )
    records = parts[0] if len(parts) == 1 else context.union(parts)
    records = records.persist()
    try:
        candidates = records.filter(lambda r: r[0] == "candidate").map(lambda r: r[1])
        spark.createDataFrame(candidates, schema=candidate_schema()).write.mode(mode).parquet(
            output
        )
        matched = candidates.count()
        tallies = records.filter(lambda r: r[0] != "candidate").collect()
    finally:
        records.unpersist()
        shared.unpersist()
    counters = Counters(files=len(inputs), matched=matched)
    for record in tallies:
        if record[0] == "count":
            counters.records_read += record[2]
            continue
        _, source, reason, fatal = record
        if fatal:
            counters.invalid += 1
        else:
            counters.warnings += 1
        counters.problems.setdefault(_file_of(source), []).append(f"{source}: {reason}")
    for reasons in counters.problems.values():
        reasons.sort()
    if not _scheme(output) or _scheme(output) == "file":
        target = Path(urlsplit(output).path if _scheme(output) else output) / "_counters.json"
        target.write_text(json.dumps(counters.as_dict(), indent=2, sort_keys=True) + "\n")
    return counters


def _file_of(source: str) -> str:
    """The archive a record source names (`crawl.warc.gz#12` -> `crawl.warc.gz`)."""
    return source.rsplit("#", 1)[0] if "#" in source else source


def make_session(master: str | None, app_name: str = "passerelle-scan") -> SparkSession:
    """A Spark session; in local mode, its Python workers run this very interpreter (the
    virtual environment with Passerelle installed)."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(app_name)
    if master:
        builder = builder.master(master)
    if master and master.startswith("local"):
        # The workers must run this interpreter (its virtual environment holds Passerelle);
        # Spark reads the variable when it starts them.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        # One machine: the driver and its workers talk over loopback, never over an
        # interface another host can reach (Spark would pick one when the host name
        # resolves to 127.0.0.1). SPARK_LOCAL_IP, where set, still decides.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        loopback = os.environ["SPARK_LOCAL_IP"]
        builder = builder.config("spark.driver.host", loopback).config(
            "spark.driver.bindAddress", loopback
        )
    builder = builder.config("spark.ui.enabled", "false").config(
        "spark.sql.parquet.compression.codec", "zstd"
    )
    return builder.getOrCreate()
