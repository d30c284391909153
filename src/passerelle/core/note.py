"""Internal notes on a case: short, by the unit's people, never shared with partners or
hosts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from passerelle.core.errors import InvalidInput

MAX_NOTE = 2000


@dataclass(frozen=True, slots=True)
class CaseNote:
    id: str
    case_id: str
    author: str
    text: str
    created_at: datetime


def parse_note(text: str) -> str:
    """The note's text, trimmed; InvalidInput when empty or too long."""
    clean = text.strip()
    if not clean:
        raise InvalidInput("write the note", field="note")
    if len(clean) > MAX_NOTE:
        raise InvalidInput(
            "a note is limited to %(limit)s characters", field="note", limit=MAX_NOTE
        )
    return clean
