"""Audit events in words: one translated sentence per kind of event, for the case history,
the referral page and the audit log, with who did it, on what, and the details as labelled
fields (the code and the JSON stay in the event's technical record, for verifying the chain)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape

from passerelle.core.bank import PARTNER_BANK as PARTNER_BANK
from passerelle.core.bank import bank_description as describe_bank
from passerelle.core.bank import entry_note
from passerelle.core.message import Message, is_message_dict, message_from_dict

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
    "referral.offline_seen": "The content was seen offline: %(detail)s",
    "complaint.received": "The host sent a complaint",
    "complaint.decided": "Complaint decided: %(outcome)s",
    "public_report.received": "Report from the public received",
    "content.purged": "Preserved content purged at the end of its retention",
    "bank.created": "Bank created",
    "bank.entries_added": "Entries added to a bank",
    "bank.entry_removed": "Bank entry removed",
    "bank.entry_withdrawn": "Bank entry withdrawn: %(reason)s",
    "bank.entry_reinstated": "Bank entry reinstated",
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
    "agency.key_rotated": "The unit's signing key was replaced",
    "case.page_unavailable": "The reported page could not be fetched (status %(status)s)",
    "exchange.expired": "Partner entries past their retention deleted: %(entries)s",
    "exchange.replay_refused": "A partner's request was refused as a replay",
    "match.looked_up": "Fingerprints looked up in the banks",
    "secret.rotated": "The instance's secret key was replaced",
    "user.roles_changed": "Roles changed: %(roles)s",
    "user.roles_change_refused": "Refused: a change of one's own roles (asked: %(roles)s)",
    "user.unlocked": "Account unlocked",
    "counts.recounted": "Kept counts recounted from the records",
}
UNKNOWN = "Recorded change (%(action)s)"
# Who acts when no person does.
ACTORS = {
    "host": "the host",
    "cli": "the command line",
    "job": "a scheduled job",
    "public": "the public",
    "demo": "the demo",
    "system": "the system",
}
# Recorded codes whose message id is not the code itself.
VALUES = {"admin": "administrator", "manual": "by hand", "positive": "positive bank"}
VALUES |= {"negative": "negative bank"}
# What an event is about.
OBJECTS = {
    "agency": "unit",
    "agreement": "agreement",
    "api_token": "API token",
    "bank": "bank",
    "case": "case",
    "complaint": "complaint",
    "host": "hosting provider",
    "instance": "instance",
    "item": "content",
    "job": "job",
    "partner": "partner",
    "public_report": "report from the public",
    "referral": "referral",
    "user": "person",
}
# The labels of the details events record.
FIELDS = {
    "action": "Action",
    "banks": "Banks recounted",
    "cases": "Case counts corrected",
    "decisions": "Decision counts corrected",
    "superseded": "Supersession times corrected",
    "entry": "Bank entry",
    "withdrawal": "Withdrawal",
    "added": "Added",
    "after": "After",
    "agency_keys": "Unit keys resealed",
    "audit_key_epoch": "Audit key generation",
    "bank": "Bank",
    "before": "Before",
    "by": "By",
    "by_type": "By type",
    "case": "Case",
    "category": "Category",
    "code": "Code",
    "complaint": "Complaint",
    "cursor": "Cursor",
    "deadline": "Deadline",
    "decision": "Decision",
    "detail": "Detail",
    "domain": "Domain",
    "duplicates": "Duplicates",
    "entries": "Entries",
    "error": "Error",
    "errors": "Errors",
    "exemption_checked": "Exemption checked",
    "failures": "Failures",
    "from": "From",
    "generation": "Generation",
    "holds": "Holds",
    "imported": "Imported",
    "jurisdiction": "Jurisdiction",
    "key": "Key",
    "kind": "Kind",
    "legal_basis": "Legal basis",
    "locale": "Language",
    "locked_until": "Locked until",
    "matched": "Matched",
    "matches": "Matches",
    "name": "Name",
    "nonce": "Nonce",
    "note": "Note",
    "notices": "Notices",
    "outcome": "Outcome",
    "partner": "Partner",
    "previous_window_failures": "Earlier failures",
    "reason": "Reason",
    "recommendation": "Recommendation",
    "reference": "Reference",
    "retention_days": "Retention (days)",
    "retracted": "Retracted",
    "reveal_media": "Images shown unblurred",
    "roles": "Roles",
    "same_as_case": "Same as case",
    "score": "Score",
    "sha256": "SHA-256",
    "signal_type": "Fingerprint type",
    "signals": "Fingerprints",
    "source": "Source",
    "status": "Status",
    "terms": "Terms",
    "text": "Text",
    "thresholds": "Thresholds",
    "to": "To",
    "until": "Until",
    "username": "Username",
    "value": "Value",
    "verdict": "Verdict",
}
YES, NO = "yes", "no"
PAIR, SEPARATOR = "%(label)s: %(value)s", "; "


def describe(action: str, details: dict[str, Any], translate: Callable[[str], str]) -> str:
    """The event as a sentence in the reader's language."""
    template = SENTENCES.get(action)
    if template is None:
        return translate(UNKNOWN) % {"action": action}
    values = {key: readable(value, translate) for key, value in details.items()}
    for name in _names(template):
        values.setdefault(name, "—")
    return translate(template) % values


def readable(value: Any, translate: Callable[[str], str]) -> str:
    """A detail's value as a person reads it: codes (a verdict, a kind of referral) translated,
    what people wrote as they wrote it, lists and tables spelled out."""
    if isinstance(value, bool):
        return translate(YES if value else NO)
    if value is None:
        return "—"
    if isinstance(value, str):
        is_code = re.fullmatch(r"[a-z][a-z0-9_]*", value)
        return translate(VALUES.get(value, value)) if is_code else value
    if isinstance(value, list | tuple):
        return ", ".join(readable(item, translate) for item in value) or "—"
    if is_message_dict(value):  # a message recorded as its id and values
        return message_from_dict(value).render(translate)
    if isinstance(value, dict):
        pair = translate(PAIR)
        parts = [
            pair % {"label": field_label(str(k), translate), "value": readable(v, translate)}
            for k, v in value.items()
        ]
        return translate(SEPARATOR).join(parts) or "—"
    return json.dumps(value, ensure_ascii=False)


def field_label(key: str, translate: Callable[[str], str]) -> str:
    """A detail's label; a key nobody named is shown as it is recorded."""
    label = FIELDS.get(key)
    return translate(label) if label else key


def fields(details: dict[str, Any], translate: Callable[[str], str]) -> list[tuple[str, str]]:
    """The details of an event as labelled fields, in the order they were recorded."""
    return [(field_label(k, translate), readable(v, translate)) for k, v in details.items()]


def actor_label(actor: str, translate: Callable[[str], str]) -> str:
    """Who acted: a person's username, or what acted when no person did."""
    label = ACTORS.get(actor)
    return translate(label) if label else actor


def object_label(object_type: str, translate: Callable[[str], str]) -> str:
    label = OBJECTS.get(object_type)
    return translate(label) if label else object_type


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


# Beside a sentence recorded in English before messages were stored as ids and values.
BEFORE_TRANSLATION = "recorded in English, before translation"


def say(message: Message | None, translate: Callable[[str], str]) -> Markup:
    """A recorded message in the reader's language, escaped; an English sentence recorded
    before message ids shown as it is, marked as such."""
    if message is None:
        return Markup("")
    if message.before_translation:
        return Markup('<span lang="en">%s</span> <span class="muted">(%s)</span>') % (
            message.template,
            translate(BEFORE_TRANSLATION),
        )
    return escape(message.render(translate))


@pass_context
def said(context: Context, message: Message | None) -> Markup:
    """Jinja global: `said(referral.last_error)` with the page's translations."""
    return say(message, context["_"])


@pass_context
def note_of_entry(context: Context, note: str) -> str:
    """Jinja global: a bank entry's note; the one recorded for a partner's entry is said in
    the reader's language, what people wrote as they wrote it."""
    recorded = entry_note(note)
    return note if recorded is None else recorded.render(context["_"])


@pass_context
def bank_description(context: Context, description: str) -> str:
    """Jinja global: a bank's description; the one recorded for a partner's bank is said in
    the reader's language, what people wrote as they wrote it."""
    recorded = describe_bank(description)
    return description if recorded is None else recorded.render(context["_"])
