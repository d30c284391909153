"""A recorded message: its id and values stored, put into words in the reader's language."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from passerelle import language
from passerelle.core.errors import ExternalServiceError, InvalidInput
from passerelle.core.message import Message, dump_message, grouped, load_message, message_of
from passerelle.core.recheck import SAME_SIGNAL, SOFT_REMOVAL, SOFT_REMOVAL_MOVED
from passerelle.web.i18n import load_catalog

FRENCH = load_catalog("fr").gettext


def test_an_error_with_a_nested_error_is_said_in_french() -> None:
    inner = InvalidInput("allow-list entry %(entry)s is not an IP network", entry="'x'")
    outer = ExternalServiceError(
        "the address of %(partner)s is refused: %(error)s", partner="b", error=inner
    )
    said = message_of(outer)
    assert (
        said.english() == "the address of b is refused: allow-list entry 'x' is not an IP network"
    )
    french = said.render(FRENCH)
    assert french.startswith("l’adresse de b est refusée\u00a0: ")
    assert "IP network" not in french


def test_a_stored_message_comes_back_the_same() -> None:
    said = Message(
        "%(error)s; next try in %(minutes)s min",
        {
            "error": Message(
                "%(partner)s unreachable: %(error)s", {"partner": "b", "error": "ConnectError"}
            ),
            "minutes": 2,
        },
    )
    again = load_message(dump_message(said), "ignored")
    assert again == said
    assert again is not None and again.render(FRENCH) == (
        "b injoignable\u00a0: ConnectError\u00a0; nouvel essai dans 2\u00a0min"
    )


def test_an_english_sentence_recorded_before_message_ids_is_kept_and_marked() -> None:
    old = load_message(None, "partner unreachable: ReadTimeout")
    assert old == Message("partner unreachable: ReadTimeout", before_translation=True)
    assert old.render(FRENCH) == "partner unreachable: ReadTimeout"
    assert load_message(None, None) is None
    assert load_message("not json", "as recorded") == Message(
        "as recorded", before_translation=True
    )


def test_any_other_error_says_it_was_unexpected_in_the_readers_language() -> None:
    assert message_of(OSError("disk full")).render(FRENCH) == "erreur inattendue\u00a0: disk full"


def test_a_translation_that_does_not_fit_its_values_falls_back_to_english() -> None:
    broken = Message("HTTP %(status)s", {"code": 1})
    assert broken.render(lambda text: "HTTP %(other)s") == "HTTP %(status)s"


def test_what_a_recheck_says_is_translated_to_french() -> None:
    for template in [*SAME_SIGNAL.values(), SOFT_REMOVAL, SOFT_REMOVAL_MOVED]:
        assert FRENCH(template) != template, template


@given(st.dictionaries(st.text(min_size=1), st.one_of(st.integers(), st.text(), st.booleans())))
def test_values_survive_storage(values: dict[str, int | str | bool]) -> None:
    said = Message("x", values)
    assert load_message(dump_message(said), None) == said


def test_a_number_is_grouped_as_its_reader_writes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    said = Message("record too large: %(size)s bytes", {"size": grouped(1_174_405_193)})
    assert said.english() == "record too large: 1,174,405,193 bytes"
    french = "enregistrement trop volumineux\u00a0: 1\u202f174\u202f405\u202f193 octets"
    assert said.render(FRENCH) == french
    assert load_message(dump_message(said), None) == said
    # The command line reads the same catalogue.
    monkeypatch.setenv("LANGUAGE", "fr")
    assert language.said(said) == french
    monkeypatch.setenv("LANGUAGE", "en")
    assert language.said(said) == "record too large: 1,174,405,193 bytes"
    # Small numbers and errors that carry one read the same way.
    assert Message("%(n)s", {"n": grouped(999)}).render(FRENCH) == "999"
    error = InvalidInput("record too large: %(size)s bytes", size=grouped(-12_345))
    assert str(error) == "record too large: -12,345 bytes"
    assert message_of(error).render(FRENCH).endswith("-12\u202f345 octets")
