"""Complaints: a host's or content provider's challenge of a decision, answered within two
weeks (Regulation (EU) 2021/784, Art. 10) by someone other than the person who decided."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

ANSWER_WITHIN = timedelta(days=14)


class Outcome(enum.StrEnum):
    UPHELD = "upheld"
    REINSTATED = "reinstated"


@dataclass(frozen=True, slots=True)
class Complaint:
    id: str
    referral_id: str
    case_id: str
    text: str
    created_at: datetime
    deadline_at: datetime
    outcome: str | None
    decided_by: str | None
    rationale: str | None
