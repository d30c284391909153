"""A banks file: an agency's banks and their entries in one JSON document, for a scan that
runs away from the database (a Spark cluster). Every value is checked when read back: a
signal with the type's own parser, labels with the taxonomy's."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from passerelle.core.bank import Bank, BankEntry, BankKind, BankOrigin
from passerelle.core.errors import InvalidInput
from passerelle.core.signals import get_signal_type
from passerelle.core.taxonomy import Labels, parse_category, parse_tags, parse_tier

FORMAT = "passerelle-banks/1"


def dump_bundle(banks: Sequence[Bank], entries: Sequence[BankEntry]) -> str:
    document = {
        "format": FORMAT,
        "banks": [b.as_dict() for b in banks],
        "entries": [
            {
                "id": e.id,
                "bank_id": e.bank_id,
                "type": e.signal.type,
                "value": e.signal.value,
                "quality": e.signal.quality,
                "labels": e.labels.as_dict(),
            }
            for e in entries
        ],
    }
    return json.dumps(document, ensure_ascii=False, sort_keys=True)


def read_bundle(path: Path) -> tuple[list[Bank], list[BankEntry]]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput(
            "cannot read the banks file %(path)s: %(strerror)s", path=path, strerror=exc.strerror
        ) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(
            "the banks file %(path)s is not JSON: %(error)s", path=path, error=exc
        ) from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise InvalidInput(
            "the banks file %(path)s is not in the format %(format)s", path=path, format=FORMAT
        )
    try:
        banks = [_bank(item) for item in document["banks"]]
        known = {b.id for b in banks}
        entries = [_entry(item, known) for item in document["entries"]]
    except (KeyError, TypeError, ValueError, InvalidInput) as exc:
        raise InvalidInput(
            "the banks file %(path)s is malformed: %(error)s", path=path, error=exc
        ) from None
    return banks, entries


def _bank(item: dict[str, Any]) -> Bank:
    return Bank(
        id=str(item["id"]),
        agency_id=str(item["agency_id"]),
        name=str(item["name"]),
        kind=BankKind(item["kind"]),
        origin=BankOrigin(item["origin"]),
        description=str(item.get("description") or ""),
        thresholds={str(k): float(v) for k, v in (item.get("thresholds") or {}).items()},
    )


def _entry(item: dict[str, Any], banks: set[str]) -> BankEntry:
    if item["bank_id"] not in banks:
        raise ValueError(f"entry {item['id']} names an unknown bank")
    kind = get_signal_type(str(item["type"]))
    signal = kind.parse(str(item["value"]))
    if item.get("quality") is not None:
        signal = type(signal)(signal.type, signal.value, int(item["quality"]))
    labels = item.get("labels") or {}
    return BankEntry(
        id=str(item["id"]),
        bank_id=str(item["bank_id"]),
        signal=signal,
        labels=Labels(
            category=parse_category(labels["category"]) if labels.get("category") else None,
            tier=parse_tier(labels["tier"]) if labels.get("tier") else None,
            tags=parse_tags(list(labels.get("tags") or [])),
        ),
    )
