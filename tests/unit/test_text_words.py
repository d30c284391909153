"""The words of a text fingerprint: the fast split (`normalised_words`) gives exactly the words
of the definition (`normalise_text`: NFKD, case folding, combining marks removed, `\\w+`), for
every Unicode character and any text."""

from __future__ import annotations

import sys
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from passerelle.core.signals.text import _MAX_REPLACED, normalise_text, normalised_words

EVERY_CHARACTER = [chr(code) for code in range(sys.maxunicode + 1)]
GROUP = 24  # NFKD makes up to 18 characters of one


def reference(text: str) -> list[bytes]:
    return [word.encode() for word in normalise_text(text)]


def test_every_character_splits_as_the_definition_says() -> None:
    # In groups small enough for the fast way (a text with more distinct characters past
    # ASCII is split by the definition itself): each character alone between two letters
    # (does it join them, part them, or vanish?), then the group in a row (what NFKD and case
    # folding make of neighbours).
    for start in range(0, len(EVERY_CHARACTER), GROUP):
        group = EVERY_CHARACTER[start : start + GROUP]
        for words in (" ".join(f"a{char}b" for char in group), "".join(group)):
            # In enough ASCII words for the text to be mostly ASCII, as a French page is.
            folded_words = unicodedata.normalize("NFKD", words.casefold())
            past = len(folded_words.encode("utf-8", "surrogatepass")) - len(folded_words)
            text = words + " " + "m" * (4 * past + 4)
            folded = unicodedata.normalize("NFKD", text.casefold())
            assert len({char for char in folded if char >= "\x80"}) <= _MAX_REPLACED
            extra = len(folded.encode("utf-8", "surrogatepass")) - len(folded)
            assert extra <= len(folded) // 4  # the fast way is taken
            assert normalised_words(text) == reference(text), (start, words)


def test_texts_the_fast_way_leaves_to_the_definition_split_as_it_says() -> None:
    # These go to the definition itself (the fast way would cost more): a Latin text with
    # more distinct characters past ASCII than it sorts, and texts mostly past ASCII. What
    # is checked is that the way back gives the same words, in UTF-8.
    many = "".join(f"mot{char} " for char in EVERY_CHARACTER[0x100 : 0x100 + 2 * _MAX_REPLACED])
    assert len(set(many) - set(EVERY_CHARACTER[:128])) > _MAX_REPLACED
    for text in (
        many,
        "Вооружённые силы — это « армия » страны, 2024 г.",
        "巴黎和魁北克合作打击网络激进化。",
        "تعاون فرنسا و كيبيك ضد التطرف",
    ):
        assert normalised_words(text) == reference(text)


def test_french_text_splits_as_the_definition_says() -> None:
    text = (
        "L’État a « réaffirmé » — le 3 décembre — que l'œuvre d’Éloïse était ÇA :"
        " naïveté, cœur, Straße\u00a0; ﬁn\u202f! x_y e\u0301te\u0301"
    )
    assert normalised_words(text) == reference(text)
    assert normalised_words(text)[:2] == [b"l", b"etat"] and b"x_y" in normalised_words(text)


@given(st.text(alphabet=st.characters(codec=None), max_size=200))
def test_any_text_splits_as_the_definition_says(text: str) -> None:
    assert normalised_words(text) == reference(text)


@given(
    st.lists(
        st.sampled_from(
            ["e", "E", "\u0301", "\u0327", "’", " ", "_", "ß", "İ", "ﬁ", "½", "٣", "\u00a0", "-"]
        ),
        max_size=60,
    )
)
def test_accents_and_punctuation_mixed_split_as_the_definition_says(parts: list[str]) -> None:
    text = "".join(parts)
    assert normalised_words(text) == reference(text)
