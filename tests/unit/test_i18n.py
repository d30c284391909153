"""Every string of the console has its French translation; language negotiation."""

from __future__ import annotations

from pathlib import Path

import pytest
from jinja2 import Environment

from passerelle.core.identity import Locale
from passerelle.web.i18n import load_catalog, parse_accept_language

TEMPLATES = Path(__file__).parents[2] / "src" / "passerelle" / "web" / "templates"


def _extracted() -> list[str | tuple[str, ...]]:
    env = Environment(extensions=["jinja2.ext.i18n"], autoescape=True)
    found: list[str | tuple[str, ...]] = []
    for path in TEMPLATES.rglob("*.html"):
        for _line, _func, message in env.extract_translations(path.read_text(encoding="utf-8")):
            found.append(message)
    return found


def template_messages() -> set[str]:
    """The singular messages of the templates (plurals are in `template_plurals`)."""
    return {m for m in _extracted() if isinstance(m, str)}


def template_plurals() -> set[tuple[str, str]]:
    """The (singular, plural) pairs of the templates' ngettext calls."""
    return {(m[0], m[1]) for m in _extracted() if isinstance(m, tuple) and m[0] and m[1]}


def test_templates_have_messages() -> None:
    assert "Log in" in template_messages()


def test_every_template_message_is_translated_to_french() -> None:
    french = load_catalog(Locale.FR)
    same_in_french = {
        "Action",
        "Code",
        "Contact",
        "Source",
        "Score",
        "score",
        "Distance",
        "Provenance",
        "Verdict",
        "Protection",
        "Description",
        "Format",
        "Import",
        "Note",
    }
    missing = sorted(m for m in template_messages() - same_in_french if french.gettext(m) == m)
    assert missing == []


def test_every_template_plural_is_translated_to_french() -> None:
    french = load_catalog(Locale.FR)
    plurals = template_plurals()
    assert ("%(n)s bank", "%(n)s banks") in plurals
    missing = sorted(
        pair
        for pair in plurals
        if french.ngettext(*pair, 1) == pair[0] or french.ngettext(*pair, 2) == pair[1]
    )
    assert missing == []


def test_french_placeholders_match_the_english_ones() -> None:
    french = load_catalog(Locale.FR)
    import re

    for message in template_messages() | {m for pair in template_plurals() for m in pair}:
        assert sorted(re.findall(r"%\(\w+\)s", french.gettext(message))) == sorted(
            re.findall(r"%\(\w+\)s", message)
        ), message


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("fr-CA,fr;q=0.9,en;q=0.8", Locale.FR),
        ("en-US,en;q=0.9", Locale.EN),
        ("de-DE,en;q=0.5,fr;q=0.7", Locale.FR),
        ("de-DE", None),
        ("", None),
        (None, None),
        ("en;q=abc,fr", Locale.FR),
    ],
)
def test_accept_language(header: str | None, expected: Locale | None) -> None:
    assert parse_accept_language(header) == expected


def test_plural_and_dynamic_labels_are_translated_to_french() -> None:
    french = load_catalog(Locale.FR)
    assert french.ngettext("%(n)d case", "%(n)d cases", 1) == "%(n)d dossier"
    assert french.ngettext("%(n)d case", "%(n)d cases", 3) == "%(n)d dossiers"
    labels = [
        "open",
        "decided",
        "closed",
        "threat_to_life",
        "crisis",
        "designated_entity",
        "promotional",
    ]
    assert [label for label in labels if french.gettext(label) == label] == []


def test_role_names_are_translated_to_french() -> None:
    from passerelle.web.views import ROLE_LABELS, role_label

    french = load_catalog(Locale.FR)
    assert role_label("controller", french.gettext) == "contrôleur"
    missing = [label for label in ROLE_LABELS.values() if french.gettext(label) == label]
    assert missing == []


def test_every_reason_of_the_priority_score_is_translated_to_french() -> None:
    import re

    from passerelle.core import priority

    source = (Path(priority.__file__)).read_text(encoding="utf-8")
    templates = set(priority.TIER_REASONS.values()) | {priority.NO_MATCH, priority.SUPPRESSED}
    templates |= {r + suffix for r in priority.VIDEO_REASONS for suffix in ("", " (partner)")}
    for found in re.findall(r'Explanation\(\s*"([^"]+)"( \+ partner)?', source):
        templates.add(found[0])
        if found[1]:
            templates.add(found[0] + " (partner)")
    assert len(templates) >= 14
    french = load_catalog(Locale.FR)
    assert [t for t in sorted(templates) if french.gettext(t) == t] == []
    for template in templates:
        names = sorted(re.findall(r"%\((\w+)\)s", template))
        assert sorted(re.findall(r"%\((\w+)\)s", french.gettext(template))) == names, template
