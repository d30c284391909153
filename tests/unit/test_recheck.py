"""The re-check verdict: gone, still there, softly removed, or unknown."""

from __future__ import annotations

import pytest

from passerelle.core.recheck import Observation, verdict
from passerelle.core.signals.text import TEXT

ARTICLE = (
    "Le conseil municipal a voté hier soir le budget de l'année prochaine, avec une hausse"
    " des dépenses consacrées aux écoles, aux bibliothèques et aux parcs de quartier."
)
URL = "https://exemple.test/page"


def text_of(value: str) -> str:
    signal = TEXT.compute(value)
    assert signal is not None
    return signal.value


PAGE = {"sha256": "a" * 64, "text": text_of(ARTICLE)}


@pytest.mark.parametrize(
    ("seen", "expected"),
    [
        (None, None),
        (Observation(503, URL, {}), None),
        (Observation(410, URL, {}), (False, "HTTP 410")),
        (Observation(451, URL, {}), (False, "HTTP 451")),
        (Observation(403, URL, {}), (True, "HTTP 403")),  # blocked for us, not removed
        (Observation(200, URL, {"sha256": "a" * 64}), (True, "HTTP 200, the same content")),
    ],
)
def test_status_rules(seen: Observation | None, expected: tuple[bool, str] | None) -> None:
    found = verdict(URL, PAGE, seen)
    assert (found and (found[0], found[1].english())) == expected


def test_an_edited_page_is_still_the_content() -> None:
    edited = {"sha256": "b" * 64, "text": text_of(ARTICLE + " Mis à jour à 18 h.")}
    found = verdict(URL, PAGE, Observation(200, URL, edited))
    assert found is not None
    assert found[0] is True and found[1].english().startswith("HTTP 200, the same text")


def test_another_page_at_the_address_is_a_soft_removal() -> None:
    other = {"sha256": "c" * 64, "text": text_of("Cette page n'existe plus. " * 8)}
    found = verdict(URL, PAGE, Observation(200, "https://exemple.test/", other))
    assert found and (found[0], found[1].english()) == (
        False,
        "HTTP 200, the content is no longer there (soft removal, redirected to"
        " https://exemple.test/)",
    )


def test_a_page_without_text_is_a_soft_removal() -> None:
    assert verdict(URL, PAGE, Observation(200, URL, {"sha256": "d" * 64}))[0] is False  # type: ignore[index]


def test_an_address_without_fingerprint_is_judged_by_its_status() -> None:
    reported = {"url": "f" * 64}  # a public report: no content was ever fetched
    found = verdict(URL, reported, Observation(200, URL, {"sha256": "e" * 64}))
    assert found and (found[0], found[1].english()) == (
        True,
        "HTTP 200",
    )
