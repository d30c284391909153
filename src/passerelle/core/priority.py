"""The priority score that orders the queue, with its reasons in words. A score never decides
anything: it only says which case a human should look at first, and why."""

from __future__ import annotations

from dataclasses import dataclass

from passerelle.core.bank import BankOrigin
from passerelle.core.match import Match, MatchOutcome
from passerelle.core.taxonomy import TIER_WEIGHT, Tier

UNLABELLED_WEIGHT = 35
PARTNER_FACTOR = 0.9
SOURCE_BONUS = {"public": 5, "partner": 5}
_TYPE_NAMES = {"sha256": "SHA-256", "md5": "MD5", "pdq": "PDQ", "url": "URL", "text": "text"}


@dataclass(frozen=True, slots=True)
class Priority:
    score: int
    reasons: tuple[str, ...]


def closeness(match: Match) -> float:
    """1.0 for an identical signal, falling with distance to 0.75 at the match threshold."""
    if match.threshold <= 0:
        return 1.0
    return 1.0 - 0.25 * (match.distance / match.threshold)


def _describe(match: Match) -> str:
    kind = _TYPE_NAMES.get(match.signal_type, match.signal_type)
    where = f"bank '{match.bank}'" + (" (partner)" if match.origin is BankOrigin.PARTNER else "")
    if match.threshold <= 0 or match.distance == 0:
        return f"exact {kind} match in {where}"
    if match.signal_type == "text":
        return f"near-duplicate text ({1 - match.distance:.0%} similar) in {where}"
    return f"{kind} distance {match.distance:g} (threshold {match.threshold:g}) in {where}"


def _weight(match: Match) -> float:
    base = TIER_WEIGHT[match.labels.tier] if match.labels.tier else UNLABELLED_WEIGHT
    factor = PARTNER_FACTOR if match.origin is BankOrigin.PARTNER else 1.0
    return base * closeness(match) * factor


def prioritise(outcome: MatchOutcome, *, source: str = "scan") -> Priority:
    if not outcome.matches:
        reasons = ["no match in any bank"]
        if outcome.suppressed:
            reasons.append(f"{len(outcome.suppressed)} match(es) suppressed by a known-benign bank")
        return Priority(0, tuple(reasons))
    ranked = sorted(outcome.matches, key=_weight, reverse=True)
    best = ranked[0]
    score = _weight(best)
    reasons = [_describe(best)]
    if best.labels.tier:
        reasons.insert(0, f"tier: {best.labels.tier.value.replace('_', ' ')}")
    if best.labels.category:
        reasons.append(f"category Art. 2(7)({best.labels.category.value})")
    kinds = {m.signal_type for m in ranked}
    if len(kinds) > 1:
        score += 5 * (len(kinds) - 1)
        reasons.append(f"{len(kinds)} kinds of signal matched: {', '.join(sorted(kinds))}")
    if SOURCE_BONUS.get(source):
        score += SOURCE_BONUS[source]
        reasons.append(f"source: {source}")
    if outcome.suppressed:
        reasons.append(f"{len(outcome.suppressed)} match(es) suppressed by a known-benign bank")
    return Priority(min(100, round(score)), tuple(reasons))


def tier_rank(tier: Tier | None) -> int:
    return TIER_WEIGHT[tier] if tier else 0
