"""The transparency report on a small dataset whose right answer is computed by hand."""

from __future__ import annotations

from datetime import date

from passerelle.core.decision import Reason, Verdict
from passerelle.core.report import CaseFact, DecisionFact, ReferralFact, compute_report

JANUARY = {"start": date(2026, 1, 1), "end": date(2026, 1, 31)}


def test_figures_computed_by_hand() -> None:
    cases = [
        CaseFact("c1", "scan", "crisis"),
        CaseFact("c2", "scan", "crisis"),
        CaseFact("c3", "scan", "promotional"),
        CaseFact("c4", "public", None),
        CaseFact("c5", "public", None),
    ]
    decisions = [
        DecisionFact("c1", Verdict.TERRORIST, "a", None),
        DecisionFact("c2", Verdict.TERRORIST, "e", None),
        DecisionFact("c3", Verdict.NOT_TERRORIST, None, Reason.OTHER),
        DecisionFact("c4", Verdict.NOT_TERRORIST, None, Reason.COUNTER_SPEECH),
        # c2 reviewed again after a complaint: the last decision counts
        DecisionFact("c2", Verdict.NOT_TERRORIST, None, Reason.JOURNALISM),
    ]
    referrals = [
        ReferralFact("c1", "tco_removal_order", True, 2.0),
        ReferralFact("c1", "referral", False),
        ReferralFact("c2", "referral", True, 30.0),
        ReferralFact("c3", "referral", True, 5.0),
        ReferralFact("c4", "referral", True, None),  # sent, still online at the last re-check
    ]
    report = compute_report(
        **JANUARY,
        cases=cases,
        decisions=decisions,
        referrals=referrals,
        recommendations=2,
        complaints=3,
        reinstatements=1,
    )
    assert report.cases == 5
    assert report.cases_by_source == {"scan": 3, "public": 2}
    assert report.cases_by_tier == {"crisis": 2, "promotional": 1, "none": 2}
    assert report.decisions == 4
    assert report.terrorist_by_category == {"a": 1}
    assert report.not_terrorist_by_reason == {"other": 1, "counter_speech": 1, "journalism": 1}
    assert report.exemptions == 2  # counter-speech and journalism; "other" is no exemption
    assert report.referrals_by_kind == {"tco_removal_order": 1, "referral": 4}
    assert report.referrals_sent == 4
    assert report.share_offline == 0.75  # 3 of the 4 sent went offline
    assert report.hours_to_removal_median == 5.0  # of 2, 5 and 30 hours
    assert report.hours_to_removal_p90 == 30.0  # nearest rank: ceil(0.9 x 3) = the 3rd value
    assert (report.complaints, report.reinstatements) == (3, 1)
    assert report.recommendations == 2
    assert ("terrorist_by_category", "a", 1) in report.rows()


def test_nothing_to_measure_is_none_never_zero() -> None:
    empty = compute_report(**JANUARY, cases=[], decisions=[], referrals=[], recommendations=0)
    assert empty.share_offline is None and empty.hours_to_removal_median is None
    assert empty.as_dict()["hours_to_removal_p90"] is None
