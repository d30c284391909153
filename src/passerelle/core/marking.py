"""Markings: the Traffic Light Protocol 2.0 (FIRST) that every bank entry carries, and the
rule that a marking never widens on its way out.

An entry keeps the strictest marking it was received or decided under; a unit's own entry
carries none until someone marks it, and each channel then marks it (an agreement's TLP, the
marking asked for an export, AMBER by default). Every way out (CSV,
python-threatexchange files, STIX, MISP, TAXII, partner feeds) carries each entry under its own
marking or a stricter one, never a laxer one; TLP:RED never leaves through a shared channel
(TAXII, partner feeds). TLP 1.0 names are read as their TLP 2.0 equivalents (WHITE is CLEAR)."""

from __future__ import annotations

import enum

from passerelle.core.errors import InvalidInput


class Distribution(enum.StrEnum):
    """MISP-like: this agreement only, or onward to the partner's own partners. An entry
    passed on never widens: what arrives as `onward` leaves as `agreement`."""

    AGREEMENT = "agreement"
    ONWARD = "onward"


class Tlp(enum.StrEnum):
    CLEAR = "clear"
    GREEN = "green"
    AMBER = "amber"
    AMBER_STRICT = "amber+strict"
    RED = "red"


TLP_ORDER = (Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER, Tlp.AMBER_STRICT, Tlp.RED)
# What a unit's own entry leaves under when neither it nor the channel says otherwise:
# shared with the partners' organisations on a need-to-know basis.
DEFAULT_TLP = Tlp.AMBER
# Channels that serve many readers (TAXII, partner feeds) never carry these.
NEVER_SHARED = frozenset({Tlp.RED})

_ALIASES = {
    "white": Tlp.CLEAR,
    "clear": Tlp.CLEAR,
    "green": Tlp.GREEN,
    "amber": Tlp.AMBER,
    "amber+strict": Tlp.AMBER_STRICT,
    "amber-strict": Tlp.AMBER_STRICT,
    "amber_strict": Tlp.AMBER_STRICT,
    "red": Tlp.RED,
}


def parse_tlp(text: str) -> Tlp:
    """`TLP:AMBER+STRICT`, `tlp:white`, `amber` … as a TLP 2.0 level; raises on anything else."""
    name = text.strip().lower()
    if name.startswith("tlp:"):
        name = name[4:]
    found = _ALIASES.get(name.strip())
    if found is None:
        raise InvalidInput(
            "unknown TLP marking %(text)r: clear (or white), green, amber, amber+strict, red",
            text=text,
        )
    return found


def stricter(one: Tlp, other: Tlp | None) -> Tlp:
    """The stricter of two markings (the other may be unknown)."""
    if other is None:
        return one
    return max(one, other, key=TLP_ORDER.index)


def effective(carried: Tlp | None, floor: Tlp | None) -> Tlp:
    """The marking something leaves under: the one it carries, or the floor asked for if
    stricter; what carries none (a unit's own entry) takes the floor, AMBER by default."""
    if floor is None:
        return carried or DEFAULT_TLP
    return stricter(floor, carried)


def narrower(one: Distribution | None, other: Distribution | None) -> Distribution | None:
    """The narrower of two distributions; None (an own entry, the agreements decide) is the
    widest."""
    if Distribution.AGREEMENT in (one, other):
        return Distribution.AGREEMENT
    return one or other


def laxest(markings: list[Tlp], default: Tlp = DEFAULT_TLP) -> Tlp:
    """The laxest of several markings (what a container of them all may say of itself)."""
    return min(markings, key=TLP_ORDER.index) if markings else default


def is_laxer(one: Tlp, than: Tlp) -> bool:
    return TLP_ORDER.index(one) < TLP_ORDER.index(than)
