"""The command line's language: chosen from the environment, read from the console's
catalogue with the same result as Babel, every message it says translated."""

from __future__ import annotations

import click
import pytest
from babel.messages.pofile import read_po

from passerelle import language
from passerelle.cli.audit import INTACT, INTACT_HOLDING
from passerelle.cli.banks import RECOUNTED
from passerelle.cli.commands import Speaking, help_paragraphs
from passerelle.cli.crawl import READ, READ_QUEUED
from passerelle.cli.main import COMMANDS, cli, load_command
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


def _commands() -> list[tuple[str, click.Command]]:
    found = [("passerelle", cli)]
    for name in sorted(COMMANDS):
        stack = [(name, load_command(name))]
        while stack:
            path, command = stack.pop()
            found.append((path, command))
            if isinstance(command, click.Group):
                stack += [(f"{path} {n}", c) for n, c in command.commands.items()]
    return found


def test_every_help_text_of_every_command_is_translated() -> None:
    """Each paragraph of the help of every command and option, and the registry's short
    help, has its French translation; every command speaks through our classes."""
    french = language.load_messages("fr")
    missing = []
    for path, command in _commands():
        assert isinstance(command, Speaking), path
        texts = [command.help, command.short_help]
        texts += [getattr(p, "help", None) for p in command.params]
        for text in texts:
            missing += [(path, p) for p in help_paragraphs(text) if not french.get(p)]
    missing += [(n, t) for n, (_, _, t) in COMMANDS.items() if not french.get(t)]
    assert missing == []


def test_click_words_are_translated() -> None:
    french = language.load_messages("fr")
    for word in ("Usage:", "Commands", "Show this message and exit.", "Error: {message}"):
        assert french.get(word), word
    assert "{name!r}" in french["No such option {name!r}."]


def test_plural_messages_read_as_babel_reads_them() -> None:
    path = language.LOCALE_DIR / "fr" / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        babel = {
            m.id[0]: tuple(m.string)
            for m in read_po(handle)
            if isinstance(m.id, tuple) and all(m.string) and not m.fuzzy
        }
    assert language.load_plurals("fr") == babel
    assert "Option {name!r} requires an argument." in babel


@pytest.mark.parametrize(
    ("environ", "count", "expected"),
    [
        ("fr", 1, "L’option {name!r} demande un argument."),
        ("fr", 0, "L’option {name!r} demande un argument."),
        ("fr", 2, "L’option {name!r} demande {nargs} arguments."),
        ("fr_CA", 3, "L’option {name!r} demande {nargs} arguments."),
        ("en", 1, "Option {name!r} requires an argument."),
        ("en", 2, "Option {name!r} requires {nargs} arguments."),
    ],
)
def test_plural_forms_follow_the_language(
    monkeypatch: pytest.MonkeyPatch, environ: str, count: int, expected: str
) -> None:
    monkeypatch.setenv("LANGUAGE", environ)
    said = language.translate_plural(
        "Option {name!r} requires an argument.",
        "Option {name!r} requires {nargs} arguments.",
        count,
    )
    assert said == expected


def test_help_paragraphs_fold_whitespace_and_stop_at_the_form_feed() -> None:
    text = """First line
        goes on.

        Second   paragraph.
        \f
        Hidden."""
    assert help_paragraphs(text) == ["First line goes on.", "Second paragraph."]
