"""Markings never widen (DESIGN §2, red line 4): an entry received under a TLP marking leaves
by every way out — CSV, python-threatexchange, STIX, MISP, TAXII, partner feeds — under that
marking or a stricter one; TLP:RED is never served on TAXII nor sent in a feed. Incoming
markings are kept (STIX TLP 1.0 and 2.0, MISP tags, CSV columns) and the strictest wins."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from passerelle.core.bank import BankEntry, EntryInput
from passerelle.core.marking import TLP_ORDER, Tlp, is_laxer, parse_tlp
from passerelle.core.taxonomy import Category, Labels
from passerelle.db.session import Database
from passerelle.exchange.bankformats import read_entries, write_entries
from passerelle.exchange.misp import DISTRIBUTION_OF
from passerelle.exchange.stix import KNOWN_MARKINGS
from passerelle.services.auth import create_api_token
from passerelle.services.banks import add_entries, create_bank
from passerelle.services.exchange import build_feed
from tests.factories import make_agency
from tests.integration.services.test_onward import link, terms

LABELS = Labels(category=Category.INCITES)
FLOORS: list[Tlp | None] = [None, *TLP_ORDER]


def value_of(marking: Tlp) -> str:
    return f"{TLP_ORDER.index(marking) + 1:x}" * 64


def marked_entries() -> list[BankEntry]:
    return [
        BankEntry(f"0000000{i}-0000-4000-8000-000000000000", "b", _pdq(t), LABELS, tlp=t)
        for i, t in enumerate(TLP_ORDER)
    ]


def _pdq(marking: Tlp):  # type: ignore[no-untyped-def]
    from passerelle.core.signals import parse_signal

    return parse_signal("pdq", value_of(marking))


def never_laxer(received: Tlp, written: Tlp, floor: Tlp | None) -> None:
    assert not is_laxer(written, received), (received, written)
    if floor is not None:
        assert not is_laxer(written, floor), (floor, written)


def by_value(marking_of: dict[str, Tlp]) -> dict[Tlp, Tlp]:
    return {t: marking_of[value_of(t)] for t in TLP_ORDER if value_of(t) in marking_of}


def written(fmt: str, floor: Tlp | None) -> str:
    text, _ = write_entries(
        fmt,
        marked_entries(),
        sources={},
        agency_code="unite-fr",
        agency_name="Unité démo France",
        title="test",
        tlp=floor,
    )
    return text


@pytest.mark.parametrize("floor", FLOORS, ids=lambda f: f"floor-{f}")
def test_csv_stix_and_misp_never_widen(floor: Tlp | None) -> None:
    rows = list(csv.DictReader(io.StringIO(written("csv", floor))))
    found = by_value({row["value"]: parse_tlp(row["tlp"]) for row in rows})
    assert len(found) == 5
    for received, out in found.items():
        never_laxer(received, out, floor)

    bundle = json.loads(written("stix", floor))
    indicators = [o for o in bundle["objects"] if o["type"] == "indicator"]
    defined = {o["id"] for o in bundle["objects"] if o["type"] == "marking-definition"}
    marks = {}
    for item in indicators:
        (ref,) = item["object_marking_refs"]
        assert ref in defined  # the bundle carries the definition it refers to
        marks[item["pattern"].split("'")[1]] = KNOWN_MARKINGS[ref]
    for received, out in by_value(marks).items():
        never_laxer(received, out, floor)

    event = json.loads(written("misp", floor))["Event"]
    for attribute in event["Attribute"]:
        (tag,) = [t["name"] for t in attribute["Tag"] if t["name"].startswith("tlp:")]
        out = parse_tlp(tag)
        received = TLP_ORDER[int(attribute["value"][0], 16) - 1]
        never_laxer(received, out, floor)
        # MISP's distribution follows the marking: never wider than the marking allows
        assert int(attribute["distribution"]) <= DISTRIBUTION_OF[received]
    # MISP applies event tags to every attribute: the event says the laxest marking and the
    # widest reach of its attributes, never wider than any of them allows
    (event_tag,) = [t["name"] for t in event["Tag"]]
    laxest = min(
        (parse_tlp(t["name"]) for a in event["Attribute"] for t in a["Tag"] if "tlp:" in t["name"]),
        key=TLP_ORDER.index,
    )
    assert parse_tlp(event_tag) is laxest
    assert int(event["distribution"]) == max(int(a["distribution"]) for a in event["Attribute"])


@pytest.mark.parametrize("floor", FLOORS, ids=lambda f: f"floor-{f}")
def test_pytx_files_hold_only_what_their_marking_allows(floor: Tlp | None) -> None:
    """A pytx file carries no marking: it holds only entries marked no stricter than the
    marking the person gives it (AMBER when none is given)."""
    file_marking = floor or Tlp.AMBER
    lines = written("pytx", floor).splitlines()
    held = {line.split(" ", 1)[1] for line in lines}
    for marking in TLP_ORDER:
        assert (value_of(marking) in held) is (not is_laxer(file_marking, marking))


def test_imports_keep_incoming_markings_and_the_strictest_wins(
    database: Database,
) -> None:
    stix_red = {
        "type": "bundle",
        "id": "bundle--0f1c3b7e-3a49-4c64-9a43-7a7f1e0b3b0d",
        "objects": [
            {
                "type": "indicator",
                "spec_version": "2.1",
                "id": "indicator--2d5c8f7e-4c0b-4b55-9d1e-3b8f5a6c7d21",
                "pattern": f"[file:hashes.PDQ = '{value_of(Tlp.CLEAR)}']",
                "pattern_type": "stix",
                # TLP 1.0 RED of the STIX specification
                "object_marking_refs": ["marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"],
            }
        ],
    }
    misp_strict = {
        "Event": {
            "info": "x",
            "Tag": [{"name": "tlp:green"}],
            "Attribute": [
                {
                    "type": "md5",
                    "value": "ab" * 16,
                    "Tag": [{"name": "tlp:amber+strict"}],
                }
            ],
        }
    }
    csv_green = f"signal_type,value,tlp\nsha256,{'cd' * 32},green\n"
    with database.unit_of_work(write=True) as uow:
        make_agency(uow, code="unite-fr")
        create_bank(uow, agency_code="unite-fr", name="connu", actor="test")
        for text in (json.dumps(stix_red), json.dumps(misp_strict), csv_green):
            _, entries, problems = read_entries(text, None, Labels())
            assert problems == []
            add_entries(uow, agency_code="unite-fr", bank_name="connu", entries=entries, actor="t")
        # the same SHA-256 again, now marked RED: the stricter marking wins
        add_entries(
            uow,
            agency_code="unite-fr",
            bank_name="connu",
            entries=[EntryInput("sha256", "cd" * 32, tlp=Tlp.RED)],
            actor="t",
        )
        # and again GREEN: it never loosens
        add_entries(
            uow,
            agency_code="unite-fr",
            bank_name="connu",
            entries=[EntryInput("sha256", "cd" * 32, tlp=Tlp.GREEN)],
            actor="t",
        )
        bank = uow.banks.get_by_name(uow.agencies.get_by_code("unite-fr").id, "connu")
        markings = {e.signal.type: e.tlp for e in uow.banks.entries([bank.id])}
        uow.commit()
    assert markings == {"pdq": Tlp.RED, "md5": Tlp.AMBER_STRICT, "sha256": Tlp.RED}


def test_feeds_never_widen_and_never_carry_red(database: Database) -> None:
    with database.unit_of_work(write=True) as uow:
        for code in ("unite-fr", "unite-qc"):
            make_agency(uow, code=code)
        subscriber = link(uow, "unite-fr", "unite-qc", terms("onward", "clear"))
        create_bank(uow, agency_code="unite-fr", name="connu", actor="test")
        add_entries(
            uow,
            agency_code="unite-fr",
            bank_name="connu",
            actor="test",
            entries=[EntryInput("pdq", value_of(t), LABELS, tlp=t) for t in TLP_ORDER]
            + [EntryInput("pdq", "9" * 64, LABELS)],  # the unit's own, unmarked
        )
        page = build_feed(
            uow,
            publisher_id=subscriber.agency_id,
            subscriber=subscriber,
            cursor=0,
            now=datetime.now(UTC),
        )
        uow.commit()
    sent = {entry.value: entry.tlp for entry in page.entries}
    assert value_of(Tlp.RED) not in sent
    assert sent["9" * 64] is Tlp.CLEAR  # the agreement marks what the unit did not
    for received, out in by_value(sent).items():
        never_laxer(received, out, Tlp.CLEAR)
    assert len(sent) == 5


def test_taxii_serves_each_entry_under_its_marking_and_never_red(
    client: TestClient, sqlite_database: Database, agencies: dict[str, str]
) -> None:
    with sqlite_database.unit_of_work(write=True) as uow:
        create_bank(uow, agency_code="agency-a", name="connu", actor="test")
        add_entries(
            uow,
            agency_code="agency-a",
            bank_name="connu",
            actor="test",
            entries=[EntryInput("pdq", value_of(t), LABELS, tlp=t) for t in TLP_ORDER],
        )
        analyst = uow.users.find_credentials("analyst.a")
        assert analyst is not None
        _, token = create_api_token(uow, user=analyst.user, name="taxii")
        uow.commit()
    headers = {"Authorization": f"Bearer {token}"}
    (collection,) = client.get("/taxii2/api/collections/", headers=headers).json()["collections"]
    objects = client.get(
        f"/taxii2/api/collections/{collection['id']}/objects/",
        params={"match[type]": "indicator"},
        headers=headers,
    ).json()["objects"]
    marks = {
        o["pattern"].split("'")[1]: KNOWN_MARKINGS[o["object_marking_refs"][0]] for o in objects
    }
    assert value_of(Tlp.RED) not in marks and len(marks) == 4
    for received, out in by_value(marks).items():
        never_laxer(received, out, None)
