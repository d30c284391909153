"""The language the operator reads (the command line, `spark-submit`'s refusals): the
console's catalogue, chosen from the environment.

`LANGUAGE` (a list, the first of fr or en it names), else the first of `LC_ALL`, `LC_MESSAGES`
and `LANG` that is set: French when it says `fr` (Québec usage for `fr_CA`), English when it
says `en`. When it names neither (unset, `C`, `POSIX`, another language) the command speaks
the product's default language, `PASSERELLE_DEFAULT_LOCALE` (French unless set otherwise),
as the console does for people who have not chosen. Lines meant for programs (JSON, the codes
and names of the tab-separated lists) are not translated; the words of those lists that are
for people are. The catalogue is read on the first message only (a few
milliseconds, without Babel), so that `passerelle --help` stays fast; help texts and click's
own words are translated through it too (`passerelle.cli.commands`).
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


LOCALE_DIR = Path(__file__).parent / "web" / "locale"
# Regional catalogues and the language whose catalogue they fall back to.
FALLBACK = {QUEBEC_FRENCH: FRENCH}


def load_messages(name: str) -> dict[str, str]:
    """The translated singular messages of a catalogue's `.po` file (fuzzy ones left out, as
    the console leaves them out)."""
    return _load_po(name)[0]


def load_plurals(name: str) -> dict[str, tuple[str, ...]]:
    """The translated plural messages of a catalogue, by their singular id: their forms."""
    return _load_po(name)[1]


@cache
def _load_po(name: str) -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    """A catalogue's `.po` file, read here with a few lines rather than with Babel, whose
    import alone takes a quarter of a second: the command line speaks from its first line."""
    path = LOCALE_DIR / name / "LC_MESSAGES" / "messages.po"
    found: dict[str, str] = {}
    plurals: dict[str, tuple[str, ...]] = {}
    if not path.exists():
        return found, plurals
    fields: dict[str, str] = {}
    current, fuzzy = "", False

    def keep() -> None:
        if fuzzy or not fields.get("msgid"):
            return
        if fields.get("msgstr"):
            found[fields["msgid"]] = fields["msgstr"]
        elif fields.get("msgid_plural"):
            forms = [fields.get(f"msgstr[{n}]", "") for n in range(len(fields))]
            forms = forms[: forms.index("")] if "" in forms else forms
            if forms:
                plurals[fields["msgid"]] = tuple(forms)

    for line in path.read_text(encoding="utf-8").splitlines():
        starts_entry = line.startswith(("#", "msgid ")) and (
            "msgstr" in fields or "msgstr[0]" in fields
        )
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
    return found, plurals


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


def translate_plural(singular: str, plural: str, count: int) -> str:
    """The form of a plural message for `count`, in the language of the environment (as
    `ngettext`: the English forms when no catalogue has it)."""
    name: str | None = catalog_for(os.environ)
    while name is not None:
        forms = load_plurals(name).get(singular)
        if forms:
            return forms[min(_plural_form(name, count), len(forms) - 1)]
        name = FALLBACK.get(name)
    return singular if count == 1 else plural


def _plural_form(name: str, count: int) -> int:
    """The plural form of the catalogue's header (French: 0 and 1 singular, a round number
    of millions its own form; English: 1 singular)."""
    if name == ENGLISH:
        return 0 if count == 1 else 1
    if count in (0, 1):
        return 0
    return 1 if count % 1_000_000 == 0 else 2


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
