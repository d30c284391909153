"""Every audit action the services record reads as a sentence, and every detail they record
has a label, in French: the audit log page shows no code and no JSON."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from babel.messages.pofile import read_po

from passerelle.web import history

SRC = Path(__file__).parents[2] / "src" / "passerelle"
CATALOGUE = SRC / "web" / "locale" / "fr" / "LC_MESSAGES" / "messages.po"
DOTTED = re.compile(r"^[a-z][a-z_]*\.[a-z][a-z_]*$")


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else ""


def _audit_calls() -> list[ast.Call]:
    """Calls that write an audit event: `AuditEntry(…)` and the services' `_audit…(…)`."""
    calls = []
    for path in SRC.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and (
                _name(node.func) == "AuditEntry" or _name(node.func).startswith("_audit")
            ):
                calls.append(node)
    return calls


def action_codes() -> set[str]:
    """The actions written straight into an audit call, then every `noun.verb` constant of the
    source whose noun is one of theirs (actions chosen first and passed on)."""
    direct = {
        arg.value
        for call in _audit_calls()
        for arg in [*call.args, *(k.value for k in call.keywords)]
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and DOTTED.match(arg.value)
    }
    nouns = {code.split(".")[0] for code in direct}
    passed_on = set()
    for path in SRC.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            is_text = isinstance(node, ast.Constant) and isinstance(node.value, str)
            if is_text and DOTTED.match(node.value) and node.value.split(".")[0] in nouns:
                passed_on.add(node.value)
    return direct | passed_on


def detail_keys() -> set[str]:
    return {
        key.value
        for call in _audit_calls()
        for node in ast.walk(call)
        if isinstance(node, ast.Dict)
        for key in node.keys
        if isinstance(key, ast.Constant) and isinstance(key.value, str)
    }


def french() -> dict[str, str]:
    with CATALOGUE.open("rb") as handle:
        return {m.id: m.string for m in read_po(handle) if isinstance(m.id, str) and m.id}


def test_every_action_of_the_services_has_its_sentence() -> None:
    codes = action_codes()
    assert {"case.opened", "referral.sent", "user.unlocked", "secret.rotated"} <= codes
    assert len(codes) > 50
    assert sorted(codes - set(history.SENTENCES)) == []


def test_every_detail_the_services_record_has_its_label() -> None:
    keys = detail_keys()
    assert {"verdict", "reason", "roles"} <= keys
    assert sorted(keys - set(history.FIELDS)) == []


def test_the_words_of_the_audit_log_are_in_french_with_the_same_placeholders() -> None:
    catalogue = french()
    words = [
        *history.SENTENCES.values(),
        *history.ACTORS.values(),
        *history.OBJECTS.values(),
        *history.FIELDS.values(),
        *history.VALUES.values(),
        history.UNKNOWN,
        history.YES,
        history.NO,
        history.PAIR,
    ]
    missing = sorted({w for w in words if not catalogue.get(w)})
    assert missing == []
    for sentence in history.SENTENCES.values():
        placeholders = sorted(re.findall(r"%\(\w+\)s", sentence))
        assert sorted(re.findall(r"%\(\w+\)s", catalogue[sentence])) == placeholders


def test_details_read_as_words() -> None:
    translate = french().get

    def gettext(message: str) -> str:
        return translate(message) or message

    shown = history.fields(
        {"exemption_checked": True, "roles": ["analyst", "approver"], "by_type": {"pdq": 3}},
        gettext,
    )
    assert shown == [
        ("Exemption vérifiée", "oui"),
        ("Rôles", "analyste, approbateur"),
        ("Par type", "pdq\u00a0: 3"),
    ]
