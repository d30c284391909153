"""STIX patterns read with the STIX 2.1 pattern grammar (`stix2-patterns`): the comparisons
of file hashes and URLs that Passerelle can match, whatever their case, spacing, `AND`/`OR`
nesting or `IN` lists."""

from __future__ import annotations

import re

from stix2patterns.pattern import Pattern

from passerelle.core.errors import InvalidInput

# Hash names (upper-cased, without separators) and what they are to Passerelle.
HASH_KEYS = {
    "SHA256": "sha256",
    "MD5": "md5",
    "PDQ": "pdq",
    "XPDQ": "pdq",
    "VPDQ": "vpdq",
    "XVPDQ": "vpdq",
}


def _unquote(literal: str) -> str:
    text = literal.strip()
    if len(text) >= 2 and text[0] == text[-1] == "'":
        text = text[1:-1]
    return re.sub(r"\\(.)", r"\1", text)


def _values(operator: str, literal: str) -> list[str]:
    if operator == "IN":
        inner = literal.strip().removeprefix("(").removesuffix(")")
        return [_unquote(part) for part in re.findall(r"'(?:[^'\\]|\\.)*'", inner)]
    return [_unquote(literal)]


def hash_kind(name: str) -> str | None:
    return HASH_KEYS.get(re.sub(r"[^A-Z0-9]", "", name.upper()))


def pattern_signals(pattern: str) -> tuple[list[tuple[str, str]], list[str]]:
    """(signal type, value) of every comparison Passerelle can match, and what it cannot."""
    try:
        inspected = Pattern(pattern).inspect()
    except Exception as exc:  # the grammar raises its own parse errors
        raise InvalidInput("pattern is not valid STIX: %(error)s", error=str(exc)[:120]) from None
    found: list[tuple[str, str]] = []
    ignored: list[str] = []
    for object_type, comparisons in inspected.comparisons.items():
        for path, operator, literal in comparisons:
            steps = [str(step) for step in path]
            kind = None
            if object_type in ("file", "artifact") and len(steps) == 2 and steps[0] == "hashes":
                kind = hash_kind(steps[1])
            elif object_type == "url" and steps == ["value"]:
                kind = "url"
            if kind is None or operator not in ("=", "IN"):
                ignored.append(f"{object_type}:{'.'.join(steps)} {operator}")
                continue
            found += [(kind, value) for value in _values(operator, literal)]
    return found, ignored
