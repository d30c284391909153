"""French as a French reader expects it: every message id of the source has its French
translation, and every French message follows French typography."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract
from babel.messages.pofile import read_po
from jinja2 import Environment

SRC = Path(__file__).parents[2] / "src" / "passerelle"
CATALOGUE = SRC / "web" / "locale" / "fr" / "LC_MESSAGES" / "messages.po"
NBSP = "\u00a0"

# What raises a message a person can read, besides gettext itself.
KEYWORDS = {
    name: None
    for name in (
        "_",
        "gettext",
        "InvalidInput",
        "Conflict",
        "PermissionDenied",
        "NotFound",
        "RateLimited",
        "ExternalServiceError",
        "AuthenticationFailed",
        "Refused",
        "BadLine",
    )
}
# The command line speaks English to operators; its messages are not the console's.
ENGLISH_ONLY = ("cli", "spark", "jobs", "migrations")
# Programming errors that never reach a person, and pieces of messages built in two parts.
NOT_SHOWN = {
    "audit times must be timezone-aware",
    "as many keys as hashes are needed",
    "the content key must be 32 bytes",
    " (use sqlite or postgresql)",
    "; ",
    " the partner must upgrade Passerelle",
    " network (PASSERELLE_PARTNER_ALLOW)",
    " your positive banks, content found not terrorist to one of your negative banks",
}
# Words that are the same in both languages.
SAME = {"Action", "Code", "Contact", "Source", "Score", "score", "Distance", "Provenance"}
SAME |= {"Verdict", "Protection", "TLP"}


def catalogue() -> dict[str, str | tuple[str, ...]]:
    with CATALOGUE.open("rb") as handle:
        read = read_po(handle)
    found: dict[str, str | tuple[str, ...]] = {}
    for message in read:
        if message.id:
            key = message.id if isinstance(message.id, str) else message.id[0]
            found[key] = (
                message.string if isinstance(message.string, str) else tuple(message.string)
            )
            if not isinstance(message.id, str):  # the plural id has the same translations
                found[message.id[1]] = found[key]
    return found


def source_messages() -> dict[str, str]:
    """Every message id of the source, with where it is: Babel's extractor over the Python
    modules (gettext and the errors a person reads) and the templates."""
    found: dict[str, str] = {}
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC)
        if set(relative.parts) & set(ENGLISH_ONLY):
            continue
        with path.open("rb") as handle:
            for line, message, _, _ in extract("python", handle, keywords=KEYWORDS):
                text = message[0] if isinstance(message, tuple) else message
                if text:
                    found.setdefault(text, f"{relative}:{line}")
    env = Environment(extensions=["jinja2.ext.i18n"], autoescape=True)
    for path in sorted((SRC / "web" / "templates").rglob("*.html")):
        source = path.read_text(encoding="utf-8")
        for line, _, message in env.extract_translations(source):
            for text in message if isinstance(message, tuple) else (message,):
                if isinstance(text, str) and text:
                    found.setdefault(text, f"{path.relative_to(SRC)}:{line}")
    return found


def test_every_message_id_of_the_source_has_a_french_translation() -> None:
    french = catalogue()
    messages = source_messages()
    assert len(messages) > 400  # the extractor sees the templates and the services
    missing = sorted(
        f"{where}: {message!r}"
        for message, where in messages.items()
        if message not in NOT_SHOWN | SAME and not french.get(message)
    )
    assert missing == []


def _strings(value: str | tuple[str, ...]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else value


def test_french_messages_have_non_breaking_spaces_before_double_punctuation() -> None:
    wrong = []
    for key, value in catalogue().items():
        for text in _strings(value):
            # A plain or a narrow space, or none at all, before : ; ? ! that end a word.
            if re.search(r"[ \u202f][:;?!]", text) or re.search(r"[^\s\d/:][;?!](\s|$)", text):
                wrong.append((key, text))
            if re.search(r"[^\s\u00a0\d)/]:(\s|$)", text):
                wrong.append((key, text))
            if re.search(r"«[^\u00a0]|[^\u00a0]»", text):
                wrong.append((key, text))
    assert wrong == []


def test_french_messages_use_the_typographic_apostrophe_only() -> None:
    wrong = [(k, t) for k, v in catalogue().items() for t in _strings(v) if "'" in t]
    assert wrong == []


def test_french_messages_keep_one_word_for_each_thing() -> None:
    """ "Signalement" is the public's report only; an agreement is an "entente"; no code in
    backticks on a page."""
    wrong = []
    for key, value in catalogue().items():
        for text in _strings(value):
            lowered = text.lower()
            public = re.search(r"report|public", key, re.IGNORECASE)
            if "signalement" in lowered and "signalement citoyen" not in lowered and not public:
                wrong.append((key, text))
            if re.search(r"\baccords?\b", lowered) or "`" in text:
                wrong.append((key, text))
    assert wrong == []


def test_the_art_2_7_categories_have_one_wording() -> None:
    french = catalogue()
    from passerelle.services.refer import CATEGORY_TEXT

    for letter, (words, _) in CATEGORY_TEXT.items():
        assert french[f"category_{letter}"] == words
        labels = [v for k, v in french.items() if k.startswith(f"({letter}) ")]
        assert labels == [f"({letter}) {words}"]
