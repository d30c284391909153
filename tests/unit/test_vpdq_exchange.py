"""vPDQ entries in the exchange formats: python-threatexchange files, STIX 2.1 bundles (custom
hash key `x_vpdq`, checked by the STIX validator) and MISP events (a `text` attribute
commented `vpdq`, read by PyMISP); each reads back to the same signal."""

from __future__ import annotations

import json

from pymisp import MISPEvent
from stix2validator import ValidationOptions, validate_instance

from passerelle.core.bank import BankEntry
from passerelle.core.exchange import SHAREABLE_SIGNALS
from passerelle.core.signals import parse_signal
from passerelle.core.signals.vpdq import VpdqFrame, to_signal
from passerelle.core.taxonomy import Labels, Tier, parse_category
from passerelle.exchange.bankfile import dump_pytx, read_pytx
from passerelle.exchange.misp import misp_event, read_misp_event
from passerelle.exchange.stix import read_stix_bundle, stix_bundle

VIDEO = to_signal(
    [VpdqFrame("ab" * 32, 100, 0.0), VpdqFrame("cd" * 32, 87, 1.0), VpdqFrame("0f" * 32, 40, 2.0)]
)
ENTRY = BankEntry("e1", "b", VIDEO, Labels(category=parse_category("a"), tier=Tier.CRISIS))


def test_vpdq_is_a_type_agreements_can_share() -> None:
    assert "vpdq" in SHAREABLE_SIGNALS


def test_python_threatexchange_files_carry_vpdq_both_ways() -> None:
    text, skipped = dump_pytx([ENTRY], {})
    assert skipped == 0
    kind, value = text.strip().split(" ", 1)
    assert kind == "vpdq" and json.loads(value)[0] == "ab" * 32 + ",100,0.000"
    (read,) = read_pytx(text, Labels())
    assert not isinstance(read, Exception)
    assert parse_signal(read.signal_type, read.value) == VIDEO


def test_stix_bundles_carry_vpdq_and_validate() -> None:
    bundle = stix_bundle([ENTRY], agency_code="unite-fr", agency_name="Unité démo France")
    (indicator,) = [o for o in bundle["objects"] if o["type"] == "indicator"]
    assert indicator["pattern"].startswith("[file:hashes.'x_vpdq' = '[\"abab")
    result = validate_instance(bundle, ValidationOptions(strict=False))
    assert result.is_valid, [str(e) for e in result.errors]
    entries, problems = read_stix_bundle(json.loads(json.dumps(bundle)))
    assert problems == []
    (entry,) = entries
    assert parse_signal(entry.signal_type, entry.value) == VIDEO
    assert entry.labels == ENTRY.labels


def test_misp_events_carry_vpdq_and_read_back() -> None:
    event = misp_event([ENTRY], info="known videos", agency_name="Unité démo France")
    loaded = MISPEvent()
    loaded.from_dict(**event)
    (attribute,) = loaded.attributes
    assert (attribute.type, attribute.comment) == ("text", "vpdq")
    entries, problems = read_misp_event({"Event": json.loads(loaded.to_json())})
    assert problems == []
    assert parse_signal(entries[0].signal_type, entries[0].value) == VIDEO
