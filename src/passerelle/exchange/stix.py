"""STIX 2.1: bank entries as indicators, and indicators, files and URLs read back.

Written so that strict validators and the `stix2` library accept it without custom content:
- SHA-256 and MD5 as standard file hashes; PDQ as the hash key `PDQ` (an algorithm name outside
  the STIX vocabulary, which the specification allows; the same name misp-stix and OpenCTI keep
  as they find it); URLs as `url:value`, the address as it was given; a video's vPDQ as the
  hash key `x_vpdq` holding python-threatexchange's JSON list of `"pdq,quality,timestamp"`
  frames (quotes and backslashes escaped as the pattern grammar asks).
- Passerelle's labels (Art. 2(7) category, tier, signal type) in a registered property
  extension (`extension-definition` object in the bundle), tags as `labels`.
- Every indicator marked with a TLP 2.0 marking definition (FIRST's official ids): its own
  marking, or the stricter one asked for; never a laxer one.

Read back: indicators whose patterns are parsed with the STIX pattern grammar (`stix2-patterns`):
every hash of `AND`/`OR` expressions and of `IN` lists, any case of hex, any spacing;
standalone `file` and `url` objects; misp-stix's `x-misp-attribute` objects; markings of TLP
1.0 and 2.0 by id, by definition or by name. Each object refused is named by its id, with why."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from passerelle.core.bank import BankEntry, EntryInput
from passerelle.core.errors import InvalidInput
from passerelle.core.marking import Tlp, effective, parse_tlp, stricter
from passerelle.core.message import Message, message_of
from passerelle.core.taxonomy import Labels, parse_category, parse_tags, parse_tier
from passerelle.exchange.misp import attribute_signal
from passerelle.exchange.stixpattern import hash_kind, pattern_signals

NAMESPACE = uuid.UUID("6f1f5c3e-4a57-4f5e-9b0c-2f7a0c9e1d11")


def stable_uuid(name: str) -> uuid.UUID:
    """A UUID derived from a name but in version 4 form, as STIX wants for its objects'
    ids (strict validators refuse version 5): the same name always gives the same id."""
    return uuid.UUID(bytes=uuid.uuid5(NAMESPACE, name).bytes, version=4)


EXTENSION_ID = f"extension-definition--{stable_uuid('passerelle-labels/1')}"
# FIRST's TLP 2.0 marking definitions, as the STIX community publishes them.
TLP2_EXTENSION = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
TLP2_IDS = {
    Tlp.CLEAR: "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    Tlp.GREEN: "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    Tlp.AMBER: "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    Tlp.AMBER_STRICT: "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    Tlp.RED: "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
# The TLP 1.0 marking definitions of the STIX 2.1 specification, read as TLP 2.0.
TLP1_IDS = {
    "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": Tlp.CLEAR,
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": Tlp.GREEN,
    "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": Tlp.AMBER,
    "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": Tlp.RED,
}
KNOWN_MARKINGS = {**TLP1_IDS, **{v: k for k, v in TLP2_IDS.items()}}
WRITTEN_KEYS = {"sha256": "'SHA-256'", "md5": "MD5", "pdq": "PDQ", "vpdq": "'x_vpdq'"}
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_CREATED = "2026-01-01T00:00:00.000Z"
_NAMES = {
    "sha256": "SHA-256",
    "md5": "MD5",
    "pdq": "PDQ perceptual hash",
    "url": "address",
    "vpdq": "vPDQ video fingerprint",
}


def _stamp(moment: datetime | None) -> str:
    return (moment or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _pattern(entry: BankEntry, source_values: dict[str, str]) -> str | None:
    kind, value = entry.signal.type, entry.signal.value
    if kind in WRITTEN_KEYS:
        # A video's vPDQ is pytx's JSON list of frames: quoted as the pattern grammar asks.
        return f"[file:hashes.{WRITTEN_KEYS[kind]} = {_quote(value)}]"
    if kind == "url" and value in source_values:
        return f"[url:value = {_quote(source_values[value])}]"
    return None


def identity_id(agency_code: str) -> str:
    return f"identity--{stable_uuid('agency:' + agency_code)}"


def indicator_id(entry: BankEntry) -> str:
    """The entry's own id: stable while the entry lives, and found back from the indicator
    (TAXII's object by id). Entries get time-ordered ids (UUID version 7), which STIX
    validators refuse in an object's id (version 4 or 5 only): such an id is shown with the
    version digit 4 and read back with 7 (`entry_ids_of`)."""
    try:
        value = uuid.UUID(entry.id)
    except ValueError:  # entries made outside a database (a banks file) may name theirs
        return f"indicator--{stable_uuid('entry:' + entry.id)}"
    if value.version == 7:
        value = _with_version(value, 4)
    return f"indicator--{value}"


def _with_version(value: uuid.UUID, version: int) -> uuid.UUID:
    return uuid.UUID(int=value.int & ~(0xF << 76) | version << 76)


def entry_ids_of(indicator: str) -> tuple[str, ...]:
    """The entry ids an indicator id may name, if it is one of ours in form: the id itself
    (entries made with version 4 ids) and the time-ordered id it shows in version 4 form."""
    kind, _, rest = indicator.partition("--")
    if kind != "indicator":
        return ()
    try:
        value = uuid.UUID(rest)
    except ValueError:
        return ()
    if value.version != 4:
        return (str(value),)
    return (str(value), str(_with_version(value, 7)))


def marking_of(entry: BankEntry, floor: Tlp | None) -> Tlp:
    """The marking an entry leaves under: its own, or the floor asked for if stricter."""
    return effective(entry.tlp, floor)


def marking_definition(tlp: Tlp) -> dict[str, Any]:
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": TLP2_IDS[tlp],
        "created": "2022-10-01T00:00:00.000Z",
        "name": f"TLP:{tlp.value.upper()}",
        "extensions": {
            TLP2_EXTENSION: {"extension_type": "property-extension", "tlp_2_0": tlp.value}
        },
    }


def extension_definition(agency_code: str) -> dict[str, Any]:
    return {
        "type": "extension-definition",
        "spec_version": "2.1",
        "id": EXTENSION_ID,
        "created_by_ref": identity_id(agency_code),
        "created": _CREATED,
        "modified": _CREATED,
        "name": "Passerelle labels",
        "description": "The labels a referral unit gives known terrorist content: the"
        " category of Art. 2(7) of Regulation (EU) 2021/784 (a-e), the tier, the signal type.",
        "schema": "Properties: category (one of a, b, c, d, e), tier (a word), signal_type"
        " (sha256, md5, pdq, url, vpdq). Documented in Passerelle's README.",
        "version": "1.0.0",
        "extension_types": ["property-extension"],
    }


def indicators(
    entries: Iterable[BankEntry],
    *,
    agency_code: str,
    tlp: Tlp | None = None,
    source_values: dict[str, str],
) -> list[dict[str, Any]]:
    """Indicators of the entries that have a STIX form, each under its own marking or the
    stricter `tlp` asked for."""
    found = []
    for entry in entries:
        pattern = _pattern(entry, source_values)
        if pattern is None:
            continue
        stamp = _stamp(entry.added_at)
        labels = entry.labels
        properties: dict[str, Any] = {
            "extension_type": "property-extension",
            "signal_type": entry.signal.type,
        }
        if labels.category:
            properties["category"] = labels.category.value
        if labels.tier:
            properties["tier"] = labels.tier.value
        what = _NAMES.get(entry.signal.type, entry.signal.type)
        indicator: dict[str, Any] = {
            "type": "indicator",
            "spec_version": "2.1",
            "id": indicator_id(entry),
            "created": stamp,
            "modified": stamp,
            "created_by_ref": identity_id(agency_code),
            "name": f"{what} of known terrorist content",
            "description": f"The {what} of content that a referral unit decided is terrorist"
            " content"
            + (f" (Art. 2(7) category {labels.category.value})." if labels.category else "."),
            "indicator_types": ["malicious-activity"],
            "pattern": pattern,
            "pattern_type": "stix",
            "pattern_version": "2.1",
            "valid_from": stamp,
            "object_marking_refs": [TLP2_IDS[marking_of(entry, tlp)]],
            "extensions": {EXTENSION_ID: properties},
        }
        if labels.tags:
            indicator["labels"] = sorted(labels.tags)
        found.append(indicator)
    return found


def identity(agency_code: str, agency_name: str) -> dict[str, Any]:
    return {
        "type": "identity",
        "spec_version": "2.1",
        "id": identity_id(agency_code),
        "created": _CREATED,
        "modified": _CREATED,
        "name": agency_name,
        "description": "An internet referral unit using Passerelle.",
        "identity_class": "organization",
    }


def supporting_objects(
    found: Sequence[dict[str, Any]], *, agency_code: str, agency_name: str
) -> list[dict[str, Any]]:
    """The identity, the extension definition and the markings the indicators refer to."""
    used = {ref for item in found for ref in item.get("object_marking_refs", [])}
    markings = [marking_definition(t) for t, ref in TLP2_IDS.items() if ref in used]
    return [identity(agency_code, agency_name), extension_definition(agency_code), *markings]


def stix_bundle(
    entries: Sequence[BankEntry],
    *,
    agency_code: str,
    agency_name: str,
    tlp: Tlp | None = None,
    source_values: dict[str, str] | None = None,
) -> dict[str, Any]:
    found = indicators(entries, agency_code=agency_code, tlp=tlp, source_values=source_values or {})
    objects = [*supporting_objects(found, agency_code=agency_code, agency_name=agency_name)]
    return {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objects + found}


# Reading ------------------------------------------------------------------------------------


def _marking_of_definition(item: dict[str, Any]) -> Tlp | None:
    known = KNOWN_MARKINGS.get(str(item.get("id")))
    if known is not None:
        return known
    for extension in (item.get("extensions") or {}).values():
        if isinstance(extension, dict) and extension.get("tlp_2_0"):
            return parse_tlp(str(extension["tlp_2_0"]))
    definition = item.get("definition")
    if item.get("definition_type") == "tlp" and isinstance(definition, dict):
        return parse_tlp(str(definition.get("tlp", "")))
    name = str(item.get("name") or "")
    if name.upper().startswith("TLP:"):
        return parse_tlp(name)
    return None


def _markings(objects: list[Any]) -> dict[str, Tlp]:
    found = dict(KNOWN_MARKINGS)
    for item in objects:
        if isinstance(item, dict) and item.get("type") == "marking-definition":
            try:
                marking = _marking_of_definition(item)
            except InvalidInput:
                continue
            if marking is not None:
                found[str(item.get("id"))] = marking
    return found


def _marking(item: dict[str, Any], known: dict[str, Tlp]) -> Tlp | None:
    """The strictest TLP among an object's markings (None when it has none)."""
    found: Tlp | None = None
    for ref in item.get("object_marking_refs") or []:
        marking = known.get(str(ref))
        if marking is not None:
            found = stricter(marking, found)
    return found


def kept_tags(values: list[str]) -> tuple[frozenset[str], list[Message]]:
    """The tags that are valid Passerelle tags, and a word on each one left out."""
    kept: set[str] = set()
    left: list[Message] = []
    for value in values:
        try:
            kept |= parse_tags([value])
        except InvalidInput as exc:
            left.append(Message("tag left out: %(reason)s", {"reason": message_of(exc)}))
    return frozenset(kept), left


_MACHINE_TAG = re.compile(r'^passerelle:(category|tier)="([^"]*)"$')


def _labels(item: dict[str, Any], extension: dict[str, Any]) -> tuple[Labels, list[Message]]:
    fields = {
        "category": extension.get("category") or item.get("x_passerelle_category"),
        "tier": extension.get("tier") or item.get("x_passerelle_tier"),
    }
    plain = []
    for label in item.get("labels") or []:
        text = str(label)
        machine = _MACHINE_TAG.match(text)
        if machine:  # our MISP machine tags, as misp-stix carries them into STIX
            fields[machine.group(1)] = fields[machine.group(1)] or machine.group(2)
        elif "=" not in text and not text.startswith(("misp:", "tlp:")):
            plain.append(text)
    tags, left = kept_tags([t for t in plain if t != "malicious-activity"])
    category, tier = fields["category"], fields["tier"]
    labels = Labels(
        category=parse_category(str(category)) if category else None,
        tier=parse_tier(str(tier)) if tier else None,
        tags=tags,
    )
    return labels, left


def _entry(kind: str, value: str, **fields: Any) -> EntryInput:
    if kind in ("sha256", "md5", "pdq") and _HEX.match(value):
        value = value.lower()
    return EntryInput(kind, value.strip(), **fields)


def _about(ident: str, problem: Message | str) -> Message:
    """A problem of one object, named by its id."""
    return Message("%(object)s: %(problem)s", {"object": ident, "problem": problem})


def _from_indicator(
    item: dict[str, Any], number: int, marking: Tlp | None
) -> tuple[list[EntryInput], list[Message]]:
    ident = str(item.get("id") or f"object {number}")
    if item.get("pattern_type", "stix") != "stix":
        kind = repr(item.get("pattern_type"))
        return [], [
            Message(
                "%(object)s: pattern type %(kind)s is not STIX", {"object": ident, "kind": kind}
            )
        ]
    try:
        signals, ignored = pattern_signals(str(item.get("pattern") or ""))
        extension = (item.get("extensions") or {}).get(EXTENSION_ID) or {}
        labels, left = _labels(item, extension if isinstance(extension, dict) else {})
    except InvalidInput as exc:
        return [], [_about(ident, message_of(exc))]
    problems = [
        Message(
            "%(object)s: %(ignored)s is not a signal Passerelle matches",
            {"object": ident, "ignored": ", ".join(ignored)},
        )
    ] * bool(ignored and not signals)
    problems += [_about(ident, word) for word in left]
    entries = [
        _entry(kind, value, labels=labels, note=ident, line=number + 1, tlp=marking)
        for kind, value in signals
    ]
    return entries, problems


def _from_observable(
    item: dict[str, Any], number: int, marking: Tlp | None
) -> tuple[list[EntryInput], list[Message]]:
    ident = str(item.get("id") or f"object {number}")
    entries: list[EntryInput] = []
    if item["type"] == "url":
        value = str(item.get("value") or "")
        if not value:
            return [], [_about(ident, Message("a url object without a value"))]
        return [_entry("url", value, note=ident, line=number + 1, tlp=marking)], []
    for name, value in (item.get("hashes") or {}).items():
        kind = hash_kind(str(name))
        if kind is not None:
            entries.append(_entry(kind, str(value), note=ident, line=number + 1, tlp=marking))
    if not entries:
        return [], [_about(ident, Message("a file object with no hash Passerelle matches"))]
    return entries, []


def _from_misp_attribute(
    item: dict[str, Any], number: int, marking: Tlp | None
) -> tuple[list[EntryInput], list[Message]]:
    """misp-stix writes MISP attributes it has no STIX form for as `x-misp-attribute`."""
    ident = str(item.get("id") or f"object {number}")
    attribute = {
        "type": item.get("x_misp_type"),
        "value": item.get("x_misp_value"),
        "comment": item.get("x_misp_comment", ""),
        "Tag": [{"name": str(label)} for label in item.get("labels") or []],
    }
    try:
        kind, value = attribute_signal(attribute)
    except InvalidInput as exc:
        return [], [_about(ident, message_of(exc))]
    return [_entry(kind, value, note=ident, line=number + 1, tlp=marking)], []


def read_stix_bundle(document: object) -> tuple[list[EntryInput], list[Message]]:
    """Entries from the objects of a bundle Passerelle can match; problems name the others
    by their id."""
    if not isinstance(document, dict) or document.get("type") != "bundle":
        return [], [Message("not a STIX bundle (no 'type': 'bundle')")]
    objects = document.get("objects") or []
    if not isinstance(objects, list):
        return [], [Message("the bundle's objects are not a list")]
    known = _markings(objects)
    entries: list[EntryInput] = []
    problems: list[Message] = []
    readers = {
        "indicator": _from_indicator,
        "file": _from_observable,
        "url": _from_observable,
        "x-misp-attribute": _from_misp_attribute,
    }
    for number, item in enumerate(objects):
        if not isinstance(item, dict):
            problems.append(Message("object %(number)s: not a JSON object", {"number": number}))
            continue
        reader = readers.get(str(item.get("type")))
        if reader is None:
            continue
        found, refused = reader(item, number, _marking(item, known))
        entries += found
        problems += refused
    return entries, problems
