"""What a member of the public said through the report form, as the case shows it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class PublicReport:
    reference: str
    url: str
    category: str | None
    description: str
    created_at: datetime
