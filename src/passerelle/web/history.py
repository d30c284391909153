"""Audit events in words: one translated sentence per kind of event, for the case history,
the referral page and the audit log (the codes and the JSON stay on the event's own page)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context

# Message ids: `%(name)s` takes the event's detail of that name (translated when it is a
# code the catalogue knows, such as a verdict or a kind of referral).
SENTENCES = {
    "case.opened": "Case opened (source: %(source)s)",
    "case.decided": "Decision recorded: %(verdict)s",
    "case.assigned": "Case assigned to %(to)s",
    "case.lifting_recommended": "A controller recommended lifting the measure",
    "case.observation_hold": "Observation hold set: %(reason)s",
    "case.observation_lifted": "Observation hold lifted",
    "case.hold_set": "Legal hold until %(until)s: %(reason)s",
    "case.hold_ended": "Legal hold ended",
    "case.page_fetched": "The reported page was fetched and scanned",
    "case.note_added": "Note: %(text)s",
    "referral.prepared": "Prepared: %(kind)s, for %(host)s",
    "referral.approved": "Removal order approved",
    "referral.sent": "Notice sent",
    "referral.send_failed": "Sending failed: %(error)s",
    "referral.hold_overridden": "Observation hold overridden: %(reason)s",
    "referral.acknowledged": "The host acknowledged the notice",
    "referral.removal_declared": "The host declared the content removed",
    "referral.offline_seen": "The content was seen offline",
    "complaint.received": "The host sent a complaint",
    "complaint.decided": "Complaint decided: %(outcome)s",
    "public_report.received": "Report from the public received",
    "content.purged": "Preserved content purged at the end of its retention",
    "bank.created": "Bank created",
    "bank.entries_added": "Entries added to a bank",
    "bank.entry_removed": "Bank entry removed",
    "bank.entry_withdrawn": "Bank entry withdrawn: %(reason)s",
    "bank.imported": "Bank entries imported",
    "bank.exported": "Bank exported",
    "host.added": "Hosting provider %(domain)s added",
    "host.updated": "Hosting provider %(domain)s changed",
    "partner.added": "Partner added",
    "partner.removed": "Partner removed",
    "partner.sync_requested": "Synchronisation with %(code)s requested",
    "agreement.proposed": "Agreement proposed",
    "agreement.received": "Agreement proposal received",
    "agreement.answered": "Agreement answered: %(action)s",
    "exchange.imported": "Partner entries imported",
    "user.created": "Person added",
    "user.disabled": "Person deactivated",
    "user.logged_in": "Logged in",
    "user.logged_out": "Logged out",
    "user.login_failed": "Failed login",
    "user.password_set": "Password set",
    "user.locale_changed": "Language changed",
    "user.protection_changed": "Image protection changed",
    "api_token.created": "API token created",
    "api_token.revoked": "API token revoked",
    "agency.created": "Agency created",
}
UNKNOWN = "Recorded change (%(action)s)"
HOST = "the host"


def describe(action: str, details: dict[str, Any], translate: Callable[[str], str]) -> str:
    """The event as a sentence in the reader's language."""
    template = SENTENCES.get(action)
    if template is None:
        return translate(UNKNOWN) % {"action": action}
    values: dict[str, str] = {}
    for key, value in details.items():
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        # Codes (a verdict, a kind of referral) are translated; what people wrote is not.
        is_code = isinstance(value, str) and re.fullmatch(r"[a-z][a-z0-9_]*", value)
        values[key] = translate(shown) if is_code else shown
    for name in _names(template):
        values.setdefault(name, "—")
    return translate(template) % values


def _names(template: str) -> list[str]:
    names, rest = [], template
    while "%(" in rest:
        rest = rest.split("%(", 1)[1]
        names.append(rest.split(")", 1)[0])
    return names


@pass_context
def event_sentence(context: Context, action: str, details: str | dict[str, Any]) -> str:
    """Jinja global: `event_sentence(e.action, e.details)` with the page's translations."""
    translate: Callable[[str], str] = context["_"]
    parsed = json.loads(details) if isinstance(details, str) and details else details or {}
    return describe(action, parsed if isinstance(parsed, dict) else {}, translate)


def actor_name(actor: str, translate: Callable[[str], str]) -> str:
    return translate(HOST) if actor == "host" else actor
