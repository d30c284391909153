"""Gettext catalogs of the console: message ids in English, French catalog first.

The `.po` files are read with Babel when the app is built, so no compiled `.mo` file needs to be
kept in step with its source.
"""

from __future__ import annotations

import gettext
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from passerelle.core.identity import Locale

LOCALE_DIR = Path(__file__).parent / "locale"


def load_catalog(locale: Locale) -> gettext.NullTranslations:
    path = LOCALE_DIR / locale.value / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return gettext.NullTranslations()
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=locale.value)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


class Translator:
    """All catalogs, loaded once per app."""

    def __init__(self) -> None:
        self._catalogs = {locale: load_catalog(locale) for locale in Locale}

    def get(self, locale: Locale) -> gettext.NullTranslations:
        return self._catalogs[locale]


def parse_accept_language(header: str | None) -> Locale | None:
    """The first of fr/en named in an Accept-Language header, by quality."""
    if not header:
        return None
    choices: list[tuple[float, int, Locale]] = []
    for index, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        primary = tag.strip().lower().split("-")[0]
        if primary in {locale.value for locale in Locale}:
            choices.append((-quality, index, Locale(primary)))
    return min(choices)[2] if choices else None
