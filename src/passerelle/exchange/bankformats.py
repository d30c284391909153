"""Every bank file format behind two calls, for the command line and the console alike:
`read_entries` (the format told from the content when not given) and `write_entries` (each
entry under its own marking or the stricter one asked for; never a laxer one)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import PurePath
from typing import Any

from passerelle.core.bank import BankEntry, EntryInput
from passerelle.core.errors import InvalidInput
from passerelle.core.marking import DEFAULT_TLP, Tlp
from passerelle.core.taxonomy import Labels
from passerelle.exchange.bankfile import (
    BadLine,
    detect_format,
    dump_csv,
    dump_pytx,
    read_csv,
    read_pytx,
    read_pytx_csv,
)
from passerelle.exchange.misp import misp_event, read_misp_event
from passerelle.exchange.stix import read_stix_bundle, stix_bundle

READ_FORMATS = ("csv", "pytx", "pytx-csv", "stix", "misp")
WRITE_FORMATS = ("csv", "pytx", "stix", "misp")


def read_entries(
    text: str,
    fmt: str | None,
    labels: Labels,
    signal_type: str | None = None,
    *,
    filename: str = "",
) -> tuple[str, list[EntryInput], list[InvalidInput]]:
    """The format read, the entries, and the problems (each naming its line or object).
    `labels` apply to formats that carry none (pytx); InvalidInput if nothing is readable."""
    chosen = fmt or detect_format(text, PurePath(filename).suffix)
    if chosen not in READ_FORMATS:
        raise InvalidInput(
            "unknown format %(chosen)s: one of %(formats)s",
            chosen=repr(chosen),
            formats=", ".join(READ_FORMATS),
        )
    entries: list[EntryInput] = []
    bad: list[InvalidInput] = []
    if chosen in ("stix", "misp"):
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise InvalidInput("not JSON: %(why)s", why=str(exc)) from None
        reader = read_stix_bundle if chosen == "stix" else read_misp_event
        entries, refused = reader(document)
        return (
            chosen,
            entries,
            [InvalidInput(m.template, **dict[str, Any](m.params)) for m in refused],
        )
    if chosen == "csv":
        rows = read_csv(text)
    elif chosen == "pytx-csv":
        rows = read_pytx_csv(text, labels)
    else:
        rows = read_pytx(text, labels, signal_type)
    for row in rows:
        (bad.append(row) if isinstance(row, BadLine) else entries.append(row))
    return chosen, entries, bad


def write_entries(
    fmt: str,
    entries: Sequence[BankEntry],
    *,
    sources: dict[str, str],
    agency_code: str,
    agency_name: str,
    title: str,
    tlp: Tlp | None = None,
) -> tuple[str, int]:
    """The file's text and how many entries it leaves out (no form in the format, or marked
    stricter than a pytx file, which carries no marking, may say)."""
    if fmt == "csv":
        return dump_csv(list(entries), tlp), 0
    if fmt == "pytx":
        return dump_pytx(list(entries), sources, tlp or DEFAULT_TLP)
    if fmt == "stix":
        bundle = stix_bundle(
            entries,
            agency_code=agency_code,
            agency_name=agency_name,
            tlp=tlp,
            source_values=sources,
        )
        written = sum(1 for o in bundle["objects"] if o["type"] == "indicator")
        return json.dumps(bundle, ensure_ascii=False, indent=2) + "\n", len(entries) - written
    if fmt == "misp":
        event = misp_event(
            entries,
            info=title,
            agency_name=agency_name,
            agency_code=agency_code,
            tlp=tlp,
            source_values=sources,
        )
        text = json.dumps(event, ensure_ascii=False, indent=2) + "\n"
        return text, len(entries) - len(event["Event"]["Attribute"])
    raise InvalidInput(
        "unknown format %(format)s: one of %(formats)s",
        format=repr(fmt),
        formats=", ".join(WRITE_FORMATS),
    )
