"""Building the signed link of a notice from the settings (the address hosts reach)."""

from __future__ import annotations

from datetime import UTC, datetime

from passerelle.core.hostlink import LIFETIME, sign_host_link
from passerelle.settings import Settings


def host_link(settings: Settings, referral_id: str, now: datetime | None = None) -> str:
    stamp, signature = sign_host_link(
        settings.secret_key, referral_id, (now or datetime.now(UTC)) + LIFETIME
    )
    base = settings.public_url or f"http://{settings.host}:{settings.port}"
    return f"{base.rstrip('/')}/hote/{referral_id}?e={stamp}&s={signature}"
