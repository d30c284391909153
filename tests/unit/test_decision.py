"""Parsing a decision: every problem named at once, by field; nothing contradictory passes."""

from __future__ import annotations

import pytest

from passerelle.core.decision import (
    DecisionErrors,
    Reason,
    Verdict,
    parse_decision,
)
from passerelle.core.identity import Jurisdiction, Locale
from passerelle.core.taxonomy import Category
from passerelle.web.i18n import load_catalog

GOOD = {
    "verdict": "terrorist",
    "category": "a",
    "reason": "",
    "exemption_checked": True,
    "rationale": "Appel explicite à commettre des attentats, sans mise en contexte.",
    "legal_basis": "fr_code_penal_421_2_5",
    "add_to_bank": "",
    "jurisdiction": Jurisdiction.FRANCE,
}


def test_a_terrorist_verdict() -> None:
    decision = parse_decision(**GOOD)  # type: ignore[arg-type]
    assert decision.verdict is Verdict.TERRORIST and decision.category is Category.INCITES
    assert decision.legal_basis == "fr_code_penal_421_2_5" and decision.reason is None


def test_journalism_is_not_terrorist_content() -> None:
    decision = parse_decision(
        **(
            GOOD
            | {
                "verdict": "not_terrorist",
                "category": "",
                "reason": "journalism",
                "legal_basis": "",
            }
        )
    )  # type: ignore[arg-type]
    assert decision.verdict is Verdict.NOT_TERRORIST and decision.reason is Reason.JOURNALISM
    assert decision.legal_basis is None


def test_every_problem_is_named_at_once() -> None:
    with pytest.raises(DecisionErrors) as caught:
        parse_decision(
            **(
                GOOD
                | {
                    "category": "",
                    "exemption_checked": False,
                    "rationale": "court",
                    "legal_basis": "",
                }
            )
        )  # type: ignore[arg-type]
    assert set(caught.value.problems) == {
        "category",
        "exemption_checked",
        "rationale",
        "legal_basis",
    }


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"verdict": "peut-être"}, "verdict"),
        ({"reason": "journalism"}, "reason"),
        ({"verdict": "not_terrorist", "reason": ""}, "reason"),
        ({"legal_basis": "ca_criminal_code_83_221"}, "legal_basis"),  # not a French basis
        ({"rationale": "x" * 5001}, "rationale"),
    ],
)
def test_contradictions_and_gaps_are_refused(changes: dict[str, object], field: str) -> None:
    with pytest.raises(DecisionErrors) as caught:
        parse_decision(**(GOOD | changes))  # type: ignore[arg-type]
    assert field in caught.value.problems


def test_quebec_has_its_own_legal_basis() -> None:
    decision = parse_decision(
        **(GOOD | {"jurisdiction": Jurisdiction.QUEBEC, "legal_basis": "ca_criminal_code_83_221"})
    )  # type: ignore[arg-type]
    assert decision.legal_basis == "ca_criminal_code_83_221"


def test_every_problem_message_has_a_french_translation() -> None:
    french = load_catalog(Locale.FR)
    messages: set[str] = set()
    for changes in (
        {"verdict": "?"},
        {"category": "", "reason": "art", "legal_basis": ""},
        {"verdict": "not_terrorist", "reason": "", "category": "a"},
        {"exemption_checked": False, "rationale": ""},
        {"rationale": "x" * 5001},
    ):
        with pytest.raises(DecisionErrors) as caught:
            parse_decision(**(GOOD | changes))  # type: ignore[arg-type]
        messages.update(caught.value.problems.values())
    assert len(messages) >= 8
    assert [m for m in messages if french.gettext(m) == m] == []
