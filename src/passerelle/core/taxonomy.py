"""Labels: the categories of Art. 2(7) of Regulation (EU) 2021/784, and TCAP-style tiers."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

from passerelle.core.errors import InvalidInput


class Category(enum.StrEnum):
    """Art. 2(7): material that..."""

    INCITES = "a"  # incites the commission of terrorist offences
    SOLICITS_COMMISSION = "b"  # solicits a person or group to commit or contribute to them
    SOLICITS_PARTICIPATION = "c"  # solicits participation in the activities of a terrorist group
    INSTRUCTS = "d"  # provides instruction on weapons, explosives or methods
    THREATENS = "e"  # threatens to commit a terrorist offence


class Tier(enum.StrEnum):
    """How urgent content is, most urgent first."""

    THREAT_TO_LIFE = "threat_to_life"
    CRISIS = "crisis"
    DESIGNATED_ENTITY = "designated_entity"
    PROMOTIONAL = "promotional"


TIER_WEIGHT: dict[Tier, int] = {
    Tier.THREAT_TO_LIFE: 100,
    Tier.CRISIS: 85,
    Tier.DESIGNATED_ENTITY: 65,
    Tier.PROMOTIONAL: 45,
}
_TAG = re.compile(r"^[\w][\w.:/-]{0,63}$", re.UNICODE)


def parse_category(text: str) -> Category:
    value = text.strip().lower().removeprefix("art2-7-").strip("()")
    try:
        return Category(value)
    except ValueError:
        raise InvalidInput(
            "unknown category '%(text)s'; use a, b, c, d or e (Art. 2(7))", text=text
        ) from None


def parse_tier(text: str) -> Tier:
    value = text.strip().lower().replace("-", "_").replace(" ", "_")
    try:
        return Tier(value)
    except ValueError:
        allowed = ", ".join(t.value for t in Tier)
        raise InvalidInput(
            "unknown tier %(text)r; use one of: %(allowed)s", text=text, allowed=allowed
        ) from None


def parse_tags(values: list[str] | tuple[str, ...]) -> frozenset[str]:
    tags = set()
    for value in values:
        for tag in value.split(","):
            clean = tag.strip()
            if not clean:
                continue
            if not _TAG.match(clean):
                raise InvalidInput(
                    "invalid tag %(tag)r: 1-64 letters, digits, '.', ':', '/', '-'", tag=clean
                )
            tags.add(clean)
    return frozenset(tags)


@dataclass(frozen=True, slots=True)
class Labels:
    category: Category | None = None
    tier: Tier | None = None
    tags: frozenset[str] = field(default_factory=frozenset)

    def as_dict(self) -> dict[str, object]:
        return {
            "category": self.category.value if self.category else None,
            "tier": self.tier.value if self.tier else None,
            "tags": sorted(self.tags),
        }
