"""Is referred content still online? What a re-check saw at the address, and the verdict.

A host may remove content "softly": the address answers 200 with a notice, or redirects to
its home page. So an answer counts as online only when it still carries the content: the same
bytes, an image within the PDQ threshold, or a text within the text threshold of what was
referred. Items with no perceptual fingerprint (an address reported by the public, a video)
are judged by the HTTP status alone."""

from __future__ import annotations

from dataclasses import dataclass

from passerelle.core.message import Message
from passerelle.core.signals.base import Signal
from passerelle.core.signals.pdq import PDQ
from passerelle.core.signals.text import TEXT

GONE = frozenset({404, 410, 451})
SAME_SIGNAL = {
    PDQ.name: "HTTP %(status)s, the same image (distance %(distance)s)",
    TEXT.name: "HTTP %(status)s, the same text (distance %(distance)s)",
}
SOFT_REMOVAL = "HTTP %(status)s, the content is no longer there (soft removal)"
SOFT_REMOVAL_MOVED = (
    "HTTP %(status)s, the content is no longer there (soft removal, redirected to %(url)s)"
)


@dataclass(frozen=True, slots=True)
class Observation:
    """One fetch of a referred address: the final status and address after redirects, and
    the signals of the body (only for a 2xx answer)."""

    status: int
    final_url: str
    signals: dict[str, str]


def verdict(
    url: str, expected: dict[str, str], seen: Observation | None
) -> tuple[bool, Message] | None:
    """(online, what was seen), or None when nothing can be told (no answer, a server
    error)."""
    if seen is None:
        return None
    status = seen.status
    if status in GONE:
        return False, Message("HTTP %(status)s", {"status": status})
    if status >= 500:
        return None
    if not 200 <= status < 300 or not ({"pdq", "text"} & expected.keys()):
        return True, Message("HTTP %(status)s", {"status": status})
    found = seen.signals
    if expected.get("sha256") and expected.get("sha256") == found.get("sha256"):
        return True, Message("HTTP %(status)s, the same content", {"status": status})
    for kind in (PDQ, TEXT):
        if kind.name in expected and kind.name in found:
            distance = kind.distance(
                Signal(kind.name, expected[kind.name]), Signal(kind.name, found[kind.name])
            )
            if distance <= kind.default_threshold:
                values: dict[str, str | int] = {"status": status, "distance": f"{distance:g}"}
                return True, Message(SAME_SIGNAL[kind.name], values)
    if seen.final_url != url:
        return False, Message(SOFT_REMOVAL_MOVED, {"status": status, "url": seen.final_url})
    return False, Message(SOFT_REMOVAL, {"status": status})
