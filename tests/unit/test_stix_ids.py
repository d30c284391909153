"""Indicators name the bank entry they come from, in an id STIX validators accept: entries
get time-ordered ids (UUID version 7), which STIX refuses in an object's id."""

from __future__ import annotations

import uuid

from stix2validator import ValidationOptions, validate_instance

from passerelle.core.bank import BankEntry
from passerelle.core.signals import parse_signal
from passerelle.core.taxonomy import Labels, Tier, parse_category
from passerelle.db.ids import time_ordered_id
from passerelle.exchange.stix import entry_ids_of, indicator_id, stix_bundle

SIGNAL = parse_signal("sha256", "ab" * 32)
LABELS = Labels(category=parse_category("a"), tier=Tier.CRISIS)


def _entry(entry_id: str) -> BankEntry:
    return BankEntry(entry_id, "b", SIGNAL, LABELS)


def test_a_time_ordered_entry_id_gives_an_indicator_that_validates_and_names_it_back() -> None:
    entry = _entry(time_ordered_id())
    assert uuid.UUID(entry.id).version == 7
    shown = indicator_id(entry)
    assert uuid.UUID(shown.partition("--")[2]).version == 4
    assert entry.id in entry_ids_of(shown)
    bundle = stix_bundle([entry], agency_code="demo-fr", agency_name="Unité démo")
    (indicator,) = [o for o in bundle["objects"] if o["type"] == "indicator"]
    assert indicator["id"] == shown
    result = validate_instance(indicator, ValidationOptions(strict=False))
    assert not result.errors, [str(e) for e in result.errors]


def test_a_random_entry_id_is_its_indicators_own() -> None:
    entry = _entry(str(uuid.uuid4()))
    assert indicator_id(entry) == f"indicator--{entry.id}"
    assert entry_ids_of(indicator_id(entry))[0] == entry.id


def test_ids_of_other_objects_name_no_entry() -> None:
    assert entry_ids_of("identity--" + str(uuid.uuid4())) == ()
    assert entry_ids_of("indicator--not-a-uuid") == ()
