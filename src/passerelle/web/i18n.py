"""Gettext catalogs of the console: message ids in English, French catalog first.

The `.po` files are read with Babel when the app is built, so no compiled `.mo` file needs to be
kept in step with its source. Québec French (`fr_CA`) holds only what Québec says differently
(« courriel », « entente »…); every other message comes from the French catalog.
"""

from __future__ import annotations

import gettext
from collections.abc import Callable
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from passerelle.core.identity import Jurisdiction, Locale

LOCALE_DIR = Path(__file__).parent / "locale"
QUEBEC_FRENCH = "fr_CA"
# Regional catalogs and the language whose catalog they fall back to.
REGIONAL = {QUEBEC_FRENCH: Locale.FR}


def load_catalog(name: str) -> gettext.NullTranslations:
    path = LOCALE_DIR / name / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return gettext.NullTranslations()
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=name)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def catalog_name(locale: Locale, jurisdiction: Jurisdiction | None) -> str:
    """The catalog a person reads: their language, in Québec's usage for a Québec unit."""
    if locale is Locale.FR and jurisdiction is Jurisdiction.QUEBEC:
        return QUEBEC_FRENCH
    return locale.value


def html_lang(name: str) -> str:
    """The `lang` attribute of a catalog's pages (`fr-CA` for Québec French)."""
    return name.replace("_", "-")


class RegionalCatalog(gettext.NullTranslations):
    """A region's own messages, then its language's catalog (asked for at each lookup, so
    that the region always falls back to the catalog the app holds)."""

    def __init__(
        self, own: gettext.NullTranslations, language: Callable[[], gettext.NullTranslations]
    ) -> None:
        super().__init__()
        self.own = own
        self._language = language

    def _has(self, message: str) -> bool:
        catalog = getattr(self.own, "_catalog", {})
        return message in catalog or (message, 0) in catalog

    def gettext(self, message: str) -> str:
        if self._has(message):
            return self.own.gettext(message)
        return self._language().gettext(message)

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        if self._has(msgid1):
            return self.own.ngettext(msgid1, msgid2, n)
        return self._language().ngettext(msgid1, msgid2, n)


class Translator:
    """All catalogs, loaded once per app, by name (`fr`, `en`, `fr_CA`)."""

    def __init__(self) -> None:
        self._catalogs: dict[str, gettext.NullTranslations] = {
            locale.value: load_catalog(locale.value) for locale in Locale
        }
        for name, language in REGIONAL.items():
            self._catalogs[name] = RegionalCatalog(load_catalog(name), self._getter(language))

    def _getter(self, language: Locale) -> Callable[[], gettext.NullTranslations]:
        return lambda: self._catalogs[language.value]

    def get(self, name: str) -> gettext.NullTranslations:
        return self._catalogs[name]


def parse_accept_language(header: str | None) -> Locale | None:
    """The first of fr/en named in an Accept-Language header, by quality."""
    chosen = _best_tag(header)
    return Locale(chosen.split("-")[0]) if chosen else None


def accepts_quebec_french(header: str | None) -> bool:
    """Whether the browser's first choice among our languages is Québec French (`fr-CA`)."""
    return _best_tag(header) == "fr-ca"


def _best_tag(header: str | None) -> str | None:
    if not header:
        return None
    choices: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        tag = tag.strip().lower().replace("_", "-")
        if tag.split("-")[0] in {locale.value for locale in Locale}:
            choices.append((-quality, index, tag))
    return min(choices)[2] if choices else None
