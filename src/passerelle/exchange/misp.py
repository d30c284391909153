"""MISP: bank entries as an event, and events read back as MISP's tools write them.

Written as PyMISP's JSON schema wants it (every number a string, `Orgc` with its uuid, plain
attributes): `sha256`, `md5`, `url` (the address as given), and PDQ — MISP has no attribute
type for it — as a `text` attribute of category "Payload delivery", commented `PDQ` and
machine-tagged `passerelle:signal-type="pdq"`, the form misp-stix carries through STIX and back
(as an `x-misp-attribute`); a video's vPDQ the same way, commented `vpdq` (its value is
python-threatexchange's JSON list of frames). Each attribute has its own `tlp:` tag (TLP 2.0
names: `tlp:clear`, `tlp:amber+strict`), Passerelle's labels as machine tags
(`passerelle:category="a"`, `passerelle:tier="…"`) and its tags as plain tags; the event (whose
tags MISP applies to every attribute) says the laxest marking and widest reach among them.
MISP's distribution follows the marking: CLEAR → all communities (3), GREEN → connected
communities (2), AMBER → this community (1), AMBER+STRICT and RED → this organisation only (0);
an entry received for one agreement only never goes past this organisation (0).

Read back: `{"Event": …}`, a bare event (PyMISP's `to_json()`), `{"response": [...]}`;
attributes of the event and of its objects (`file` objects' hashes); composite types
(`filename|md5`, `filename|sha256`) split; misp-stix's `stix2-pattern` attributes parsed with
the STIX grammar; an attribute's own `tlp:` tags (the strictest of them), else its object's,
else its event's."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from passerelle.core.bank import BankEntry, EntryInput
from passerelle.core.errors import InvalidInput
from passerelle.core.marking import Distribution, Tlp, effective, laxest, parse_tlp, stricter
from passerelle.core.message import Message, message_of
from passerelle.core.taxonomy import Labels, parse_category, parse_tags, parse_tier
from passerelle.exchange.stixpattern import pattern_signals

NAMESPACE = uuid.UUID("6f1f5c3e-4a57-4f5e-9b0c-2f7a0c9e1d11")
# MISP's distribution levels: 0 this organisation, 1 this community, 2 connected communities,
# 3 all communities, 4 a sharing group, 5 as the event.
DISTRIBUTION_OF = {
    Tlp.CLEAR: 3,
    Tlp.GREEN: 2,
    Tlp.AMBER: 1,
    Tlp.AMBER_STRICT: 0,
    Tlp.RED: 0,
}
_HASH_TYPES = {"sha256": "sha256", "md5": "md5", "filename|sha256": "sha256", "filename|md5": "md5"}
_MACHINE_TAG = re.compile(r'^passerelle:(category|tier|signal-type)="([^"]*)"$')


def _reach(entry: BankEntry, marking: Tlp) -> int:
    if entry.distribution is Distribution.AGREEMENT:
        return 0
    return DISTRIBUTION_OF[marking]


def _tags(entry: BankEntry, marking: Tlp) -> list[dict[str, str]]:
    labels = entry.labels
    tags = [{"name": f"tlp:{marking.value}"}]
    if labels.category:
        tags.append({"name": f'passerelle:category="{labels.category.value}"'})
    if labels.tier:
        tags.append({"name": f'passerelle:tier="{labels.tier.value}"'})
    tags += [{"name": tag} for tag in sorted(labels.tags)]
    return tags


def _attribute(
    entry: BankEntry, marking: Tlp, addresses: dict[str, str], stamp: str
) -> dict[str, Any] | None:
    kind, value = entry.signal.type, entry.signal.value
    comment = ""
    tags = _tags(entry, marking)
    if kind == "url":
        if value not in addresses:
            return None
        value, category = addresses[value], "Network activity"
    elif kind in ("pdq", "vpdq"):
        # No MISP type for them: a text attribute, commented and machine-tagged.
        category, comment = "Payload delivery", "PDQ" if kind == "pdq" else "vpdq"
        tags.append({"name": f'passerelle:signal-type="{kind}"'})
        kind = "text"
    elif kind in ("sha256", "md5"):
        category = "Payload delivery"
    else:
        return None
    return {
        "uuid": str(uuid.uuid5(NAMESPACE, f"misp:{entry.signal.type}:{entry.signal.value}")),
        "type": kind,
        "category": category,
        "value": value,
        "to_ids": True,
        "comment": comment,
        "timestamp": stamp,
        "distribution": str(_reach(entry, marking)),
        "Tag": tags,
    }


def misp_event(
    entries: Sequence[BankEntry],
    *,
    info: str,
    agency_name: str,
    agency_code: str = "",
    tlp: Tlp | None = None,
    source_values: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The entries with a MISP form, each under its own marking or the stricter `tlp`."""
    addresses = source_values or {}
    now = datetime.now(UTC)
    stamp = str(int(now.timestamp()))
    attributes, markings = [], []
    for entry in entries:
        marking = effective(entry.tlp, tlp)
        attribute = _attribute(entry, marking, addresses, stamp)
        if attribute is not None:
            attributes.append(attribute)
            markings.append(marking)
    # MISP applies an event's tags to all its attributes, and caps their distribution at the
    # event's: the event says the laxest marking and the widest reach of its attributes, and
    # each attribute its own (stricter or equal) marking and reach.
    event_marking = laxest(markings, default=tlp or Tlp.AMBER)
    reach = max([int(a["distribution"]) for a in attributes] or [DISTRIBUTION_OF[event_marking]])
    org = {"name": agency_name, "uuid": str(uuid.uuid5(NAMESPACE, f"agency:{agency_code}"))}
    return {
        "Event": {
            "uuid": str(uuid.uuid4()),
            "info": info,
            "date": now.date().isoformat(),
            "timestamp": stamp,
            "threat_level_id": "1",
            "analysis": "2",
            "distribution": str(reach),
            "published": False,
            "Orgc": org,
            "Org": org,
            "Tag": [{"name": f"tlp:{event_marking.value}"}],
            "Attribute": attributes,
        }
    }


# Reading ------------------------------------------------------------------------------------


def _tag_names(holder: dict[str, Any]) -> list[str]:
    return [str(t.get("name", "")) for t in holder.get("Tag") or [] if isinstance(t, dict)]


def _marking(names: list[str]) -> Tlp | None:
    found: Tlp | None = None
    for name in names:
        if name.lower().startswith("tlp:"):
            try:
                found = stricter(parse_tlp(name), found)
            except InvalidInput:
                continue
    return found


def attribute_signal(attribute: dict[str, Any]) -> tuple[str, str]:
    """(signal type, value) of one MISP attribute; InvalidInput when it has none."""
    kind = str(attribute.get("type") or "")
    value = str(attribute.get("value") or "").strip()
    if not value:
        raise InvalidInput("attribute of type %(kind)s has no value", kind=repr(kind))
    if kind in _HASH_TYPES:
        if "|" in kind:
            value = value.rpartition("|")[2]
        return _HASH_TYPES[kind], value
    if kind in ("url", "uri", "link"):
        return "url", value
    names = _tag_names(attribute)
    comment = str(attribute.get("comment") or "").strip().lower()
    for signal in ("pdq", "vpdq"):
        tagged = f'passerelle:signal-type="{signal}"' in names
        if kind == "text" and (tagged or comment == signal):
            return signal, value
    if kind == "stix2-pattern":
        signals, ignored = pattern_signals(value)
        if len(signals) == 1:
            return signals[0]
        if ignored:
            raise InvalidInput(
                "STIX pattern holds no single signal Passerelle matches (%(ignored)s)",
                ignored=", ".join(ignored),
            )
        raise InvalidInput("STIX pattern holds no single signal Passerelle matches")
    raise InvalidInput("type %(kind)s is not a signal Passerelle matches", kind=repr(kind))


def _labels(names: list[str]) -> Labels:
    fields: dict[str, str] = {}
    plain = []
    for name in names:
        found = _MACHINE_TAG.match(name)
        if found:
            fields[found.group(1)] = found.group(2)
        elif ":" not in name and "=" not in name:
            plain.append(name)
    tags: frozenset[str] = frozenset()
    for name in plain:
        try:
            tags |= parse_tags([name])
        except InvalidInput:
            continue  # MISP's free tags (galaxies, taxonomies) are not Passerelle's
    return Labels(
        category=parse_category(fields["category"]) if fields.get("category") else None,
        tier=parse_tier(fields["tier"]) if fields.get("tier") else None,
        tags=tags,
    )


def _read_distribution(value: object, inherited: Distribution | None) -> Distribution | None:
    level = str(value) if value is not None else "5"
    if level == "5":
        return inherited
    return Distribution.ONWARD if level in ("2", "3") else Distribution.AGREEMENT


def _events(document: object) -> list[dict[str, Any]]:
    if isinstance(document, dict) and isinstance(document.get("response"), list):
        return [e for item in document["response"] for e in _events(item)]
    if isinstance(document, list):
        return [e for item in document for e in _events(item)]
    if isinstance(document, dict) and isinstance(document.get("Event"), dict):
        return [document["Event"]]
    if isinstance(document, dict) and any(k in document for k in ("Attribute", "Object", "info")):
        return [document]
    return []


def read_misp_event(document: object) -> tuple[list[EntryInput], list[Message]]:
    """Entries from every attribute Passerelle can match; problems name the others."""
    events = _events(document)
    if not events:
        return [], [Message("not a MISP event (no 'Event', 'response' or event fields)")]
    entries: list[EntryInput] = []
    problems: list[Message] = []
    line = 0
    for event in events:
        event_tags = _tag_names(event)
        event_distribution = _read_distribution(event.get("distribution"), None)
        holders: list[tuple[dict[str, Any], list[str]]] = [
            (a, event_tags) for a in event.get("Attribute") or [] if isinstance(a, dict)
        ]
        for obj in event.get("Object") or []:
            if isinstance(obj, dict):
                holders += [
                    (a, event_tags + _tag_names(obj))
                    for a in obj.get("Attribute") or []
                    if isinstance(a, dict)
                ]
        for attribute, inherited in holders:
            line += 1
            name = str(attribute.get("uuid") or f"attribute {line}")
            try:
                kind, value = attribute_signal(attribute)
                names = _tag_names(attribute)
                labels = _labels(names + [n for n in inherited if n.startswith("passerelle:")])
            except InvalidInput as exc:
                problems.append(
                    Message("%(object)s: %(problem)s", {"object": name, "problem": message_of(exc)})
                )
                continue
            if kind in ("sha256", "md5", "pdq"):
                value = value.lower()
            # the attribute's own marking, else its object's or its event's
            marking = _marking(names) or _marking(inherited)
            entries.append(
                EntryInput(
                    kind,
                    value,
                    labels,
                    note=name,
                    line=line,
                    tlp=marking,
                    distribution=_read_distribution(
                        attribute.get("distribution"), event_distribution
                    ),
                )
            )
    return entries, problems
