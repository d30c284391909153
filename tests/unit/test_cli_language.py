"""The command line's language: chosen from the environment, read from the console's
catalogue with the same result as Babel, every message it says translated."""

from __future__ import annotations

import pytest
from babel.messages.pofile import read_po

from passerelle.cli import language
from passerelle.cli.audit import INTACT, INTACT_HOLDING
from passerelle.cli.banks import RECOUNTED
from passerelle.cli.crawl import READ, READ_QUEUED
from passerelle.cli.scanning import SCANNED, SCANNED_QUEUED


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "fr"),  # nothing said: the product's default language
        ({"LANG": "C.UTF-8"}, "fr"),
        ({"LANG": "POSIX"}, "fr"),
        ({"LANG": "de_DE.UTF-8"}, "fr"),
        ({"LANG": "C.UTF-8", "PASSERELLE_DEFAULT_LOCALE": "en"}, "en"),
        ({"LANG": "fr_FR.UTF-8"}, "fr"),
        ({"LANG": "fr_CA.UTF-8"}, "fr_CA"),
        ({"LANG": "fr_BE@euro"}, "fr"),
        ({"LANG": "en_GB.UTF-8"}, "en"),
        ({"LANG": "fr_FR.UTF-8", "LC_MESSAGES": "en_US.UTF-8"}, "en"),
        ({"LC_MESSAGES": "en_US.UTF-8", "LC_ALL": "fr_CA.UTF-8"}, "fr_CA"),
        ({"LC_ALL": "en_US.UTF-8", "LANGUAGE": "de:fr_FR:en"}, "fr"),
        ({"LANG": "fr_FR.UTF-8", "LANGUAGE": "en"}, "en"),
        ({"LANG": "en_US.UTF-8", "LANGUAGE": ""}, "en"),
    ],
)
def test_the_environment_chooses_the_catalogue(environ: dict[str, str], expected: str) -> None:
    assert language.catalog_for(environ) == expected


@pytest.mark.parametrize("name", ["fr", "fr_CA", "en"])
def test_the_catalogue_reads_as_babel_reads_it(name: str) -> None:
    path = language.LOCALE_DIR / name / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        babel = {
            m.id: m.string
            for m in read_po(handle)
            if isinstance(m.id, str) and m.id and m.string and not m.fuzzy
        }
    assert language.load_messages(name) == babel


def test_messages_kept_in_constants_are_translated() -> None:
    templates = [INTACT, INTACT_HOLDING, READ, READ_QUEUED, SCANNED, SCANNED_QUEUED]
    templates += list(RECOUNTED.values())
    french = language.load_messages("fr")
    assert [t for t in templates if not french.get(t)] == []


def test_quebec_french_falls_back_to_french(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANGUAGE", "fr_CA")
    assert language.say("database is up to date") == "la base de données est à jour"
    said = language.say(
        "agreement %(id)s from %(sender)s: %(state)s", id="x", sender="b", state="ok"
    )
    assert said == "entente x de b\u00a0: ok"
    monkeypatch.setenv("LANGUAGE", "fr")
    assert language.say(
        "agreement %(id)s from %(sender)s: %(state)s", id="x", sender="b", state="ok"
    ) == ("accord x de b\u00a0: ok")
    monkeypatch.setenv("LANGUAGE", "en")
    assert language.say("database is up to date") == "database is up to date"
