"""Decisions: what a human concluded about a case, and on what basis.

Either terrorist content, with its category of Art. 2(7) of Regulation (EU) 2021/784, or not
terrorist content, with the reason. The exemption check of Art. 1(3) (journalism, research,
education, art, counter-speech) is recorded either way, and a rationale is always required."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from passerelle.core.errors import InvalidInput
from passerelle.core.identity import Jurisdiction
from passerelle.core.taxonomy import Category

MIN_RATIONALE = 20
MAX_RATIONALE = 5000


class Verdict(enum.StrEnum):
    TERRORIST = "terrorist"
    NOT_TERRORIST = "not_terrorist"


class Reason(enum.StrEnum):
    """Why content is not terrorist content; the first five are the exemptions of Art. 1(3)."""

    JOURNALISM = "journalism"
    RESEARCH = "research"
    EDUCATION = "education"
    ART = "art"
    COUNTER_SPEECH = "counter_speech"
    OTHER = "other"


LEGAL_BASES: dict[Jurisdiction, tuple[str, ...]] = {
    Jurisdiction.FRANCE: ("fr_code_penal_421_2_5", "fr_lcen_6_1"),
    Jurisdiction.QUEBEC: ("ca_criminal_code_83_221",),
}


@dataclass(frozen=True, slots=True)
class DecisionInput:
    """A decision as submitted: every field parsed and checked together by `parse_decision`."""

    verdict: Verdict
    category: Category | None
    reason: Reason | None
    exemption_checked: bool
    rationale: str
    legal_basis: str | None
    add_to_bank: str | None


@dataclass(frozen=True, slots=True)
class Decision:
    id: str
    case_id: str
    decided_by: str
    verdict: Verdict
    category: Category | None
    reason: Reason | None
    exemption_checked: bool
    rationale: str
    legal_basis: str | None
    bank: str | None
    decided_at: datetime


class DecisionErrors(InvalidInput):
    """Every problem of a submitted decision at once, by field, for the form to show."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))
        self.problems = problems


def parse_decision(
    *,
    verdict: str,
    category: str,
    reason: str,
    exemption_checked: bool,
    rationale: str,
    legal_basis: str,
    add_to_bank: str,
    jurisdiction: Jurisdiction,
) -> DecisionInput:
    problems: dict[str, str] = {}
    chosen_verdict: Verdict | None = None
    chosen_category: Category | None = None
    chosen_reason: Reason | None = None
    try:
        chosen_verdict = Verdict(verdict)
    except ValueError:
        problems["verdict"] = "choose terrorist content or not terrorist content"
    if chosen_verdict is Verdict.TERRORIST:
        try:
            chosen_category = Category(category)
        except ValueError:
            problems["category"] = "choose the category of Art. 2(7), (a) to (e)"
        if reason:
            problems["reason"] = "a reason for not being terrorist content contradicts the verdict"
        basis = legal_basis or ""
        if basis not in LEGAL_BASES[jurisdiction]:
            problems["legal_basis"] = "choose the legal basis of your jurisdiction"
    if chosen_verdict is Verdict.NOT_TERRORIST:
        try:
            chosen_reason = Reason(reason)
        except ValueError:
            problems["reason"] = "choose why it is not terrorist content"
        if category:
            problems["category"] = "a category of Art. 2(7) contradicts the verdict"
    if not exemption_checked:
        problems["exemption_checked"] = (
            "confirm that the exemptions of Art. 1(3) were checked (journalism, research,"
            " education, art, counter-speech)"
        )
    text = rationale.strip()
    if len(text) < MIN_RATIONALE:
        problems["rationale"] = f"write the rationale (at least {MIN_RATIONALE} characters)"
    elif len(text) > MAX_RATIONALE:
        problems["rationale"] = f"the rationale is limited to {MAX_RATIONALE} characters"
    if problems or chosen_verdict is None:
        raise DecisionErrors(problems)
    return DecisionInput(
        verdict=chosen_verdict,
        category=chosen_category,
        reason=chosen_reason,
        exemption_checked=True,
        rationale=text,
        legal_basis=legal_basis if chosen_verdict is Verdict.TERRORIST else None,
        add_to_bank=add_to_bank.strip() or None,
    )


@dataclass(frozen=True, slots=True)
class Recommendation:
    """An independent controller's recommendation to lift a measure (DESIGN §3)."""

    id: str
    case_id: str
    controller: str
    text: str
    created_at: datetime
