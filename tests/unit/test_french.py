"""French as a French reader expects it: every message id of the source has its French
translation, and every French message follows French typography."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract
from babel.messages.pofile import read_po
from jinja2 import Environment

SRC = Path(__file__).parents[2] / "src" / "passerelle"
CATALOGUE = SRC / "web" / "locale" / "fr" / "LC_MESSAGES" / "messages.po"
QUEBEC = SRC / "web" / "locale" / "fr_CA" / "LC_MESSAGES" / "messages.po"
NBSP = "\u00a0"

# What raises a message a person can read, besides gettext itself.
KEYWORDS: dict[str, tuple[int, ...] | None] = {
    name: None
    for name in (
        "_",
        "gettext",
        "say",
        "InvalidInput",
        "Conflict",
        "PermissionDenied",
        "NotFound",
        "RateLimited",
        "ExternalServiceError",
        "AuthenticationFailed",
        "Refused",
        "BadLine",
        "Message",
        "PartnerError",
        "PasserelleError",
    )
}
KEYWORDS["BadLine"] = (2,)  # BadLine(line, message)
KEYWORDS |= {"translate_plural": (1, 2), "ngettext": (1, 2)}
# Errors that never reach a person: a lost job lease (the runner's log), an index that is
# stale or unusable (rebuilt from the database), preserved content that does not decrypt
# (an internal error); and errors whose first argument is not a message id.
NEVER_SHOWN_ERRORS = {"LeaseLost", "StaleIndex", "UnusableIndex", "ContentDamaged"}
NOT_A_MESSAGE_FIRST = {"AccountLocked", "DecisionErrors"}


def _error_classes(root: Path) -> set[str]:
    """The names of every error class of the source that descends from PasserelleError (read
    from the source, as Babel reads it): each one's message is a message id."""
    bases: dict[str, set[str]] = {}
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                names = {
                    b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases
                }
                bases.setdefault(node.name, set()).update(names)
    found = {"PasserelleError"}
    while grown := {name for name, of in bases.items() if of & found} - found:
        found |= grown
    return found


for _error in _error_classes(SRC) - NEVER_SHOWN_ERRORS - NOT_A_MESSAGE_FIRST:
    KEYWORDS.setdefault(_error, None)
# The job runner and the migrations speak to logs only; the command line and the Spark job's
# refusals speak the operator's language (passerelle.language), from the same catalogue.
ENGLISH_ONLY = ("jobs", "migrations")
# Programming errors that never reach a person, and pieces of messages built in two parts.
NOT_SHOWN = {
    "audit times must be timezone-aware",
    "as many keys as hashes are needed",
    "the content key must be 32 bytes",
    "; ",
}
# Modules whose messages reach people (the fetcher's and the mail server's reasons shown on
# cases and referrals, the refusals of the console's forms and filters): each message is a
# message id, its values passed apart, never a text built at run time (Babel cannot see an
# f-string, so it would escape the catalogue).
MESSAGE_IDS_ONLY = ("fetch", "mail", "core/case.py", "core/work.py", "core/identity.py")
MESSAGE_IDS_ONLY += ("core/taxonomy.py", "services/admin.py", "db/repos.py")
MESSAGE_IDS_ONLY += ("db/referral_repo.py", "db/exchange_repo.py")
# What jobs record for people to read (a partner's sync log, a failed sending, a re-check).
MESSAGE_IDS_ONLY += ("exchange", "core/recheck.py", "services/sync.py", "core/signals")
# The refusals of bank files, feeds, videos and the API (import reports, error bodies).
MESSAGE_IDS_ONLY += ("core/video.py", "core/exchange.py", "core/bank.py", "core/search.py")
MESSAGE_IDS_ONLY += ("services/exchange.py", "services/lookup.py", "services/review.py")
MESSAGE_IDS_ONLY += ("storage", "web/routes", "db/bank_repo.py", "core/audit.py")
MESSAGE_IDS_ONLY += ("cli", "spark")  # what the command line says to the operator
MESSAGE_IDS_ONLY += ("intake/httpbody.py", "intake/archive.py")  # why a body is refused
MESSAGE_IDS_ONLY += ("core/address.py",)  # why an address is not on the public web
# Words that are the same in both languages.
SAME = {"Action", "Code", "Contact", "Source", "Score", "score", "Distance", "Provenance"}
SAME |= {"Verdict", "Protection", "TLP", "—"}


def catalogue(path: Path = CATALOGUE) -> dict[str, str | tuple[str, ...]]:
    with path.open("rb") as handle:
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
    assert {"Replayed", "TooLarge", "WrongSecret", "translate_plural"} <= set(KEYWORDS)
    missing = sorted(
        f"{where}: {message!r}"
        for message, where in messages.items()
        if message not in NOT_SHOWN | SAME and not french.get(message)
    )
    assert missing == []


def test_messages_people_read_are_message_ids_with_their_values_apart() -> None:
    built = []
    for entry in MESSAGE_IDS_ONLY:
        target = SRC / entry
        for path in [target] if target.is_file() else sorted(target.rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not (isinstance(node, ast.Call) and node.args):
                    continue
                func = node.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
                position = (KEYWORDS.get(name) or (1,))[0] - 1
                if name not in KEYWORDS or len(node.args) <= position:
                    continue
                if not _is_message_id(node.args[position]):
                    built.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert built == []


# Names that hold an error or a message id received from elsewhere and passed on.
PASSED_ON = {"exc", "problem"}


def _is_message_id(node: ast.expr) -> bool:
    """A literal, a module's constant holding message ids (`SOFT_REMOVAL`,
    `SAME_SIGNAL[kind]`: their translations are checked by their module's tests), or the
    message id of another message passed on (`message.template`)."""
    if isinstance(node, ast.Subscript):
        node = node.value
    if isinstance(node, ast.Attribute) and node.attr == "template":
        return True  # a message id passed on, with its values
    if isinstance(node, ast.IfExp):
        return _is_message_id(node.body) and _is_message_id(node.orelse)
    if isinstance(node, ast.Call):  # an error made here, itself checked
        func = node.func
        return (func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")) in KEYWORDS
    if isinstance(node, ast.Name) and node.id in PASSED_ON:
        return True
    return isinstance(node, ast.Constant) or (isinstance(node, ast.Name) and node.id.isupper())


def _strings(value: str | tuple[str, ...]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else value


@pytest.mark.parametrize("path", [CATALOGUE, QUEBEC], ids=["fr", "fr_CA"])
def test_french_messages_have_non_breaking_spaces_before_double_punctuation(path: Path) -> None:
    wrong = []
    for key, value in catalogue(path).items():
        for text in _strings(value):
            # A plain or a narrow space, or none at all, before : ; ? ! that end a word.
            if re.search(r"[ \u202f][:;?!]", text) or re.search(r"[^\s\d/:][;?!](\s|$)", text):
                wrong.append((key, text))
            if re.search(r"[^\s\u00a0\d)/]:(\s|$)", text):
                wrong.append((key, text))
            if re.search(r"«[^\u00a0]|[^\u00a0]»", text):
                wrong.append((key, text))
    assert wrong == []


@pytest.mark.parametrize("path", [CATALOGUE, QUEBEC], ids=["fr", "fr_CA"])
def test_french_messages_use_the_typographic_apostrophe_only(path: Path) -> None:
    wrong = [(k, t) for k, v in catalogue(path).items() for t in _strings(v) if "'" in t]
    assert wrong == []


@pytest.mark.parametrize(
    ("path", "agreement", "not_agreement"),
    [(CATALOGUE, "accord", "entente"), (QUEBEC, "entente", "accord")],
    ids=["fr", "fr_CA"],
)
def test_french_messages_keep_one_word_for_each_thing(
    path: Path, agreement: str, not_agreement: str
) -> None:
    """ "Signalement" is the public's report only; an agreement is an "accord" in France and
    an "entente" in Québec, never both in one; no code in backticks on a page."""
    read = _as_read_in(path)
    wrong = []
    for key, value in read.items():
        for text in _strings(value):
            lowered = text.lower()
            public = re.search(r"report|public", key, re.IGNORECASE)
            if "signalement" in lowered and "signalement citoyen" not in lowered and not public:
                wrong.append((key, text))
            if re.search(rf"\b{not_agreement}s?\b", lowered) or "`" in text:
                wrong.append((key, text))
    assert wrong == []
    assert any(re.search(rf"\b{agreement}s?\b", str(v).lower()) for v in read.values())


def _as_read_in(path: Path) -> dict[str, str | tuple[str, ...]]:
    """A catalogue as its readers see it: Québec's own messages over the French ones."""
    if path == CATALOGUE:
        return catalogue()
    return {**catalogue(), **catalogue(path)}


def test_quebec_french_only_overrides_french_messages() -> None:
    """Every message of Québec French is one of the French catalogue (the rest falls back to
    it cleanly), carries the same placeholders, and says something else than France."""
    french, quebec = catalogue(), catalogue(QUEBEC)
    assert quebec
    for key, value in quebec.items():
        assert key in french, key
        for mine, theirs in zip(_strings(value), _strings(french[key]), strict=True):
            assert sorted(re.findall(r"%\(\w+\)s", mine)) == sorted(
                re.findall(r"%\(\w+\)s", theirs)
            )
            assert mine and mine != theirs, key


def test_quebec_reads_courriel_where_france_reads_another_word() -> None:
    french, quebec = catalogue(), _as_read_in(QUEBEC)
    mail = [k for k, v in french.items() if "e-mail" in k.lower() and v]
    assert mail
    for key in mail:
        assert "courriel" not in str(french[key]), key
        assert "courriel" in str(quebec[key]), key


def test_the_art_2_7_categories_have_one_wording() -> None:
    french = catalogue()
    from passerelle.services.refer import CATEGORY_TEXT

    for letter, (words, _) in CATEGORY_TEXT.items():
        assert french[f"category_{letter}"] == words
        labels = [v for k, v in french.items() if k.startswith(f"({letter}) ")]
        assert labels == [f"({letter}) {words}"]


def test_constant_messages_of_bank_files_are_translated() -> None:
    """Message ids kept in constants (Babel cannot see them): why a pytx signal type is not
    imported, what an HTTP error says, a partner's bank."""
    from passerelle.core.bank import PARTNER_NOTE
    from passerelle.core.exchange import FROM_THE_FUTURE, STALE_MINUTES, STALE_SECONDS
    from passerelle.core.message import THOUSANDS_SEPARATOR
    from passerelle.exchange.bankfile import PYTX_REFUSED
    from passerelle.web.errors import _HTTP_TEXT
    from passerelle.web.history import PARTNER_BANK
    from passerelle.web.limits import BODY_TOO_LARGE

    french = catalogue()
    messages = [*PYTX_REFUSED.values(), *_HTTP_TEXT.values(), PARTNER_BANK, BODY_TOO_LARGE]
    messages += [STALE_MINUTES, STALE_SECONDS, FROM_THE_FUTURE, PARTNER_NOTE, THOUSANDS_SEPARATOR]
    assert [m for m in messages if not french.get(m)] == []
