"""Bank entries in CSV and in python-threatexchange's file format.

- CSV: a header row, then `signal_type,value,category,tier,tags,note,quality` (tags separated
  by `;`). Unknown columns are refused by name, so that a typo never drops a label silently.
- python-threatexchange (`LocalFileSignalExchangeAPI`): one signal a line, `<type> <value>`;
  its type names are mapped (`video_md5` → `md5`, `raw_text` → `text`); a `vpdq` line carries
  the JSON list of `"pdq,quality,timestamp"` frames of its vPDQ extension. It carries no labels:
  those given on the command line apply to every line."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import TextIO

from passerelle.core.bank import BankEntry, EntryInput
from passerelle.core.errors import InvalidInput
from passerelle.core.spreadsheet import csv_writer, restore_cell
from passerelle.core.taxonomy import Labels, parse_category, parse_tags, parse_tier

CSV_COLUMNS = ("signal_type", "value", "category", "tier", "tags", "note", "quality")
PYTX_TO_OURS = {
    "pdq": "pdq",
    "url": "url",
    "video_md5": "md5",
    "md5": "md5",
    "raw_text": "text",
    "sha256": "sha256",
    "text": "text",
    "vpdq": "vpdq",
}
OURS_TO_PYTX = {"pdq": "pdq", "url": "url", "vpdq": "vpdq"}


class BadLine(InvalidInput):
    """One line of a bank file is unusable; the import goes on with the next."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


def _labels_from(row: dict[str, str]) -> Labels:
    category = row.get("category", "").strip()
    tier = row.get("tier", "").strip()
    return Labels(
        category=parse_category(category) if category else None,
        tier=parse_tier(tier) if tier else None,
        tags=parse_tags(row.get("tags", "").replace(";", ",").split(",")),
    )


def read_csv(text: str | Iterable[str]) -> Iterator[EntryInput | BadLine]:
    """Entries of a CSV file, given whole or as its lines (read as they come: a file of any
    size is never held in memory)."""
    reader = csv.DictReader(io.StringIO(text) if isinstance(text, str) else text)
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        yield BadLine(1, "empty file: a header row is needed")
        return
    unknown = [h for h in header if h not in CSV_COLUMNS]
    if unknown or "signal_type" not in header or "value" not in header:
        yield BadLine(
            1,
            f"header must name signal_type and value, and only {', '.join(CSV_COLUMNS)}"
            + (f"; unknown: {', '.join(unknown)}" if unknown else ""),
        )
        return
    for number, raw in enumerate(reader, start=2):
        row = {k.strip(): restore_cell((v or "").strip()) for k, v in raw.items() if k is not None}
        if None in raw:
            yield BadLine(number, "more fields than the header names")
            continue
        try:
            quality = int(row["quality"]) if row.get("quality") else None
            yield EntryInput(
                signal_type=row.get("signal_type", ""),
                value=row.get("value", ""),
                labels=_labels_from(row),
                note=row.get("note", ""),
                quality=quality,
                line=number,
            )
        except ValueError:
            yield BadLine(number, f"quality must be a whole number, got {row.get('quality')!r}")
        except InvalidInput as exc:
            yield BadLine(number, str(exc))


def read_pytx(
    text: str | Iterable[str], labels: Labels, default_type: str | None = None
) -> Iterator[EntryInput | BadLine]:
    lines = text.splitlines() if isinstance(text, str) else text
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if default_type:
            kind, value = default_type, line
        else:
            kind, _, value = line.partition(" ")
        ours = PYTX_TO_OURS.get(kind.strip().lower())
        if ours is None:
            yield BadLine(number, f"unknown signal type {kind!r}")
            continue
        if not value.strip():
            yield BadLine(number, "no value after the signal type")
            continue
        yield EntryInput(signal_type=ours, value=value.strip(), labels=labels, line=number)


def dump_csv(entries: Iterable[BankEntry]) -> str:
    buffer = io.StringIO()
    write_csv(entries, buffer)
    return buffer.getvalue()


def write_csv(entries: Iterable[BankEntry], out: TextIO) -> int:
    """Write the CSV form of `entries` as they come; returns how many were written."""
    count = 0
    writer = csv_writer(out)
    writer.writerow(CSV_COLUMNS)
    for entry in entries:
        count += 1
        labels = entry.labels
        writer.writerow(
            [
                entry.signal.type,
                entry.signal.value,
                labels.category.value if labels.category else "",
                labels.tier.value if labels.tier else "",
                ";".join(sorted(labels.tags)),
                entry.note,
                "" if entry.signal.quality is None else entry.signal.quality,
            ]
        )
    return count


def dump_pytx(entries: Iterable[BankEntry], source_values: dict[str, str]) -> tuple[str, int]:
    """The lines python-threatexchange can read, and how many entries it has no form for
    (digests other than its own, text fingerprints, URLs whose address is not kept)."""
    buffer = io.StringIO()
    _, skipped = write_pytx(entries, source_values, buffer)
    return buffer.getvalue(), skipped


def write_pytx(
    entries: Iterable[BankEntry], source_values: dict[str, str], out: TextIO
) -> tuple[int, int]:
    """Write the pytx lines of `entries` as they come: (written, skipped)."""
    written = skipped = 0
    for entry in entries:
        kind = OURS_TO_PYTX.get(entry.signal.type)
        value = entry.signal.value
        if kind == "url":
            value = source_values.get(value, "")
        if kind is None or not value:
            skipped += 1
            continue
        out.write(f"{kind} {value}\n")
        written += 1
    return written, skipped
