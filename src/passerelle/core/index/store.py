"""The match index of an agency's banks as arrays: built in memory, or written to a directory
and opened memory-mapped (no parsing, no ORM, never pickle), following the database by a
generation counter.

A directory holds:

    header.json     format and version, the generation it reflects, the banks, the label
                    table, the PDQ radius, the segments and the tombstones with each file's
                    size and CRC-32, and a CRC-32 of the header itself
    seg-<token>/    one segment of entries as NumPy `.npy` arrays: the base (PDQ multi-index
                    tables sorted once, when written) and deltas (entries added since)
    dead-<token>.npy  tombstones: rows withdrawn since the base was written, sorted
    lock            held (flock) by the one process that writes

Every write is copy-on-write: new files under new names, then `header.json` replaced
atomically, then the files no header names any more removed; a reader never sees half an
update. A delta grows until it is worth merging (`needs_compaction`), then every live row is
written again as one base. A file of the wrong size or checksum makes the whole index
unusable (`UnusableIndex`): the caller rebuilds it from the database, never trusts it.
Opening checks every file's size and its modification time against the header; a file
changed since it was written (another time) has its CRC-32 computed and compared, so that
opening an untouched index of gigabytes reads none of it (`open_index(full=True)` checks
every CRC-32).

PDQ rows carry an owner (the entry they belong to) and a time: an image entry has one row
at time NaN; a video entry has one row per kept frame, at the frame's time in seconds. The
arrays themselves, and how they are built from entries and merged, are in `columns`."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from passerelle.core.bank import Bank
from passerelle.core.errors import InvalidInput, PasserelleError
from passerelle.core.index.columns import (
    ARRAYS,
    ID_WIDTH,
    NO_TIME,
    TABLES_FROM,
    Catalogue,
    Columns,
    build_columns,
    merge_columns,
    pdq_codes,
    with_tables,
)
from passerelle.core.index.entry import Frame, IndexEntry
from passerelle.core.index.mih import (
    MihTables,
    brute_search,
    flip_masks,
    search_in_blocks,
)
from passerelle.core.signals.text import NUM_PERM, hex_to_signature, signature_to_hex
from passerelle.core.taxonomy import Labels

FORMAT = "passerelle-match-index"
VERSION = 1
HEADER = "header.json"
MAX_DELTAS = 8

_CHUNK = 1 << 22
_TEXT_BLOCK = 1 << 24  # bytes of text-signature comparisons made in one step


__all__ = ["Frame", "IndexEntry", "MatchIndex", "UnusableIndex"]


class UnusableIndex(PasserelleError):
    """The index directory is missing, of another format, or damaged: rebuild it."""


class StaleIndex(UnusableIndex):
    """The index is older than what the database can still bring it up to (the withdrawals
    since were pruned): rebuild it."""


@dataclass(frozen=True, slots=True)
class Hit:
    """A stored entry found by a query: query row, global entry row, distance, frame time."""

    query: int
    row: int
    distance: float
    at: float = NO_TIME


class MatchIndex:
    """Every entry of a set of banks, searchable by signal type, in segments of arrays; rows
    are numbered across segments (base first) and withdrawn rows are tombstones."""

    def __init__(
        self,
        *,
        catalogue: Catalogue,
        segments: list[Columns],
        dead: np.ndarray,
        generation: int,
        radius: int,
        path: Path | None = None,
        segment_names: list[str] | None = None,
        dead_name: str | None = None,
    ) -> None:
        self.catalogue = catalogue
        self.segments = segments
        self.dead = dead
        self.generation = generation
        self.radius = radius
        self.path = path
        self.segment_names = segment_names or [""] * len(segments)
        self.dead_name = dead_name
        self._masks = flip_masks(radius)
        self._offsets = np.cumsum([0, *(len(s) for s in segments)]).astype(np.int64)

    # --- building -----------------------------------------------------------------------

    @classmethod
    def build(
        cls, banks: Sequence[Bank], entries: Iterable[IndexEntry], *, generation: int = 0
    ) -> MatchIndex:
        catalogue = Catalogue()
        catalogue.set_banks(banks)
        columns = with_tables(build_columns(entries, catalogue))
        return cls(
            catalogue=catalogue,
            segments=[columns],
            dead=np.empty(0, dtype=np.int64),
            generation=generation,
            radius=radius_for(banks),
        )

    def __len__(self) -> int:
        return int(self._offsets[-1]) - len(self.dead)

    @property
    def rows(self) -> int:
        return int(self._offsets[-1])

    def with_changes(
        self,
        *,
        banks: Sequence[Bank],
        added: Iterable[IndexEntry],
        removed: Iterable[str],
        generation: int,
    ) -> MatchIndex:
        """A new index: this one with `added` entries and without the entries of ids
        `removed` (unknown ids are ignored). Same catalogue object, extended."""
        self.catalogue.set_banks(banks)
        delta = build_columns(added, self.catalogue)
        wanted = np.array(sorted(set(removed)), dtype=f"S{ID_WIDTH}")
        dead = self.dead
        if len(wanted):
            found = [self.dead]
            for offset, segment in zip(self._offsets, self.segments, strict=False):
                hit = np.nonzero(np.isin(segment.entry_ids, wanted))[0]
                found.append(hit.astype(np.int64) + offset)
            dead = np.unique(np.concatenate(found))
        segments = [*self.segments, with_tables(delta)] if len(delta) else list(self.segments)
        radius = max(self.radius, radius_for(self.catalogue.banks))
        changed = MatchIndex(
            catalogue=self.catalogue,
            segments=segments,
            dead=dead,
            generation=generation,
            radius=radius,
            path=self.path,
            segment_names=[*self.segment_names, *([""] if len(delta) else [])],
            dead_name=self.dead_name if dead is self.dead else None,
        )
        if radius != self.radius or changed.needs_compaction():
            return changed.compacted()
        return changed

    def needs_compaction(self) -> bool:
        base = len(self.segments[0]) if self.segments else 0
        delta = self.rows - base
        return (
            len(self.segments) > MAX_DELTAS + 1
            or delta > max(TABLES_FROM, min(base // 8, 100_000))
            or len(self.dead) > max(TABLES_FROM, base // 8)
        )

    def compacted(self) -> MatchIndex:
        """The same entries as one base segment, without tombstones."""
        parts = []
        for offset, segment in zip(self._offsets, self.segments, strict=False):
            keep = np.ones(len(segment), dtype=bool)
            dead = self.dead[(self.dead >= offset) & (self.dead < offset + len(segment))]
            keep[dead - offset] = False
            parts.append((segment, keep))
        base = with_tables(merge_columns(parts))
        return MatchIndex(
            catalogue=self.catalogue,
            segments=[base],
            dead=np.empty(0, dtype=np.int64),
            generation=self.generation,
            radius=max(self.radius, radius_for(self.catalogue.banks)),
            path=self.path,
            segment_names=[""],
        )

    # --- reading rows -------------------------------------------------------------------

    def _locate(self, row: int) -> tuple[Columns, int]:
        segment = int(np.searchsorted(self._offsets, row, side="right")) - 1
        return self.segments[segment], row - int(self._offsets[segment])

    def entry_id(self, row: int) -> str:
        columns, local = self._locate(row)
        return bytes(columns.entry_ids[local]).decode("ascii")

    def bank(self, row: int) -> Bank:
        columns, local = self._locate(row)
        return self.catalogue.banks[int(columns.bank[local])]

    def labels(self, row: int) -> Labels:
        columns, local = self._locate(row)
        return self.catalogue.labels[int(columns.label[local])]

    def signal_type(self, row: int) -> str:
        columns, local = self._locate(row)
        return self.catalogue.kinds[int(columns.kind[local])]

    def value(self, row: int) -> str:
        columns, local = self._locate(row)
        if self.catalogue.kinds[int(columns.kind[local])] == "text":
            position = int(np.searchsorted(columns.text_row, local))
            return signature_to_hex(columns.text_sigs[position])
        position = int(np.searchsorted(columns.long_row, local))
        if position < len(columns.long_row) and int(columns.long_row[position]) == local:
            start = int(columns.long_end[position - 1]) if position else 0
            end = int(columns.long_end[position])
            return np.asarray(columns.long_values[start:end]).tobytes().decode()
        return bytes(columns.value[local]).decode("ascii")

    def frame_count(self, row: int) -> int:
        """How many PDQ rows (frames of a video) the entry of `row` has."""
        columns, local = self._locate(row)
        owners = columns.pdq_row
        return int(np.searchsorted(owners, local, "right") - np.searchsorted(owners, local))

    def entries(self) -> Iterator[tuple[str, str, str, str, Labels]]:
        """(entry id, bank id, signal type, value, labels) of every live row."""
        dead = set(self.dead.tolist())
        for row in range(self.rows):
            if row not in dead:
                yield (
                    self.entry_id(row),
                    self.bank(row).id,
                    self.signal_type(row),
                    self.value(row),
                    self.labels(row),
                )

    def _alive(self, rows: np.ndarray) -> np.ndarray:
        if not len(self.dead) or not len(rows):
            return np.ones(len(rows), dtype=bool)
        at = np.searchsorted(self.dead, rows)
        at[at >= len(self.dead)] = 0
        return np.asarray(self.dead[at] != rows)

    # --- queries ------------------------------------------------------------------------

    def query_pdq(self, values: Sequence[str], limit: int | None = None) -> list[Hit]:
        """Every live PDQ row (image or frame) within `limit` bits of each query hash."""
        bound = self.radius if limit is None else limit
        if bound > self.radius:
            raise InvalidInput(
                "this index guarantees recall up to radius %(radius)s", radius=self.radius
            )
        queries = pdq_codes(values)
        found: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        for offset, segment in zip(self._offsets, self.segments, strict=False):
            codes = segment.pdq_codes
            if segment.tables is not None:
                q, c, d = search_in_blocks(segment.tables, queries, bound, self._masks)
            else:
                q, c, d = brute_search(np.asarray(codes), queries, bound)
            if len(q):
                found.append((q, segment.pdq_row[c] + offset, d, segment.pdq_at[c]))
        return self._hits(found)

    def query_exact(self, signal_type: str, values: Sequence[str]) -> list[Hit]:
        asked = np.array(values, dtype="S64")
        found = []
        for offset, segment in zip(self._offsets, self.segments, strict=False):
            if signal_type not in segment.exact or not len(asked):
                continue
            keys, rows = segment.exact[signal_type]
            low = np.searchsorted(keys, asked, side="left")
            high = np.searchsorted(keys, asked, side="right")
            counts = high - low
            if not counts.any():
                continue
            q = np.repeat(np.arange(len(asked)), counts)
            slots = np.repeat(low - (np.cumsum(counts) - counts), counts) + np.arange(counts.sum())
            r = rows[slots] + offset
            found.append((q, r, np.zeros(len(q)), np.full(len(q), NO_TIME)))
        return self._hits(found)

    def query_text(self, values: Sequence[str], limit: float) -> list[Hit]:
        """Estimated Jaccard distance of every text entry to each query (exact, vectorised)."""
        found = []
        if not values:
            return []
        asked = np.vstack([hex_to_signature(value) for value in values])
        for offset, segment in zip(self._offsets, self.segments, strict=False):
            if not len(segment.text_row):
                continue
            sigs = np.asarray(segment.text_sigs)
            # Queries compared at a time: as many as keep the comparison under _TEXT_BLOCK
            # bytes (one at a time past that), in one vectorised step rather than a loop.
            step = max(1, _TEXT_BLOCK // max(1, sigs.size))
            for first in range(0, len(asked), step):
                same = sigs[None, :, :] == asked[first : first + step, None, :]
                # Summed as bytes (at most NUM_PERM = 128 agree): the same counts as
                # count_nonzero, which widens every flag to a machine word, in half the time.
                d = 1.0 - same.sum(axis=2, dtype=np.uint8) / NUM_PERM
                queries, near = np.nonzero(d <= limit)
                if len(near):
                    found.append(
                        (
                            queries + first,
                            segment.text_row[near] + offset,
                            d[queries, near],
                            np.full(len(near), NO_TIME),
                        )
                    )
        return self._hits(found)

    def _hits(
        self, found: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]
    ) -> list[Hit]:
        hits: list[Hit] = []
        for q, rows, d, at in found:
            alive = self._alive(rows)
            for qq, rr, dd, aa in zip(
                q[alive].tolist(),
                rows[alive].tolist(),
                d[alive].tolist(),
                at[alive].tolist(),
                strict=True,
            ):
                hits.append(Hit(int(qq), int(rr), float(dd), float(aa)))
        return hits


def radius_for(banks: Iterable[Bank]) -> int:
    return int(max([b.threshold_for("pdq") for b in banks] or [31]) // 1)


# --- files ------------------------------------------------------------------------------


@contextlib.contextmanager
def writing(path: Path) -> Iterator[None]:
    """Hold the directory's write lock (one writer at a time, across processes)."""
    path.mkdir(parents=True, exist_ok=True)
    with open(path / "lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _crc(path: Path) -> int:
    crc = 0
    with open(path, "rb", buffering=0) as file:
        while chunk := file.read(_CHUNK):
            crc = zlib.crc32(chunk, crc)
    return crc


def _save(folder: Path, name: str, array: np.ndarray) -> dict[str, int]:
    target = folder / f"{name}.npy"
    np.save(target, np.ascontiguousarray(array), allow_pickle=False)
    crc = _crc(target)
    stat = target.stat()
    return {"size": stat.st_size, "crc32": crc, "mtime_ns": stat.st_mtime_ns}


def _segment_arrays(columns: Columns) -> dict[str, np.ndarray]:
    arrays = {name: np.asarray(getattr(columns, name)) for name in ARRAYS}
    for kind, (keys, rows) in columns.exact.items():
        arrays[f"exact_{kind}_keys"] = np.asarray(keys)
        arrays[f"exact_{kind}_rows"] = np.asarray(rows)
    if columns.tables is not None:
        arrays["mih_starts"] = np.asarray(columns.tables.starts)
        arrays["mih_positions"] = np.asarray(columns.tables.positions)
        arrays["mih_prefix"] = np.asarray(columns.tables.prefix)
    return arrays


def _write_segment(path: Path, columns: Columns) -> tuple[str, dict[str, object]]:
    name = f"seg-{secrets.token_hex(8)}"
    folder = path / name
    folder.mkdir()
    files = {key: _save(folder, key, value) for key, value in _segment_arrays(columns).items()}
    _fsync_dir(folder)
    return name, {"rows": len(columns), "files": files}


def _fsync_dir(folder: Path) -> None:
    for file in folder.iterdir():
        with open(file, "rb") as handle:
            os.fsync(handle.fileno())


def save(index: MatchIndex, path: Path) -> MatchIndex:
    """Write what of `index` is not on disk yet under `path`, then the header; the caller
    holds `writing(path)`. Returns the index as it now stands on disk (memory-mapped)."""
    previous = _read_header_or_none(path)
    known: dict[str, dict[str, object]] = {}
    if previous is not None:
        for entry in previous["segments"]:  # type: ignore[attr-defined]
            known[entry["name"]] = entry
    segments = []
    for name, columns in zip(index.segment_names, index.segments, strict=True):
        if name and name in known and index.path == path:
            segments.append(known[name])
        else:
            new_name, meta = _write_segment(path, columns)
            segments.append({"name": new_name, **meta})
    dead: dict[str, object] | None = None
    if len(index.dead):
        if index.dead_name and previous and previous.get("dead", {}) and index.path == path:
            dead = previous["dead"]  # type: ignore[assignment]
        else:
            name = f"dead-{secrets.token_hex(8)}"
            dead = {"name": name, **_save(path, name, index.dead)}
    header: dict[str, object] = {
        "format": FORMAT,
        "version": VERSION,
        "generation": index.generation,
        "radius": index.radius,
        **index.catalogue.as_json(),
        "segments": segments,
        "dead": dead,
    }
    body = json.dumps(header, sort_keys=True)
    header["checksum"] = zlib.crc32(body.encode())
    temporary = path / f"{HEADER}.{secrets.token_hex(4)}"
    temporary.write_text(json.dumps(header, sort_keys=True), encoding="utf-8")
    with open(temporary, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, path / HEADER)
    _remove_unreferenced(path, header)
    return open_index(path, verify=False)


def _remove_unreferenced(path: Path, header: dict[str, object]) -> None:
    names = {s["name"] for s in header["segments"]}  # type: ignore[attr-defined]
    dead = header.get("dead")
    if isinstance(dead, dict):
        names.add(f"{dead['name']}.npy")
    for item in path.iterdir():
        if item.name in {HEADER, "lock"} or item.name in names:
            continue
        if item.is_dir() and item.name.startswith("seg-"):
            shutil.rmtree(item, ignore_errors=True)
        elif item.name.startswith(("dead-", f"{HEADER}.")):
            item.unlink(missing_ok=True)


def _read_header_or_none(path: Path) -> dict[str, object] | None:
    try:
        return read_header(path)
    except UnusableIndex:
        return None


def read_header(path: Path) -> dict[str, object]:
    """The header of the index at `path`, checked (format, version, checksum)."""
    try:
        header = json.loads((path / HEADER).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UnusableIndex(f"no index at {path}") from None
    except (OSError, ValueError) as exc:
        raise UnusableIndex(f"unreadable index header at {path}: {exc}") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise UnusableIndex(f"{path / HEADER} is not a match index")
    if header.get("version") != VERSION:
        raise UnusableIndex(f"index version {header.get('version')} is not {VERSION}")
    checksum = header.pop("checksum", None)
    if checksum != zlib.crc32(json.dumps(header, sort_keys=True).encode()):
        raise UnusableIndex(f"{path / HEADER}: checksum mismatch")
    return header


def _load(
    target: Path, meta: dict[str, int], verify: bool = True, full: bool = False
) -> np.ndarray:
    try:
        stat = target.stat()
    except FileNotFoundError:
        raise UnusableIndex(f"{target} is missing") from None
    if stat.st_size != meta["size"]:
        raise UnusableIndex(f"{target}: {stat.st_size} bytes, expected {meta['size']}")
    changed = stat.st_mtime_ns != meta.get("mtime_ns")
    try:
        if (full or (verify and changed)) and _crc(target) != meta["crc32"]:
            raise UnusableIndex(f"{target}: checksum mismatch")
        # A plain view of the mapping: NumPy's memmap subclass costs on every indexing.
        array: np.ndarray = np.asarray(np.load(target, mmap_mode="r", allow_pickle=False))
    except (OSError, ValueError) as exc:  # removed by a writer meanwhile, or unreadable
        raise UnusableIndex(f"{target}: {exc}") from None
    return array


def _open_segment(
    folder: Path, files: dict[str, dict[str, int]], verify: bool, full: bool
) -> Columns:
    arrays = {
        name: _load(folder / f"{name}.npy", meta, verify, full) for name, meta in files.items()
    }
    missing = [name for name in ARRAYS if name not in arrays]
    if missing:
        raise UnusableIndex(f"{folder}: missing {', '.join(missing)}")
    exact = {
        name[len("exact_") : -len("_keys")]: (arrays[name], arrays[name[:-5] + "_rows"])
        for name in arrays
        if name.startswith("exact_") and name.endswith("_keys")
    }
    tables = None
    if "mih_starts" in arrays:
        tables = MihTables(
            arrays["mih_starts"], arrays["mih_positions"], arrays["mih_prefix"], arrays["pdq_codes"]
        )
    return Columns(**{n: arrays[n] for n in ARRAYS}, exact=exact, tables=tables)


def open_index(path: Path, *, verify: bool = True, full: bool = False) -> MatchIndex:
    """The index at `path`, memory-mapped; `UnusableIndex` when missing or damaged. Every
    file's size is checked; its CRC-32 too when the file changed since it was written
    (`verify`, off for files just written) or always (`full`).
    A writer may replace the index while it is being opened: then the new one is opened."""
    for _ in range(5):
        header = read_header(path)
        try:
            return _open_with(path, header, verify, full)
        except UnusableIndex:
            if _read_header_or_none(path) == header:
                raise  # the same header: the damage is real
    return _open_with(path, read_header(path), verify, full)


def _open_with(path: Path, header: dict[str, object], verify: bool, full: bool) -> MatchIndex:
    try:
        catalogue = Catalogue.from_json(header)
        segments = [
            _open_segment(path / s["name"], s["files"], verify, full)
            for s in header["segments"]  # type: ignore[attr-defined]
        ]
        dead_meta = header.get("dead")
        dead = (
            _load(path / f"{dead_meta['name']}.npy", dead_meta, verify, full)
            if isinstance(dead_meta, dict)
            else np.empty(0, dtype=np.int64)
        )
        return MatchIndex(
            catalogue=catalogue,
            segments=segments,
            dead=dead,
            generation=int(header["generation"]),  # type: ignore[call-overload]
            radius=int(header["radius"]),  # type: ignore[call-overload]
            path=path,
            segment_names=[s["name"] for s in header["segments"]],  # type: ignore[attr-defined]
            dead_name=dead_meta["name"] if isinstance(dead_meta, dict) else None,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise UnusableIndex(f"{path}: malformed header ({exc})") from None
