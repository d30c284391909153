"""Bank entries in CSV and in python-threatexchange's formats, and the format of a file told
from its content.

- CSV: a header row, then `signal_type,value,category,tier,tags,note,quality,tlp,distribution`
  (tags separated by `;`; the last three optional). Unknown columns are refused by name, so
  that a typo never drops a label silently. Written through the one CSV writer that
  neutralises formulas (`core.spreadsheet`), read back through its `restore_cell`.
- python-threatexchange (`LocalFileSignalExchangeAPI`): one signal a line, `<type> <value>`, a
  newline after the last. Its whole vocabulary is mapped or refused with the reason: `pdq`,
  `video_md5` (→ `md5`), `video_sha256` (→ `sha256`), `url`, `raw_text` (fingerprinted as
  `text`), `vpdq`, `pdq_ocr` (its PDQ part); `url_md5`, `trend_query`, `text_tlsh` have no
  Passerelle form. Addresses are written both as given and in canonical form, since pytx
  compares raw strings. Such a file carries no labels nor marking: those given on the command
  line apply to every line, and an export leaves out what is marked stricter than the file.
- pytx's `dataset --csv` output (`signal_type,signal_str,collab,category,tags`) is read too."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import TextIO

from passerelle.core.bank import BankEntry, EntryInput
from passerelle.core.errors import InvalidInput
from passerelle.core.marking import (
    DEFAULT_TLP,
    Distribution,
    Tlp,
    effective,
    is_laxer,
    parse_tlp,
)
from passerelle.core.message import Message
from passerelle.core.signals.url import canonicalize_url
from passerelle.core.spreadsheet import csv_writer, restore_cell
from passerelle.core.taxonomy import Labels, parse_category, parse_tags, parse_tier

CSV_COLUMNS = (
    "signal_type",
    "value",
    "category",
    "tier",
    "tags",
    "note",
    "quality",
    "tlp",
    "distribution",
)
PYTX_CSV_COLUMNS = ("signal_type", "signal_str", "collab", "category", "tags")
PYTX_TO_OURS = {
    "pdq": "pdq",
    "url": "url",
    "video_md5": "md5",
    "video_sha256": "sha256",
    "md5": "md5",
    "sha256": "sha256",
    "raw_text": "text",
    "text": "text",
    "vpdq": "vpdq",
    "pdq_ocr": "pdq",
}
PYTX_REFUSED = {
    "url_md5": "an MD5 of an address as typed: Passerelle keeps addresses by their canonical"
    " form and cannot recover the address from its MD5",
    "trend_query": "a search query over text, not a fingerprint of content",
    "text_tlsh": "a TLSH of text: Passerelle fingerprints text with MinHash; import the text"
    " itself as raw_text",
}
OURS_TO_PYTX = {
    "pdq": "pdq",
    "url": "url",
    "md5": "video_md5",
    "sha256": "video_sha256",
    "vpdq": "vpdq",
}


class BadLine(InvalidInput):
    """One line of a bank file is unusable; the import goes on with the next. `cause` is the
    parser's own error when there is one (the console shows it in the person's language)."""

    def __init__(self, line: int, problem: str | InvalidInput) -> None:
        said = problem if isinstance(problem, InvalidInput) else Message(problem)
        super().__init__("line %(line)s: %(problem)s", line=line, problem=said)
        self.line = line
        self.cause = problem if isinstance(problem, InvalidInput) else None


def _marking_from(row: dict[str, str]) -> tuple[Tlp | None, Distribution | None]:
    tlp = row.get("tlp", "").strip()
    distribution = row.get("distribution", "").strip().lower()
    if distribution and distribution not in ("agreement", "onward"):
        raise InvalidInput(
            "distribution is agreement or onward, got %(distribution)s",
            distribution=repr(distribution),
        )
    return (
        parse_tlp(tlp) if tlp else None,
        Distribution(distribution) if distribution else None,
    )


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
        columns = ", ".join(CSV_COLUMNS)
        yield BadLine(
            1,
            InvalidInput(
                "header must name signal_type and value, and only %(columns)s;"
                " unknown: %(unknown)s",
                columns=columns,
                unknown=", ".join(unknown),
            )
            if unknown
            else InvalidInput(
                "header must name signal_type and value, and only %(columns)s", columns=columns
            ),
        )
        return
    for number, raw in enumerate(reader, start=2):
        row = {k.strip(): restore_cell((v or "").strip()) for k, v in raw.items() if k is not None}
        if None in raw:
            yield BadLine(number, "more fields than the header names")
            continue
        try:
            quality = int(row["quality"]) if row.get("quality") else None
            tlp, distribution = _marking_from(row)
            yield EntryInput(
                signal_type=row.get("signal_type", ""),
                value=row.get("value", ""),
                labels=_labels_from(row),
                note=row.get("note", ""),
                quality=quality,
                line=number,
                tlp=tlp,
                distribution=distribution,
            )
        except ValueError:
            yield BadLine(
                number,
                InvalidInput(
                    "quality must be a whole number, got %(quality)s",
                    quality=repr(row.get("quality")),
                ),
            )
        except InvalidInput as exc:
            yield BadLine(number, exc)


# A line as pytx writes a PDQ hash ("pdq", one space, 64 lowercase hexadecimal digits): read
# as it stands, by one match; any other line goes through the whole reading below.
_PLAIN_PDQ_LINE = re.compile(r"pdq ([0-9a-f]{64})\r?\n?")


def read_pytx(
    text: str | Iterable[str], labels: Labels, default_type: str | None = None
) -> Iterator[EntryInput | BadLine]:
    lines = text.splitlines() if isinstance(text, str) else text
    plain = None if default_type else _PLAIN_PDQ_LINE.fullmatch
    for number, raw in enumerate(lines, start=1):
        if plain is not None and (match := plain(raw)) is not None:
            yield EntryInput("pdq", match[1], labels, line=number)
            continue
        found = read_pytx_line(number, raw, labels, default_type)
        if found is not None:
            yield found


def read_pytx_line(
    number: int, raw: str, labels: Labels, default_type: str | None = None
) -> EntryInput | BadLine | None:
    """One line of a pytx file read in full (None for a blank line or a comment)."""
    line = raw.strip()
    if not line or line.startswith("#"):
        return None
    if default_type:
        kind, value = default_type, line
    else:
        kind, _, value = line.partition(" ")
    return _pytx_entry(number, kind, value, labels)


def _pytx_entry(number: int, kind: str, value: str, labels: Labels) -> EntryInput | BadLine:
    name = kind.strip().lower()
    if name in PYTX_REFUSED:
        return BadLine(
            number,
            InvalidInput(
                "signal type %(name)s is not imported: %(why)s",
                name=name,
                why=Message(PYTX_REFUSED[name]),
            ),
        )
    ours = PYTX_TO_OURS.get(name)
    if ours is None:
        known = ", ".join(sorted({*PYTX_TO_OURS, *PYTX_REFUSED}))
        return BadLine(
            number,
            InvalidInput(
                "unknown signal type %(kind)s (python-threatexchange's: %(known)s)",
                kind=repr(kind),
                known=known,
            ),
        )
    value = value.strip()
    if not value:
        return BadLine(number, "no value after the signal type")
    if name == "pdq_ocr":
        value = value.partition(",")[0].strip()  # "<pdq>,<text read in the image>"
    return EntryInput(signal_type=ours, value=value, labels=labels, line=number)


def read_pytx_csv(text: str | Iterable[str], labels: Labels) -> Iterator[EntryInput | BadLine]:
    """The output of pytx's `dataset --csv`: its opinions' tags become tags; a signal pytx
    holds as benign (NEGATIVE_CLASS) belongs in a negative bank and is refused here."""
    reader = csv.DictReader(io.StringIO(text) if isinstance(text, str) else text)
    for number, row in enumerate(reader, start=2):
        category = (row.get("category") or "").strip().upper()
        if category == "NEGATIVE_CLASS":
            yield BadLine(number, "pytx marks this signal benign (NEGATIVE_CLASS): not imported")
            continue
        try:
            tags = parse_tags((row.get("tags") or "").split())
        except InvalidInput as exc:
            yield BadLine(number, exc)
            continue
        merged = Labels(labels.category, labels.tier, labels.tags | tags)
        found = _pytx_entry(
            number, row.get("signal_type") or "", row.get("signal_str") or "", merged
        )
        if isinstance(found, EntryInput) and row.get("collab"):
            found = replace(found, note=f"pytx collaboration {row['collab']}")
        yield found


def dump_csv(entries: Iterable[BankEntry], floor: Tlp | None = None) -> str:
    buffer = io.StringIO()
    write_csv(entries, buffer, floor)
    return buffer.getvalue()


def write_csv(entries: Iterable[BankEntry], out: TextIO, floor: Tlp | None = None) -> int:
    """Write every entry as it comes, with its marking (its own, or the stricter `floor`
    asked for); returns how many were written."""
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
                effective(entry.tlp, floor).value,
                entry.distribution.value if entry.distribution else "",
            ]
        )
    return count


def dump_pytx(
    entries: Iterable[BankEntry], source_values: dict[str, str], marking: Tlp = DEFAULT_TLP
) -> tuple[str, int]:
    buffer = io.StringIO()
    _, skipped = write_pytx(entries, source_values, buffer, marking)
    return buffer.getvalue(), skipped


def write_pytx(
    entries: Iterable[BankEntry],
    source_values: dict[str, str],
    out: TextIO,
    marking: Tlp = DEFAULT_TLP,
) -> tuple[int, int]:
    """Write the lines python-threatexchange can read as they come: (written, left out).
    Left out: entries it has no form for (text fingerprints, URLs whose address is not kept)
    and those marked stricter than `marking`, the marking the person gives the file (it
    carries none itself). Addresses are written as given and in canonical form; every line
    ends with a newline."""
    written = skipped = 0
    for entry in entries:
        kind = OURS_TO_PYTX.get(entry.signal.type)
        values = [entry.signal.value]
        if kind == "url":
            address = source_values.get(entry.signal.value, "")
            values = _address_forms(address) if address else []
        if kind is None or not values or (entry.tlp and is_laxer(marking, entry.tlp)):
            skipped += 1
            continue
        for value in values:
            out.write(f"{kind} {value}\n")
        written += 1
    return written, skipped


def _address_forms(address: str) -> list[str]:
    try:
        canonical = canonicalize_url(address)
    except InvalidInput:
        return [address]
    return [address] if canonical == address else [address, canonical]


def detect_format(text: str, suffix: str = "") -> str:
    """csv, pytx-csv, pytx, stix or misp, told from the content (a `.csv` name settles a
    header of no known kind, so that the CSV reader names what is wrong with it);
    InvalidInput when it is JSON of no known kind."""
    head = text.lstrip("\ufeff \t\r\n")
    if head.startswith(("{", "[")):
        try:
            document = json.loads(head)
        except ValueError as exc:
            raise InvalidInput(
                "the file looks like JSON but is not: %(why)s", why=str(exc)
            ) from None
        if isinstance(document, dict) and document.get("type") == "bundle":
            return "stix"
        if isinstance(document, dict) and str(document.get("format", "")).startswith(
            "passerelle-banks/"
        ):
            raise InvalidInput(
                "this is a banks file for a Spark scan (passerelle spark export-banks),"
                " not a list of entries to import"
            )
        if isinstance(document, (dict, list)):
            return "misp"
        raise InvalidInput("JSON of no known kind: a STIX 2.1 bundle or a MISP event is needed")
    first = head.partition("\n")[0].strip().lower()
    columns = [c.strip() for c in first.split(",")]
    if columns[:2] == ["signal_type", "signal_str"]:
        return "pytx-csv"
    if ("signal_type" in columns and "value" in columns) or suffix.lower() == ".csv":
        return "csv"
    return "pytx"
