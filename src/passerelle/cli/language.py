"""The language the command line speaks: the console's catalogue, chosen from the environment.

`LANGUAGE` (a list, the first of fr or en it names), else the first of `LC_ALL`, `LC_MESSAGES`
and `LANG` that is set: French when it says `fr` (Québec usage for `fr_CA`), English when it
says `en`. When it names neither (unset, `C`, `POSIX`, another language) the command speaks
the product's default language, `PASSERELLE_DEFAULT_LOCALE` (French unless set otherwise),
as the console does for people who have not chosen. Lines meant for programs (tab-separated
lists, JSON) are not translated. The catalogue is read on the first message only, so that
`passerelle --help` stays fast (help texts stay in English).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from passerelle.core.message import Message, message_of

FRENCH, QUEBEC_FRENCH, ENGLISH = "fr", "fr_CA", "en"


def catalog_for(environ: Mapping[str, str]) -> str:
    """The catalogue (`fr`, `fr_CA` or `en`) an environment asks for."""
    for tag in environ.get("LANGUAGE", "").split(":"):
        chosen = _catalog_of(tag)
        if chosen:
            return chosen
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name, "")
        if value:
            return _catalog_of(value) or _default(environ)
    return _default(environ)


def _catalog_of(tag: str) -> str | None:
    """`fr_CA.UTF-8` → fr_CA, `fr_FR@euro` → fr, `en_GB` → en; None for anything else."""
    bare = tag.split(".")[0].split("@")[0].replace("-", "_").strip()
    language, _, region = bare.partition("_")
    if language.lower() == FRENCH:
        return QUEBEC_FRENCH if region.upper() == "CA" else FRENCH
    if language.lower() == ENGLISH:
        return ENGLISH
    return None


def _default(environ: Mapping[str, str]) -> str:
    return ENGLISH if environ.get("PASSERELLE_DEFAULT_LOCALE", "").lower() == ENGLISH else FRENCH


LOCALE_DIR = Path(__file__).parents[1] / "web" / "locale"
# Regional catalogues and the language whose catalogue they fall back to.
FALLBACK = {QUEBEC_FRENCH: FRENCH}


@cache
def load_messages(name: str) -> dict[str, str]:
    """The translated singular messages of a catalogue's `.po` file (fuzzy ones left out, as
    the console leaves them out). Read here with a few lines rather than with Babel, whose
    import alone takes a quarter of a second: the command line speaks from its first line."""
    path = LOCALE_DIR / name / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return {}
    found: dict[str, str] = {}
    fields: dict[str, str] = {}
    current, fuzzy = "", False

    def keep() -> None:
        if not fuzzy and fields.get("msgid") and fields.get("msgstr"):
            found[fields["msgid"]] = fields["msgstr"]

    for line in path.read_text(encoding="utf-8").splitlines():
        starts_entry = line.startswith(("#", "msgid ")) and "msgstr" in fields
        if starts_entry or not line.strip():
            keep()
            fields, current, fuzzy = {}, "", False
        if line.startswith("#,") and "fuzzy" in line:
            fuzzy = True
        elif line.startswith(("msgid ", "msgstr ", "msgid_plural ", "msgstr[")):
            current, _, rest = line.partition(" ")
            fields[current] = _unquote(rest)
        elif line.startswith('"') and current:
            fields[current] += _unquote(line)
    keep()
    return found


def _unquote(text: str) -> str:
    body = text.strip()[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


def translate(message: str) -> str:
    """A message id in the language of the environment (a regional catalogue falls back to
    its language's, then to the English message id)."""
    name: str | None = catalog_for(os.environ)
    while name is not None:
        found = load_messages(name).get(message)
        if found:
            return found
        name = FALLBACK.get(name)
    return message


def say(template: str, /, **values: object) -> str:
    """A message id with its values, in the language of the environment."""
    translated = translate(template)
    if not values:
        return translated
    try:
        return translated % values
    except (KeyError, ValueError, TypeError):
        return template % values


def said(message: Message) -> str:
    """A recorded message (a sync log's, a job's), in the language of the environment."""
    return message.render(translate)


def error_text(error: BaseException) -> str:
    """An error's message in the language of the environment."""
    return message_of(error).render(translate)
