"""Signal types: fingerprints of content behind one protocol (see `base.SignalType`).

Stored names follow python-threatexchange where it has one (`pdq`, `url`, `text`, `md5`,
`vpdq`)."""

from __future__ import annotations

from passerelle.core.errors import InvalidInput
from passerelle.core.signals.base import Signal, SignalType
from passerelle.core.signals.digests import MD5, SHA256
from passerelle.core.signals.pdq import PDQ
from passerelle.core.signals.text import TEXT
from passerelle.core.signals.url import URL
from passerelle.core.signals.vpdq import VPDQ

SIGNAL_TYPES: dict[str, SignalType] = {t.name: t for t in (SHA256, MD5, PDQ, URL, TEXT, VPDQ)}


def get_signal_type(name: str) -> SignalType:
    try:
        return SIGNAL_TYPES[name.strip().lower()]
    except KeyError:
        known = ", ".join(SIGNAL_TYPES)
        raise InvalidInput(
            "unknown signal type %(name)r; known: %(known)s", name=name, known=known
        ) from None


def parse_signal(type_name: str, value: str) -> Signal:
    return get_signal_type(type_name).parse(value)


__all__ = ["SIGNAL_TYPES", "Signal", "SignalType", "get_signal_type", "parse_signal"]
