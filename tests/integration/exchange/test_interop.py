"""Real peer tools accept our output: stix2-validator finds no error in an exported bundle,
PyMISP loads the MISP export, and the OASIS taxii2-client lists the collections of our TAXII
server and pages through their objects. Both formats import back."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from click.testing import CliRunner
from pymisp import MISPEvent
from stix2validator import ValidationOptions, validate_instance
from taxii2client.v21 import Server, as_pages

from passerelle.cli.main import cli
from passerelle.core.bank import EntryInput
from passerelle.core.signals.pdq import PDQ
from passerelle.core.taxonomy import Category, Labels, Tier
from passerelle.db.session import Database
from passerelle.services.auth import create_api_token
from passerelle.services.banks import add_entries, create_bank
from passerelle.settings import Settings
from passerelle.web.app import create_app
from tests.shared import shared

LABELS = Labels(category=Category.INCITES, tier=Tier.PROMOTIONAL, tags=frozenset({"stand-in"}))


def fill_bank(database: Database, code: str, name: str = "connu") -> None:
    images = [
        shared("pdq", "images", n)
        for n in ("aaa-orig.jpg", "shrink-a-lot.jpg", "sharpen-a-lot.jpg")
    ]
    with database.unit_of_work(write=True) as uow:
        create_bank(uow, agency_code=code, name=name, actor="test")
        entries = [EntryInput("pdq", PDQ.compute(p.read_bytes()).value, LABELS) for p in images]
        entries += [
            EntryInput("sha256", "ab" * 32, LABELS),
            EntryInput("md5", "cd" * 16, LABELS),
            EntryInput("url", "https://exemple.test/propagande?id=1", LABELS),
        ]
        add_entries(uow, agency_code=code, bank_name=name, entries=entries, actor="test")
        uow.commit()


@pytest.fixture
def cli_env(tmp_path: Path, sqlite_url: str, sqlite_database: Database) -> dict[str, str]:
    return {
        "PASSERELLE_ENV": "dev",
        "PASSERELLE_DATABASE_URL": sqlite_url,
        "PASSERELLE_DATA_DIR": str(tmp_path / "var"),
    }


def export(env: dict[str, str], fmt: str, *extra: str) -> dict[str, object]:
    result = CliRunner().invoke(
        cli, ["bank", "export", "connu", "--agency", "agency-a", "--format", fmt, *extra], env=env
    )
    assert result.exit_code == 0, result.output
    document: dict[str, object] = json.loads(result.output[: result.output.rindex("}") + 1])
    return document


def test_stix_bundles_validate_and_import_back(
    cli_env: dict[str, str], sqlite_database: Database, agencies: dict[str, str], tmp_path: Path
) -> None:
    fill_bank(sqlite_database, "agency-a")
    bundle = export(cli_env, "stix", "--tlp", "green")
    objects = bundle["objects"]
    assert isinstance(objects, list)
    assert [o["type"] for o in objects].count("indicator") == 6
    patterns = {o["pattern"].split(" = ")[0] for o in objects if o["type"] == "indicator"}
    assert patterns == {
        "[file:hashes.'SHA-256'",
        "[file:hashes.MD5",
        "[file:hashes.PDQ",
        "[url:value",
    }
    result = validate_instance(bundle, ValidationOptions(strict=True))
    assert result.is_valid, [str(e) for e in result.errors]
    assert not result.errors and not result.warnings
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    runner = CliRunner()
    created = runner.invoke(cli, ["bank", "create", "copie", "--agency", "agency-b"], env=cli_env)
    assert created.exit_code == 0, (created.output, created.exception)
    imported = runner.invoke(
        cli,
        ["bank", "import", "copie", str(path), "--format", "stix", "--agency", "agency-b"],
        env=cli_env,
    )
    assert imported.output.strip().endswith("6 added, 0 already there, 0 refused"), imported.output
    with sqlite_database.unit_of_work() as uow:
        bank = uow.banks.get_by_name(agencies["b"], "copie")
        copied = {(e.signal.type, e.labels.category) for e in uow.banks.entries([bank.id])}
    assert copied == {(t, Category.INCITES) for t in ("pdq", "sha256", "md5", "url")}


def test_a_broken_stix_bundle_is_refused_with_reasons(
    cli_env: dict[str, str], sqlite_database: Database, agencies: dict[str, str], tmp_path: Path
) -> None:
    with sqlite_database.unit_of_work(write=True) as uow:
        create_bank(uow, agency_code="agency-a", name="vide", actor="test")
        uow.commit()
    path = tmp_path / "bad.json"
    path.write_text(
        json.dumps(
            {
                "type": "bundle",
                "objects": [
                    {"type": "indicator", "pattern": "[process:name = 'x']"},
                    {"type": "indicator", "pattern": "[file:hashes.MD5 = 'zz']"},
                ],
            }
        )
    )
    result = CliRunner().invoke(
        cli,
        ["bank", "import", "vide", str(path), "--format", "stix", "--agency", "agency-a"],
        env=cli_env,
    )
    assert result.exit_code == 2
    assert "object 0: process:name = is not a signal Passerelle matches" in result.output
    assert "line 2:" in result.output and "0 added" in result.output


def test_pymisp_loads_the_misp_export_and_it_imports_back(
    cli_env: dict[str, str], sqlite_database: Database, agencies: dict[str, str], tmp_path: Path
) -> None:
    fill_bank(sqlite_database, "agency-a")
    document = export(cli_env, "misp")
    event = MISPEvent()
    event.load(json.loads(json.dumps(document)))  # PyMISP consumes what it loads
    kinds = sorted(a.type for a in event.attributes)
    assert kinds == ["md5", "sha256", "text", "text", "text", "url"]
    assert event.distribution == 1  # this community only: the agreement's partners
    assert [t.name for t in event.tags] == ["tlp:amber"]
    path = tmp_path / "event.json"
    path.write_text(json.dumps(document))
    runner = CliRunner()
    assert (
        runner.invoke(
            cli, ["bank", "create", "copie", "--agency", "agency-b"], env=cli_env
        ).exit_code
        == 0
    )
    imported = runner.invoke(
        cli,
        ["bank", "import", "copie", str(path), "--format", "misp", "--agency", "agency-b"],
        env=cli_env,
    )
    assert imported.output.strip().endswith("6 added, 0 already there, 0 refused"), imported.output


@pytest.fixture
def taxii_server(settings: Settings, sqlite_database: Database) -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, sqlite_database), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_taxii2_client_lists_collections_and_pages_through_objects(
    taxii_server: str, sqlite_database: Database, agencies: dict[str, str]
) -> None:
    fill_bank(sqlite_database, "agency-a")
    fill_bank(sqlite_database, "agency-b", name="autre")  # another agency's: never listed
    with sqlite_database.unit_of_work(write=True) as uow:
        analyst = uow.users.find_credentials("analyst.a")
        assert analyst is not None
        _, token = create_api_token(uow, user=analyst.user, name="taxii")
        uow.commit()
    server = Server(taxii_server + "/taxii2/", user="analyst.a", password=token)
    (root,) = server.api_roots
    (collection,) = root.collections
    assert collection.title == "connu" and collection.can_read and not collection.can_write
    indicators = []
    for page in as_pages(collection.get_objects, per_request=2):
        indicators += [o for o in page.get("objects", []) if o["type"] == "indicator"]
    assert len(indicators) == 6
    assert len({o["id"] for o in indicators}) == 6
    later = collection.get_objects(added_after="2999-01-01T00:00:00Z")
    assert later.get("objects", []) == []
    since = collection.get_objects(added_after="2000-01-01T00:00:00Z")
    assert [o["type"] for o in since["objects"]].count("indicator") == 6
    for o in indicators:
        result = validate_instance(o, ValidationOptions(strict=False))
        assert not result.errors


def test_taxii_refuses_without_a_token(taxii_server: str, agencies: dict[str, str]) -> None:
    import httpx

    response = httpx.get(taxii_server + "/taxii2/api/collections/")
    assert response.status_code == 401
    bad = httpx.get(taxii_server + "/taxii2/api/collections/", auth=("analyst.a", "psl_faux"))
    assert bad.status_code == 401
