"""STIX 2.1 and MISP: bank entries as indicators and attributes, both ways.

STIX: SHA-256 and MD5 as standard file hashes, PDQ as the custom hash key `x_pdq`, URLs as
`url:value` (when the canonical address is known; a bank holds it for entries added as
URLs). MISP: an event whose attributes are `sha256`, `md5`, `url`, and PDQ as a `text`
attribute commented `pdq`. A video's vPDQ (custom in both, documented in the README) takes the
form of python-threatexchange: the JSON list of `"pdq,quality,timestamp"` frames, as the
custom hash key `x_vpdq` in STIX (quotes and backslashes escaped as the pattern grammar asks)
and as a `text` attribute commented `vpdq` in MISP. The distribution level maps "this
agreement only" to "this
community only" (1) and "onward" to "connected communities" (2). Text fingerprints (MinHash)
have no standard form and are left out of both."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from passerelle.core.bank import BankEntry, EntryInput
from passerelle.core.taxonomy import Labels, parse_category, parse_tier

NAMESPACE = uuid.UUID("6f1f5c3e-4a57-4f5e-9b0c-2f7a0c9e1d11")
# The TLP 1.0 marking definitions of the STIX 2.1 specification (their ids are fixed).
TLP_MARKINGS = {
    "clear": ("marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9", "white"),
    "green": ("marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da", "green"),
    "amber": ("marking-definition--f88d31f6-486f-44da-b317-01333bde0b82", "amber"),
    "amber+strict": ("marking-definition--f88d31f6-486f-44da-b317-01333bde0b82", "amber"),
    "red": ("marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed", "red"),
}
MISP_DISTRIBUTION = {"agreement": 1, "onward": 2}
_PATTERNS = [
    (re.compile(r"^\[file:hashes\.'SHA-256' = '([0-9a-f]{64})'\]$"), "sha256"),
    (re.compile(r"^\[file:hashes\.MD5 = '([0-9a-f]{32})'\]$"), "md5"),
    (re.compile(r"^\[file:hashes\.'x_pdq' = '([0-9a-f]{64})'\]$"), "pdq"),
    (re.compile(r"^\[url:value = '((?:[^'\\]|\\.)+)'\]$"), "url"),
    (re.compile(r"^\[file:hashes\.'x_vpdq' = '((?:[^'\\]|\\.)+)'\]$"), "vpdq"),
]


def _stamp(moment: datetime | None) -> str:
    return (moment or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _pattern(entry: BankEntry, source_values: dict[str, str]) -> str | None:
    kind, value = entry.signal.type, entry.signal.value
    if kind == "sha256":
        return f"[file:hashes.'SHA-256' = '{value}']"
    if kind == "md5":
        return f"[file:hashes.MD5 = '{value}']"
    if kind == "pdq":
        return f"[file:hashes.'x_pdq' = '{value}']"
    if kind == "vpdq":
        return f"[file:hashes.'x_vpdq' = '{_quoted(value)}']"
    if kind == "url" and value in source_values:
        address = source_values[value].replace("\\", "\\\\").replace("'", "\\'")
        return f"[url:value = '{address}']"
    return None


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def identity_id(agency_code: str) -> str:
    return f"identity--{uuid.uuid5(NAMESPACE, 'agency:' + agency_code)}"


def indicators(
    entries: Iterable[BankEntry],
    *,
    agency_code: str,
    tlp: str,
    source_values: dict[str, str],
) -> list[dict[str, Any]]:
    marking = TLP_MARKINGS[tlp][0]
    found = []
    for entry in entries:
        pattern = _pattern(entry, source_values)
        if pattern is None:
            continue
        stamp = _stamp(entry.added_at)
        name = f"{agency_code}:{entry.signal.type}:{entry.signal.value}"
        indicator: dict[str, Any] = {
            "type": "indicator",
            "spec_version": "2.1",
            "id": f"indicator--{uuid.uuid5(NAMESPACE, name)}",
            "created": stamp,
            "modified": stamp,
            "created_by_ref": identity_id(agency_code),
            "name": f"{entry.signal.type} of known terrorist content",
            "indicator_types": ["malicious-activity"],
            "pattern": pattern,
            "pattern_type": "stix",
            "valid_from": stamp,
            "object_marking_refs": [marking],
        }
        labels = entry.labels
        if labels.category:
            indicator["x_passerelle_category"] = labels.category.value
        if labels.tier:
            indicator["x_passerelle_tier"] = labels.tier.value
        if labels.tags:
            indicator["labels"] = sorted(labels.tags)
        found.append(indicator)
    return found


def identity(agency_code: str, agency_name: str) -> dict[str, Any]:
    return {
        "type": "identity",
        "spec_version": "2.1",
        "id": identity_id(agency_code),
        "created": "2026-01-01T00:00:00.000Z",
        "modified": "2026-01-01T00:00:00.000Z",
        "name": agency_name,
        "identity_class": "organization",
    }


def stix_bundle(
    entries: Sequence[BankEntry],
    *,
    agency_code: str,
    agency_name: str,
    tlp: str = "amber",
    source_values: dict[str, str] | None = None,
) -> dict[str, Any]:
    objects = [identity(agency_code, agency_name)]
    objects += indicators(
        entries, agency_code=agency_code, tlp=tlp, source_values=source_values or {}
    )
    return {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objects}


def read_stix_bundle(document: object) -> tuple[list[EntryInput], list[str]]:
    """Entries from the indicators of a bundle we can read; problems name the others."""
    if not isinstance(document, dict) or document.get("type") != "bundle":
        return [], ["not a STIX bundle"]
    entries, problems = [], []
    for number, item in enumerate(document.get("objects") or []):
        if not isinstance(item, dict) or item.get("type") != "indicator":
            continue
        pattern = str(item.get("pattern") or "")
        for expression, kind in _PATTERNS:
            match = expression.match(pattern)
            if match:
                value = match.group(1)
                if kind in ("url", "vpdq"):
                    value = re.sub(r"\\(.)", r"\1", value)
                try:
                    labels = Labels(
                        category=parse_category(item["x_passerelle_category"])
                        if item.get("x_passerelle_category")
                        else None,
                        tier=parse_tier(item["x_passerelle_tier"])
                        if item.get("x_passerelle_tier")
                        else None,
                        tags=frozenset(str(t) for t in item.get("labels") or []),
                    )
                except Exception as exc:
                    problems.append(f"object {number}: {exc}")
                    break
                entries.append(
                    EntryInput(kind, value, labels, note=str(item.get("id", "")), line=number + 1)
                )
                break
        else:
            problems.append(f"object {number}: pattern not understood: {pattern[:80]!r}")
    return entries, problems


def misp_event(
    entries: Sequence[BankEntry],
    *,
    info: str,
    agency_name: str,
    distribution: str = "agreement",
    tlp: str = "amber",
    source_values: dict[str, str] | None = None,
) -> dict[str, Any]:
    addresses = source_values or {}
    attributes = []
    for entry in entries:
        kind, value = entry.signal.type, entry.signal.value
        comment = ""
        if kind == "url":
            if value not in addresses:
                continue
            value, category = addresses[value], "Network activity"
        elif kind in ("pdq", "vpdq"):
            kind, category, comment = "text", "Payload delivery", kind
        elif kind in ("sha256", "md5"):
            category = "Payload delivery"
        else:
            continue
        tags = (
            [{"name": f'passerelle:category="{entry.labels.category.value}"'}]
            if entry.labels.category
            else []
        )
        attributes.append(
            {
                "uuid": str(
                    uuid.uuid5(NAMESPACE, f"misp:{entry.signal.type}:{entry.signal.value}")
                ),
                "type": kind,
                "category": category,
                "value": value,
                "to_ids": True,
                "comment": comment,
                "distribution": 5,  # inherit the event's
                "Tag": tags,
            }
        )
    return {
        "Event": {
            "uuid": str(uuid.uuid4()),
            "info": info,
            "date": datetime.now(UTC).date().isoformat(),
            "threat_level_id": 1,
            "analysis": 2,
            "distribution": MISP_DISTRIBUTION[distribution],
            "published": False,
            "Orgc": {"name": agency_name},
            "Tag": [
                {"name": f"tlp:{TLP_MARKINGS[tlp][1] if tlp != 'amber+strict' else 'amber+strict'}"}
            ],
            "Attribute": attributes,
        }
    }


def read_misp_event(document: object) -> tuple[list[EntryInput], list[str]]:
    if not isinstance(document, dict) or not isinstance(document.get("Event"), dict):
        return [], ["not a MISP event"]
    entries, problems = [], []
    for number, attribute in enumerate(document["Event"].get("Attribute") or []):
        kind, value = str(attribute.get("type")), str(attribute.get("value") or "")
        if kind == "text" and attribute.get("comment") in ("pdq", "vpdq"):
            kind = str(attribute["comment"])
        if kind not in ("sha256", "md5", "url", "pdq", "vpdq"):
            problems.append(f"attribute {number}: type {kind} is not a signal")
            continue
        category = None
        for tag in attribute.get("Tag") or []:
            found = re.match(r'^passerelle:category="([a-e])"$', str(tag.get("name")))
            if found:
                category = parse_category(found.group(1))
        entries.append(EntryInput(kind, value, Labels(category=category), line=number + 1))
    return entries, problems
