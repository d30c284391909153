"""The priority score that orders the queue, with its reasons in words. A score never decides
anything: it only says which case a human should look at first, and why."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from passerelle.core.bank import BankOrigin
from passerelle.core.match import Match, MatchOutcome
from passerelle.core.taxonomy import TIER_WEIGHT, Tier

UNLABELLED_WEIGHT = 35
PARTNER_FACTOR = 0.9
SOURCE_BONUS = {"public": 5, "partner": 5}
_TYPE_NAMES = {
    "sha256": "SHA-256",
    "md5": "MD5",
    "pdq": "PDQ",
    "url": "URL",
    "text": "text",
    "vpdq": "vPDQ",
}


@dataclass(frozen=True, slots=True)
class Explanation:
    """One reason, as an English message id with its parameters, so that the console can
    translate it (gettext) and the CLI print it as it is."""

    template: str
    params: Mapping[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.template % dict(self.params) if self.params else self.template

    def as_dict(self) -> dict[str, object]:
        return {"template": self.template, "params": dict(self.params)}


@dataclass(frozen=True, slots=True)
class Priority:
    score: int
    explanations: tuple[Explanation, ...]

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(e.text for e in self.explanations)


TIER_REASONS = {
    Tier.THREAT_TO_LIFE: "tier: threat to life",
    Tier.CRISIS: "tier: crisis",
    Tier.DESIGNATED_ENTITY: "tier: designated entity",
    Tier.PROMOTIONAL: "tier: promotional",
}
NO_MATCH = "no match in any bank"
SUPPRESSED = "%(count)s match(es) suppressed by a known-benign bank"


def closeness(match: Match) -> float:
    """1.0 for an identical signal, falling with distance to 0.75 at the match threshold."""
    if match.threshold <= 0:
        return 1.0
    return 1.0 - 0.25 * (match.distance / match.threshold)


def timecode(seconds: float) -> str:
    """0:07, 1:02:03: the way a video player shows a time."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


SEGMENT_MATCH = (
    "segment %(start)s–%(end)s matches %(share)s %% of a banked video "
    "(%(query_share)s %% of this one) in bank '%(bank)s'"
)
LONG_SEGMENT_MATCH = (
    "a stretch of %(seconds)s s of this video, %(start)s–%(end)s, matches %(banked_start)s–"
    "%(banked_end)s of a banked video in bank '%(bank)s' (%(query_share)s %% of this video)"
)
STILL_IN_VIDEO = (
    "image matches the frame at %(at)s of a banked video (PDQ distance %(distance)s) "
    "in bank '%(bank)s'"
)
FRAME_IS_IMAGE = (
    "frame at %(at)s matches a banked image (PDQ distance %(distance)s) in bank '%(bank)s'"
)
VIDEO_REASONS = (SEGMENT_MATCH, LONG_SEGMENT_MATCH, STILL_IN_VIDEO, FRAME_IS_IMAGE)


def _describe_video(match: Match, partner: str) -> Explanation:
    video = match.video
    assert video is not None  # the caller checked
    first = video.segments[0]
    params = {"bank": match.bank}
    if video.by_segment and video.query_share is not None:
        params |= {
            "seconds": f"{first.query_end - first.query_start:.0f}",
            "start": timecode(first.query_start),
            "end": timecode(first.query_end),
            "banked_start": timecode(first.banked_start),
            "banked_end": timecode(first.banked_end),
            "query_share": f"{video.query_share:.0f}",
        }
        return Explanation(LONG_SEGMENT_MATCH + partner, params)
    if video.compared_share is not None and video.query_share is not None:
        params |= {
            "start": timecode(first.query_start),
            "end": timecode(first.query_end),
            "share": f"{video.compared_share:.0f}",
            "query_share": f"{video.query_share:.0f}",
        }
        return Explanation(SEGMENT_MATCH + partner, params)
    params["distance"] = f"{match.distance:g}"
    if match.signal_type == "vpdq":
        params["at"] = timecode(first.banked_start)
        return Explanation(STILL_IN_VIDEO + partner, params)
    params["at"] = timecode(first.query_start)
    return Explanation(FRAME_IS_IMAGE + partner, params)


def _describe(match: Match) -> Explanation:
    partner = " (partner)" if match.origin is BankOrigin.PARTNER else ""
    if match.video is not None and match.video.segments:
        return _describe_video(match, partner)
    params = {"kind": _TYPE_NAMES.get(match.signal_type, match.signal_type), "bank": match.bank}
    if match.threshold <= 0 or match.distance == 0:
        return Explanation("exact %(kind)s match in bank '%(bank)s'" + partner, params)
    if match.signal_type == "text":
        similar = {"similar": f"{1 - match.distance:.0%}", "bank": match.bank}
        return Explanation(
            "near-duplicate text (%(similar)s similar) in bank '%(bank)s'" + partner, similar
        )
    params |= {"distance": f"{match.distance:g}", "threshold": f"{match.threshold:g}"}
    return Explanation(
        "%(kind)s distance %(distance)s (threshold %(threshold)s) in bank '%(bank)s'" + partner,
        params,
    )


def _weight(match: Match) -> float:
    base = TIER_WEIGHT[match.labels.tier] if match.labels.tier else UNLABELLED_WEIGHT
    factor = PARTNER_FACTOR if match.origin is BankOrigin.PARTNER else 1.0
    return base * closeness(match) * factor


def prioritise(outcome: MatchOutcome, *, source: str = "scan") -> Priority:
    suppressed = (
        [Explanation(SUPPRESSED, {"count": str(len(outcome.suppressed))})]
        if outcome.suppressed
        else []
    )
    if not outcome.matches:
        return Priority(0, (Explanation(NO_MATCH), *suppressed))
    ranked = sorted(outcome.matches, key=_weight, reverse=True)
    best = ranked[0]
    score = _weight(best)
    reasons = [_describe(best)]
    if best.labels.tier:
        reasons.insert(0, Explanation(TIER_REASONS[best.labels.tier]))
    if best.labels.category:
        reasons.append(
            Explanation(
                "category Art. 2(7)(%(category)s)", {"category": best.labels.category.value}
            )
        )
    kinds = {m.signal_type for m in ranked}
    if len(kinds) > 1:
        score += 5 * (len(kinds) - 1)
        reasons.append(
            Explanation(
                "%(count)s kinds of signal matched: %(kinds)s",
                {"count": str(len(kinds)), "kinds": ", ".join(sorted(kinds))},
            )
        )
    if SOURCE_BONUS.get(source):
        score += SOURCE_BONUS[source]
        reasons.append(Explanation("source: %(source)s", {"source": source}))
    return Priority(min(100, round(score)), (*reasons, *suppressed))


def tier_rank(tier: Tier | None) -> int:
    return TIER_WEIGHT[tier] if tier else 0
