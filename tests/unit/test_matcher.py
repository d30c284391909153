"""The matcher and the priority score: thresholds per bank, negative banks, reasons."""

from __future__ import annotations

import numpy as np
import pytest

from passerelle.core.bank import Bank, BankEntry, BankKind, BankOrigin
from passerelle.core.match import Matcher
from passerelle.core.priority import prioritise
from passerelle.core.signals.base import Signal
from passerelle.core.signals.digests import SHA256
from passerelle.core.signals.pdq import PDQ
from passerelle.core.signals.text import TEXT, signature_to_hex
from passerelle.core.taxonomy import Category, Labels, Tier

ORIGINAL = "d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22"


def bank(
    name: str,
    kind: BankKind = BankKind.POSITIVE,
    origin: BankOrigin = BankOrigin.OWN,
    **thresholds: float,
) -> Bank:
    return Bank(name, "agency", name, kind, origin, "", dict(thresholds))


def entry(bank_id: str, signal, labels: Labels | None = None) -> BankEntry:  # type: ignore[no-untyped-def]
    return BankEntry(f"{bank_id}-{signal.value[:8]}", bank_id, signal, labels or Labels())


def near(value: str, bits: int) -> str:
    number = int(value, 16)
    for bit in range(bits):
        number ^= 1 << (bit * 7)
    return f"{number:064x}"


def test_thresholds_are_per_bank() -> None:
    strict, loose = bank("strict", pdq=10), bank("loose")
    matcher = Matcher.build(
        [strict, loose],
        [entry("strict", PDQ.parse(ORIGINAL)), entry("loose", PDQ.parse(ORIGINAL))],
    )
    outcome = matcher.match([PDQ.parse(near(ORIGINAL, 20))])
    assert [(m.bank, m.distance) for m in outcome.matches] == [("loose", 20.0)]


def test_a_negative_bank_suppresses_matches_of_its_signal_type() -> None:
    positive, benign = bank("connu"), bank("benin", BankKind.NEGATIVE)
    data = b"an image everybody publishes"
    matcher = Matcher.build(
        [positive, benign],
        [
            entry("connu", PDQ.parse(ORIGINAL), Labels(tier=Tier.CRISIS)),
            entry("benin", PDQ.parse(near(ORIGINAL, 2))),
            entry("connu", SHA256.compute(data)),
        ],
    )
    outcome = matcher.match([PDQ.parse(ORIGINAL), SHA256.compute(data)])
    assert [m.signal_type for m in outcome.matches] == ["sha256"]
    assert [m.bank for m in outcome.suppressed] == ["connu"]
    assert [m.bank for m in outcome.benign] == ["benin"]
    priority = prioritise(outcome)
    assert "1 match(es) suppressed by a known-benign bank" in priority.reasons


def test_low_quality_query_hashes_do_not_match() -> None:
    matcher = Matcher.build([bank("b")], [entry("b", PDQ.parse(ORIGINAL))])
    weak = PDQ.parse_with_quality(ORIGINAL, 30)
    assert matcher.match([weak]).matches == ()


def test_priority_orders_by_tier_closeness_and_origin_and_says_why() -> None:
    own, partner = bank("propre"), bank("partenaire", origin=BankOrigin.PARTNER)
    life = Labels(category=Category.THREATENS, tier=Tier.THREAT_TO_LIFE)
    promo = Labels(category=Category.INCITES, tier=Tier.PROMOTIONAL)
    matcher = Matcher.build(
        [own, partner],
        [
            entry("propre", PDQ.parse(ORIGINAL), promo),
            entry("partenaire", PDQ.parse(ORIGINAL), life),
        ],
    )
    exact = prioritise(matcher.match([PDQ.parse(ORIGINAL)]))
    assert exact.reasons[:2] == (
        "tier: threat to life",
        "exact PDQ match in bank 'partenaire' (partner)",
    )
    assert "category Art. 2(7)(e)" in exact.reasons
    assert exact.score == 90  # 100 for the tier, x0.9 for a partner's bank
    far = prioritise(matcher.match([PDQ.parse(near(ORIGINAL, 30))]))
    assert far.score < exact.score
    assert any("PDQ distance 30 (threshold 31)" in r for r in far.reasons)
    public = prioritise(matcher.match([PDQ.parse(ORIGINAL)]), source="public")
    assert public.score == exact.score + 5 and "source: public" in public.reasons
    assert prioritise(matcher.match([SHA256.compute(b"x")])).reasons == ("no match in any bank",)


def test_text_near_duplicates_match_within_threshold() -> None:
    base = " ".join(f"mot{i}" for i in range(200))
    edited = base.replace("mot50 ", "").replace("mot120 ", "autre ")
    matcher = Matcher.build([bank("textes")], [entry("textes", TEXT.compute(base))])
    outcome = matcher.match([TEXT.compute(edited)])  # type: ignore[list-item]
    assert len(outcome.matches) == 1
    assert 0 < outcome.matches[0].distance <= 0.5
    assert "near-duplicate text" in prioritise(outcome).reasons[0]


@pytest.mark.parametrize("block", [1 << 24, 3 * 128 * 40])  # every query at once; 3 at a time
def test_a_batch_of_texts_matches_each_as_the_distance_says(
    block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    import passerelle.core.index.store

    monkeypatch.setattr(passerelle.core.index.store, "_TEXT_BLOCK", block)
    rng = np.random.default_rng(12)
    banked = [rng.integers(0, 2**32, 128, dtype=np.uint64).astype(np.uint32) for _ in range(40)]
    entries = [entry("textes", Signal("text", signature_to_hex(values))) for values in banked]
    matcher = Matcher.build([bank("textes")], entries)
    queries = []
    for number in range(25):  # copies of banked texts with more and more values changed
        values = banked[number % len(banked)].copy()
        changed = rng.choice(128, size=number * 5 % 128, replace=False)
        values[changed] = rng.integers(0, 2**32, len(changed), dtype=np.uint64)
        queries.append(Signal("text", signature_to_hex(values)))
    outcomes = matcher.match_many([[query] for query in queries])
    expected = [
        sorted(
            (e.id, TEXT.distance(query, e.signal))
            for e in entries
            if TEXT.distance(query, e.signal) <= TEXT.default_threshold
        )
        for query in queries
    ]
    found = [sorted((m.entry_id, m.distance) for m in o.matches) for o in outcomes]
    assert found == expected
    assert 0 < sum(map(len, found)) < len(queries)  # some within the threshold, some beyond
