"""What the peer tools write, Passerelle reads; what Passerelle writes, they accept — run with
the tools as they install from the registry: stix2 (no custom content allowed),
stix2-validator (strict), misp-stix both ways, PyMISP (its JSON schema and its own events),
taxii2-client (paging without a warning; warnings are errors here), and the TAXII 2.1
endpoints to the letter (limits, 406, manifest, object by id, versions, match filters)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pymisp
import stix2
from fastapi.testclient import TestClient
from pymisp import MISPEvent, MISPObject
from stix2validator import ValidationOptions, validate_instance
from taxii2client.v21 import Server, as_pages

from passerelle.core.bank import BankEntry, EntryInput
from passerelle.core.marking import Tlp
from passerelle.core.signals import parse_signal
from passerelle.core.taxonomy import Category, Labels
from passerelle.db.session import Database
from passerelle.exchange.misp import misp_event, read_misp_event
from passerelle.exchange.stix import read_stix_bundle, stix_bundle
from passerelle.services.auth import create_api_token
from passerelle.services.banks import add_entries, create_bank
from tests.integration.exchange.test_interop import taxii_server  # noqa: F401 (fixture)

# misp-stix runs in its own process: it installs an old `six` import hook and holds regexes
# Python warns about, which would turn every later import in this process into a warning.
MISP_STIX = """
import json, sys, warnings
warnings.simplefilter("ignore")
import stix2
from misp_stix_converter import ExternalSTIX2toMISPParser, MISPtoSTIX21Parser
direction, document = sys.argv[1], json.load(sys.stdin)
if direction == "misp-to-stix":
    parser = MISPtoSTIX21Parser()
    parser.parse_misp_event(document)
    print(parser.bundle.serialize())
else:
    parser = ExternalSTIX2toMISPParser()
    parser.load_stix_bundle(stix2.parse(json.dumps(document), allow_custom=True))
    parser.parse_stix_bundle()
    print(parser.misp_event.to_json())
"""


def misp_stix(direction: str, document: object) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", MISP_STIX, direction],
        input=json.dumps(document),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    converted: dict[str, object] = json.loads(done.stdout)
    return converted


LABELS = Labels(category=Category.INCITES)
ADDRESS = "https://exemple.test/propagande?id=1"
ENTRIES = [
    BankEntry(f"00000000-0000-4000-8000-00000000000{i}", "b", parse_signal(t, v), LABELS, tlp=m)
    for i, (t, v, m) in enumerate(
        [
            ("pdq", "ab" * 32, Tlp.RED),
            ("sha256", "cd" * 32, Tlp.AMBER_STRICT),
            ("md5", "ef" * 16, Tlp.GREEN),
            ("url", parse_signal("url", ADDRESS).value, Tlp.CLEAR),
        ]
    )
]
SOURCES = {ENTRIES[3].signal.value: ADDRESS}
EXPECTED = {("pdq", "ab" * 32): Tlp.RED, ("sha256", "cd" * 32): Tlp.AMBER_STRICT}
EXPECTED |= {("md5", "ef" * 16): Tlp.GREEN, ("url", ADDRESS): Tlp.CLEAR}


def ours_bundle() -> dict[str, object]:
    return stix_bundle(
        ENTRIES, agency_code="unite-fr", agency_name="Unité démo France", source_values=SOURCES
    )


def ours_event() -> dict[str, object]:
    return misp_event(
        ENTRIES,
        info="Contenus connus",
        agency_name="Unité démo France",
        agency_code="unite-fr",
        source_values=SOURCES,
    )


def strictest_by_signal(entries: list[EntryInput]) -> dict[tuple[str, str], Tlp | None]:
    """Each signal read, with the strictest marking any of its objects carried."""
    found: dict[tuple[str, str], Tlp | None] = {}
    order = [None, Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER, Tlp.AMBER_STRICT, Tlp.RED]
    for entry in entries:
        key = (entry.signal_type, entry.value)
        if order.index(entry.tlp) >= order.index(found.get(key)):
            found[key] = entry.tlp
    return found


def test_stix2_parses_our_bundle_without_custom_content_and_strict_validation_passes() -> None:
    bundle = ours_bundle()
    parsed = stix2.parse(json.dumps(bundle))  # allow_custom is False by default
    assert len(parsed.objects) == len(bundle["objects"])  # type: ignore[arg-type]
    result = validate_instance(bundle, ValidationOptions(strict=True))
    assert result.is_valid, [str(e) for e in result.errors]
    assert not result.warnings, [str(w) for w in result.warnings]


def test_misp_stix_carries_every_hash_and_marking_from_our_misp_into_stix() -> None:
    entries, _ = read_stix_bundle(misp_stix("misp-to-stix", ours_event()))
    assert strictest_by_signal(entries) == EXPECTED


def test_misp_stix_carries_every_hash_and_marking_from_our_stix_into_misp() -> None:
    entries, _ = read_misp_event(misp_stix("stix-to-misp", ours_bundle()))
    assert strictest_by_signal(entries) == EXPECTED


def test_pymisp_schema_accepts_our_event_and_it_keeps_tier_and_tags() -> None:
    schema_path = Path(pymisp.__file__).parent / "data" / "schema.json"
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    event = ours_event()
    jsonschema.validate(event, schema)
    loaded = MISPEvent()
    loaded.load(json.loads(json.dumps(event)))
    assert {a.type for a in loaded.attributes} == {"text", "sha256", "md5", "url"}
    # the event says the laxest marking; each attribute its own, stricter one
    assert [t.name for t in loaded.tags] == ["tlp:clear"]
    entries, problems = read_misp_event(json.loads(loaded.to_json()))
    assert problems == []
    assert strictest_by_signal(entries) == EXPECTED
    assert {e.labels.category for e in entries} == {Category.INCITES}


def test_an_event_written_with_pymisp_imports_every_hash() -> None:
    event = MISPEvent()
    event.info = "Écrit par PyMISP"
    event.add_tag("tlp:amber")
    file_object = MISPObject("file")
    file_object.add_attribute("sha256", value="12" * 32)
    file_object.add_attribute("md5", value="34" * 16)
    file_object.add_attribute("filename", value="propagande.mp4")
    event.add_object(file_object)
    event.add_attribute("url", ADDRESS)
    event.add_attribute("filename|md5", f"affiche.jpg|{'56' * 16}")
    event.add_attribute("filename|sha256", f"affiche.jpg|{'78' * 32}")
    for document in (
        json.loads(event.to_json()),  # bare, as PyMISP writes it
        {"Event": json.loads(event.to_json())},
        {"response": [{"Event": json.loads(event.to_json())}]},
    ):
        entries, problems = read_misp_event(document)
        found = strictest_by_signal(entries)
        assert found == {
            ("sha256", "12" * 32): Tlp.AMBER,
            ("md5", "34" * 16): Tlp.AMBER,
            ("url", ADDRESS): Tlp.AMBER,
            ("md5", "56" * 16): Tlp.AMBER,
            ("sha256", "78" * 32): Tlp.AMBER,
        }
        assert len(problems) == 1 and "'filename' is not a signal" in str(problems[0])


def test_stix_import_reads_what_other_tools_write_and_names_refusals_by_id() -> None:
    bundle = {
        "type": "bundle",
        "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d",
        "objects": [
            {
                "type": "indicator",
                "id": "indicator--a1",
                "pattern": "[ file:hashes.'MD5' = 'ABABABABABABABABABABABABABABABAB' "
                f"AND file:hashes.'SHA-256' = '{'CD' * 32}' ] OR [url:value = '{ADDRESS}']",
                "pattern_type": "stix",
            },
            {"type": "file", "id": "file--b2", "hashes": {"SHA-256": "ef" * 32}},
            {"type": "url", "id": "url--c3", "value": "https://exemple.test/autre"},
            {"type": "indicator", "id": "indicator--d4", "pattern": "[process:name = 'x']"},
            {"type": "indicator", "id": "indicator--e5", "pattern": "[file:hashes.MD5 = "},
        ],
    }
    entries, problems = read_stix_bundle(bundle)
    assert {(e.signal_type, e.value) for e in entries} == {
        ("md5", "ab" * 16),
        ("sha256", "cd" * 32),
        ("url", ADDRESS),
        ("sha256", "ef" * 32),
        ("url", "https://exemple.test/autre"),
    }
    assert str(problems[0]) == "indicator--d4: process:name = is not a signal Passerelle matches"
    assert str(problems[1]).startswith("indicator--e5: pattern is not valid STIX")


def _fill(database: Database, count: int) -> str:
    with database.unit_of_work(write=True) as uow:
        create_bank(uow, agency_code="agency-a", name="connu", actor="test")
        entries = [EntryInput("md5", f"{i:032x}", LABELS) for i in range(count)]
        entries.append(EntryInput("md5", "f" * 32, LABELS, tlp=Tlp.RED))  # never served
        add_entries(uow, agency_code="agency-a", bank_name="connu", entries=entries, actor="t")
        analyst = uow.users.find_credentials("analyst.a")
        assert analyst is not None
        _, token = create_api_token(uow, user=analyst.user, name="taxii")
        uow.commit()
    return token


def test_taxii2_client_pages_exactly_and_filters_by_type(
    taxii_server: str,  # noqa: F811
    sqlite_database: Database,
    agencies: dict[str, str],
) -> None:
    token = _fill(sqlite_database, 7)
    server = Server(taxii_server + "/taxii2/", user="analyst.a", password=token)
    (collection,) = server.api_roots[0].collections
    seen = []
    # as_pages warns when a page is not the size asked for: warnings fail this test
    for page in as_pages(collection.get_objects, per_request=3):
        seen += page.get("objects", [])
    kinds = [o["type"] for o in seen]
    assert kinds.count("indicator") == 7 and len({o["id"] for o in seen}) == len(seen)
    indicators = collection.get_objects(type="indicator")["objects"]  # sent as match[type]
    assert {o["type"] for o in indicators} == {"indicator"} and len(indicators) == 7
    one = indicators[0]["id"]
    assert collection.get_object(one)["objects"][0]["id"] == one
    assert collection.object_versions(one)["versions"] == [indicators[0]["modified"]]
    manifest = collection.get_manifest(id=one)["objects"]
    assert [m["id"] for m in manifest] == [one]


def test_taxii_follows_the_specification_on_limits_media_types_and_errors(
    client: TestClient, sqlite_database: Database, agencies: dict[str, str]
) -> None:
    token = _fill(sqlite_database, 3)
    headers = {"Authorization": f"Bearer {token}"}
    (collection,) = client.get("/taxii2/api/collections/", headers=headers).json()["collections"]
    objects = f"/taxii2/api/collections/{collection['id']}/objects/"
    page = client.get(objects, params={"limit": 2}, headers=headers)
    assert len(page.json()["objects"]) == 2 and page.json()["more"] is True
    assert page.headers["X-TAXII-Date-Added-First"] <= page.headers["X-TAXII-Date-Added-Last"]
    capped = client.get(objects, params={"limit": 100_000}, headers=headers)
    assert capped.status_code == 200 and capped.json()["more"] is False
    everything = capped.json()["objects"]
    assert [o["type"] for o in everything].count("indicator") == 3  # RED is not served
    refused = client.get(objects, headers={**headers, "Accept": "application/xml"})
    assert refused.status_code == 406
    assert refused.headers["content-type"].startswith("application/taxii+json")
    assert refused.json()["http_status"] == "406"
    versioned = {**headers, "Accept": "application/taxii+json;version=2.1"}
    assert client.get(objects, headers=versioned).status_code == 200
    missing = client.get(
        objects + "indicator--00000000-0000-4000-8000-000000000000/", headers=headers
    )
    assert missing.status_code == 404 and missing.json()["http_status"] == "404"
    bad = client.get(objects, params={"match[version]": "yesterday"}, headers=headers)
    assert bad.status_code == 400 and "match[version]" in bad.json()["title"]


def test_pytx_fetches_our_export_and_its_match_finds_every_edit_of_the_image(
    tmp_path: Path,
) -> None:
    """python-threatexchange as its users run it: a local-file collaboration on our export
    (absolute path), `fetch`, then `match photo` on every edit of the banked stand-in image.
    The bank also holds 200 seeded random hashes (pytx's index misses in a bank of one)."""
    import random

    from passerelle.core.signals.pdq import PDQ
    from passerelle.exchange.bankfile import dump_pytx
    from tests.shared import shared

    images = sorted(shared("pdq", "images").glob("*.jpg"))
    banked = PDQ.compute(shared("pdq", "images", "aaa-orig.jpg").read_bytes())
    generator = random.Random(20261201)
    values = [banked.value] + [f"{generator.getrandbits(256):064x}" for _ in range(200)]
    entries = [
        BankEntry(f"e{i}", "b", parse_signal("pdq", v), LABELS) for i, v in enumerate(values)
    ]
    text, skipped = dump_pytx(entries, {})
    assert skipped == 0 and text.endswith("\n")
    export = tmp_path / "connu.txt"
    export.write_text(text, encoding="utf-8")
    pytx = str(Path(sys.executable).parent / "threatexchange")
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}

    def run(*args: str) -> str:
        done = subprocess.run(
            [pytx, *args], env=env, capture_output=True, text=True, timeout=300, check=True
        )
        return done.stdout

    run("config", "collab", "edit", "local_file", "--create", "passerelle",
        "--filename", str(export.resolve()))  # fmt: skip
    run("fetch")
    lines = run("match", "photo", *[str(p) for p in images]).splitlines()
    assert len(lines) == len(images) == 12, lines
    for line in lines:
        kind, distance, collab, _ = line.split(" ", 3)
        assert kind == "pdq" and int(distance) <= 31 and collab == "(passerelle)"


def test_pytx_vocabulary_and_dataset_csv_are_read_or_refused_with_a_reason() -> None:
    from passerelle.exchange.bankfile import detect_format, read_pytx, read_pytx_csv

    lines = "\n".join(
        [
            f"pdq {'ab' * 32}",
            f"video_md5 {'cd' * 16}",
            f"video_sha256 {'ef' * 32}",
            f"pdq_ocr {'12' * 32},texte lu dans l'image",
            f"url_md5 {'34' * 16}",
            "trend_query {}",
            "text_tlsh T1ABC",
            "photodna abc",
        ]
    )
    read = list(read_pytx(lines, Labels()))
    good = [(r.signal_type, r.value) for r in read if isinstance(r, EntryInput)]
    assert good == [
        ("pdq", "ab" * 32),
        ("md5", "cd" * 16),
        ("sha256", "ef" * 32),
        ("pdq", "12" * 32),
    ]
    bad = [str(r) for r in read if not isinstance(r, EntryInput)]
    assert bad[0].startswith("line 5: signal type url_md5 is not imported: an MD5 of an address")
    assert "line 6: signal type trend_query is not imported" in bad[1]
    assert "import the text itself as raw_text" in bad[2]
    assert bad[3].startswith("line 8: unknown signal type 'photodna' (python-threatexchange's:")
    dataset = (
        "signal_type,signal_str,collab,category,tags\r\n"
        f"pdq,{'ab' * 32},Sample Data,POSITIVE_CLASS,propagande connu\r\n"
        f"pdq,{'cd' * 32},Sample Data,NEGATIVE_CLASS,\r\n"
    )
    assert detect_format(dataset) == "pytx-csv"
    rows = list(read_pytx_csv(dataset, Labels()))
    first = rows[0]
    assert isinstance(first, EntryInput) and first.labels.tags == {"propagande", "connu"}
    assert first.note == "pytx collaboration Sample Data"
    assert "NEGATIVE_CLASS" in str(rows[1])
    assert detect_format(json.dumps(ours_bundle())) == "stix"
    assert detect_format(json.dumps(ours_event())) == "misp"
    assert detect_format(f"signal_type,value\nmd5,{'ab' * 16}\n") == "csv"
    assert detect_format(lines) == "pytx"
