"""The passages that make a text match a fingerprint: what the case page highlights."""

from __future__ import annotations

import itertools

from passerelle.core.signals.text import TEXT, witness_spans

KNOWN = (
    "Le conseil municipal a voté hier soir le budget de l'année prochaine, avec une hausse"
    " des dépenses consacrées aux écoles, aux bibliothèques et aux parcs de quartier."
)
BEFORE = "Une phrase tout à fait différente ouvre ce texte sur la météo de demain matin. "
AFTER = " Pour finir, le club de handball local remporte son troisième match de suite."


def fingerprint(text: str) -> str:
    signal = TEXT.compute(text)
    assert signal is not None
    return signal.value


def test_the_copied_passage_is_highlighted_and_the_new_text_is_not() -> None:
    page = BEFORE + KNOWN + AFTER
    spans = witness_spans(page, fingerprint(KNOWN))
    marked = "".join(page[start:end] for start, end in spans)
    assert spans, "a copy must show where it matches"
    assert all(
        page.index(KNOWN) <= start and end <= page.index(KNOWN) + len(KNOWN) for start, end in spans
    )
    assert "météo" not in marked and "handball" not in marked
    # most of the passage is shown: the witnesses are the shingles holding agreeing minima
    assert sum(end - start for start, end in spans) > len(KNOWN) // 2


def test_spans_point_into_the_original_text_despite_case_and_accents() -> None:
    retyped = KNOWN.upper().replace("É", "E").replace("È", "E")
    spans = witness_spans(retyped, fingerprint(KNOWN))
    assert spans
    for start, end in spans:
        assert retyped[start].isalnum() and retyped[end - 1].isalnum()


def test_spans_are_ordered_and_do_not_overlap() -> None:
    page = KNOWN + " " + BEFORE + KNOWN
    spans = witness_spans(page, fingerprint(KNOWN))
    assert spans == sorted(spans)
    assert all(left[1] < right[0] for left, right in itertools.pairwise(spans))


def test_an_unrelated_fingerprint_highlights_nothing() -> None:
    assert witness_spans(BEFORE + AFTER, fingerprint(KNOWN)) == []


def test_a_text_too_short_to_fingerprint_highlights_nothing() -> None:
    assert witness_spans("trois petits mots", fingerprint(KNOWN)) == []
