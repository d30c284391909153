"""The words of a text as indexed: case and accents folded the same way on every path."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from passerelle.core.search import _WORD, words_of


def _folded_one_character_at_a_time(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKD", text.casefold())
    return _WORD.findall("".join(ch for ch in folded if not unicodedata.combining(ch)))


def test_accents_and_case_are_folded() -> None:
    assert words_of("Église ÉCOLE naïve Straße ﬁn l’été a") == [
        "eglise",
        "ecole",
        "naive",
        "strasse",
        "fin",
        "ete",
    ]


@given(st.text())
def test_the_words_are_those_of_folding_each_character(text: str) -> None:
    assert words_of(text) == _folded_one_character_at_a_time(text)


@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_the_words_of_a_plain_ascii_text_are_those_of_folding_each_character(text: str) -> None:
    assert words_of(text) == _folded_one_character_at_a_time(text)
