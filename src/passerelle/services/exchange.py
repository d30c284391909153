"""Cooperation between agencies: partners, agreements (proposed by one, accepted by the
other), the feed each publishes, the import of a partner's feed into a partner bank, holds
and what partners say about our content. Signing and transport are the adapters' work
(`passerelle.exchange.signing`, the API routes, the sync job); everything here is checked
against the agreements and audited."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from passerelle.core.address import Network, describe_host_refusal
from passerelle.core.audit import AuditEntry
from passerelle.core.bank import (
    Bank,
    BankKind,
    BankOrigin,
    NewEntry,
    partner_bank_description,
    partner_note,
)
from passerelle.core.case import CaseDetail
from passerelle.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from passerelle.core.exchange import (
    AGREEMENT_SCHEMA,
    ANSWER_SCHEMA,
    FEED_PAGE,
    Agreement,
    AgreementStatus,
    Distribution,
    EventKind,
    FeedEntry,
    FeedPage,
    Partner,
    Replayed,
    check_page,
    feed_entries,
    next_status,
    parse_code,
    parse_issued_at,
    parse_nonce,
    parse_public_key,
    parse_terms,
    refuse_retired,
    staleness,
)
from passerelle.core.identity import Permission, User
from passerelle.core.message import Message, joined, message_of
from passerelle.core.ports import ObservationHold, PartnerNotice, UnitOfWork
from passerelle.core.signals import parse_signal
from passerelle.core.taxonomy import Labels, parse_category, parse_tier

SHARED_SIGNALS = ("sha256", "md5", "pdq", "url", "text", "vpdq")
MIN_REASON = 20
DOCUMENT_WINDOW = timedelta(minutes=5)  # PASSERELLE_EXCHANGE_WINDOW_SECONDS
FILE_DROP_WINDOW = timedelta(days=7)  # a document carried by hand may take days
NONCE_MEMORY = 2 * FILE_DROP_WINDOW  # seen nonces are kept until no window admits them


def _audit(
    uow: UnitOfWork,
    actor: str,
    agency_id: str,
    action: str,
    kind: str,
    object_id: str,
    details: dict[str, Any],
) -> None:
    uow.audit.append(AuditEntry(action, actor, agency_id, kind, object_id, details))


def _liaison(viewer: User) -> None:
    if not viewer.can(Permission.MANAGE_PARTNERS):
        raise PermissionDenied("only liaison officers manage partners and agreements")


# --- partners ----------------------------------------------------------------------------------


def parse_base_url(text: str, allowed: Sequence[Network] = ()) -> str | None:
    """A partner's address: an http(s) URL whose host, as typed, is not a private, loopback or
    local one unless its network is in `allowed` (the administrator's allow-list); a name is
    checked again each time it is resolved."""
    value = text.strip().rstrip("/")
    if not value:
        return None  # a partner reached by file drop only
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("the partner's address is an http(s) URL", field="base_url")
    refusal = describe_host_refusal(parts.hostname, allowed)
    if refusal is not None:
        raise InvalidInput(
            "the partner's address is %(refusal)s; only an administrator can allow such a"
            " network (PASSERELLE_PARTNER_ALLOW)",
            field="base_url",
            refusal=refusal,
        )
    return value


def add_partner(
    uow: UnitOfWork,
    *,
    agency_id: str,
    actor: str,
    code: str,
    name: str,
    base_url: str,
    public_key: str,
    contact: str,
    allowed: Sequence[Network] = (),
) -> Partner:
    partner = uow.exchange.add_partner(
        agency_id=agency_id,
        code=parse_code(code),
        name=name.strip() or code,
        base_url=parse_base_url(base_url, allowed),
        public_key=parse_public_key(public_key),
        contact=contact.strip(),
    )
    _audit(uow, actor, agency_id, "partner.added", "partner", partner.id, {"code": partner.code})
    return partner


def add_partner_as(
    uow: UnitOfWork, *, viewer: User, allowed: Sequence[Network] = (), **fields: str
) -> Partner:
    _liaison(viewer)
    return add_partner(
        uow, agency_id=viewer.agency_id, actor=viewer.username, allowed=allowed, **fields
    )


def remove_partner(uow: UnitOfWork, *, agency_id: str, actor: str, partner_id: str) -> None:
    partner = uow.exchange.get_partner(agency_id, partner_id)
    uow.exchange.remove_partner(agency_id, partner_id)
    _audit(uow, actor, agency_id, "partner.removed", "partner", partner_id, {"code": partner.code})


# --- agreements --------------------------------------------------------------------------------


def agreement_document(agreement: Agreement, *, sender: str, receiver: str) -> dict[str, Any]:
    """The proposal to sign and send, issued now with a fresh nonce (sent again, it is a new
    document: a captured copy cannot be replayed)."""
    return {
        "schema": AGREEMENT_SCHEMA,
        "id": agreement.id,
        "from": sender,
        "to": receiver,
        "terms": agreement.terms.as_dict(),
        "issued_at": datetime.now(UTC).isoformat(),
        "nonce": secrets.token_hex(16),
    }


def answer_document(
    agreement_id: str, *, sender: str, receiver: str, action: str, when: datetime
) -> dict[str, Any]:
    return {
        "schema": ANSWER_SCHEMA,
        "id": agreement_id,
        "from": sender,
        "to": receiver,
        "action": action,
        "at": when.isoformat(),
        "issued_at": datetime.now(UTC).isoformat(),
        "nonce": secrets.token_hex(16),
    }


def admit_signed(
    uow: UnitOfWork,
    *,
    agency_id: str,
    partner: Partner,
    issued_at: datetime,
    nonce: str,
    now: datetime,
    window: timedelta = DOCUMENT_WINDOW,
) -> None:
    """Refuse (Replayed) what a partner signed too long ago, or sent already; remember the
    nonce, and forget those no window admits any more."""
    reason = staleness(issued_at, now, window)
    if reason is not None:
        raise Replayed(
            "refused: a stale signed document or request (%(reason)s; replayed?)",
            reason=reason,
            agency_id=agency_id,
            partner=partner.code,
            nonce=nonce,
        )
    if not uow.exchange.remember_nonce(agency_id, partner.id, nonce, now):
        raise Replayed(
            "refused: this signed document or request was already received (its nonce was"
            " seen): a replay",
            agency_id=agency_id,
            partner=partner.code,
            nonce=nonce,
        )
    uow.exchange.forget_nonces(now - NONCE_MEMORY)


def _admit_document(
    uow: UnitOfWork, document: dict[str, Any], agency_id: str, partner: Partner, window: timedelta
) -> None:
    admit_signed(
        uow,
        agency_id=agency_id,
        partner=partner,
        issued_at=parse_issued_at(document.get("issued_at")),
        nonce=parse_nonce(document.get("nonce")),
        now=datetime.now(UTC),
        window=window,
    )


def record_replay(uow: UnitOfWork, refusal: Replayed) -> None:
    """Audit a refused replay, in a transaction of its own (nothing else was changed)."""
    partner = uow.exchange.partner_by_code(refusal.agency_id, refusal.partner)
    _audit(
        uow,
        refusal.partner,
        refusal.agency_id,
        "exchange.replay_refused",
        "partner",
        partner.id if partner else refusal.partner,
        {"partner": refusal.partner, "nonce": refusal.nonce, "reason": _said(refusal)},
    )


def _said(error: Exception) -> dict[str, object]:
    """An error's message as an audit event keeps it: its id and values (read in the
    reader's language)."""
    return message_of(error).as_dict()


def propose_agreement(
    uow: UnitOfWork, *, viewer: User, partner_id: str, terms: dict[str, Any]
) -> tuple[Agreement, dict[str, Any]]:
    """Record a proposal; return it and the document to sign and send to the partner."""
    _liaison(viewer)
    partner = uow.exchange.get_partner(viewer.agency_id, partner_id)
    now = datetime.now(UTC)
    agreement = Agreement(
        id=str(uuid.uuid4()),
        agency_id=viewer.agency_id,
        partner_id=partner.id,
        role="proposer",
        status=AgreementStatus.PROPOSED,
        terms=parse_terms(terms),
        created_at=now,
        changed_at=now,
    )
    uow.exchange.add_agreement(agreement)
    _audit(
        uow,
        viewer.username,
        viewer.agency_id,
        "agreement.proposed",
        "agreement",
        agreement.id,
        {"partner": partner.code, "terms": agreement.terms.as_dict()},
    )
    agency = uow.agencies.get(viewer.agency_id)
    return agreement, agreement_document(agreement, sender=agency.code, receiver=partner.code)


def receive_proposal(
    uow: UnitOfWork, *, document: dict[str, Any], window: timedelta = DOCUMENT_WINDOW
) -> Agreement:
    """A proposal from a partner, its signature already verified against `from`'s key;
    Replayed when stale or seen before."""
    refuse_retired(document.get("schema"))
    if document.get("schema") != AGREEMENT_SCHEMA:
        raise InvalidInput(
            "unknown agreement schema %(schema)s", schema=repr(document.get("schema"))
        )
    agency, partner = parties_of(uow, document)
    _admit_document(uow, document, agency, partner, window)
    try:
        agreement_id = str(uuid.UUID(str(document.get("id"))))
    except ValueError:
        raise InvalidInput("the agreement's id is not a UUID") from None
    if not isinstance(document.get("terms"), dict):
        raise InvalidInput("the proposal states no terms")
    now = datetime.now(UTC)
    agreement = Agreement(
        id=agreement_id,
        agency_id=agency,
        partner_id=partner.id,
        role="receiver",
        status=AgreementStatus.PROPOSED,
        terms=parse_terms(document["terms"]),
        created_at=now,
        changed_at=now,
    )
    uow.exchange.add_agreement(agreement)
    _audit(
        uow,
        partner.code,
        agency,
        "agreement.received",
        "agreement",
        agreement.id,
        {"partner": partner.code, "terms": agreement.terms.as_dict()},
    )
    return agreement


def parties_of(uow: UnitOfWork, document: dict[str, Any]) -> tuple[str, Partner]:
    """(our agency id, the sending partner) that a signed document or request names; the
    reason when there is no such agency here or the sender is not its partner (for the
    operators: the web endpoints answer all of these alike until a signature verifies)."""
    try:
        agency = uow.agencies.get_by_code(str(document.get("to")))
    except NotFound:
        raise InvalidInput("no agency %(to)s here", to=repr(document.get("to"))) from None
    partner = uow.exchange.partner_by_code(agency.id, str(document.get("from")))
    if partner is None:
        raise PermissionDenied(
            "%(sender)s is not a partner of %(agency)s",
            sender=repr(document.get("from")),
            agency=agency.code,
        )
    return agency.id, partner


def sender_key(uow: UnitOfWork, document: dict[str, Any]) -> str:
    """The public key a document claiming to come from `from` to `to` must verify with."""
    _, partner = parties_of(uow, document)
    return partner.public_key


def answer_agreement(
    uow: UnitOfWork, *, viewer: User, agreement_id: str, action: str
) -> tuple[Agreement, Partner, dict[str, Any]]:
    """Accept, decline, suspend, resume or terminate; return the answer to sign and send."""
    _liaison(viewer)
    agreement = uow.exchange.get_agreement(viewer.agency_id, agreement_id)
    status = next_status(agreement, action, by_receiver=agreement.role == "receiver")
    now = datetime.now(UTC)
    uow.exchange.set_agreement_status(viewer.agency_id, agreement_id, status, now)
    partner = uow.exchange.get_partner(viewer.agency_id, agreement.partner_id)
    _audit(
        uow,
        viewer.username,
        viewer.agency_id,
        f"agreement.{status.value}",
        "agreement",
        agreement_id,
        {"partner": partner.code, "action": action},
    )
    agency = uow.agencies.get(viewer.agency_id)
    document = answer_document(
        agreement_id, sender=agency.code, receiver=partner.code, action=action, when=now
    )
    return uow.exchange.get_agreement(viewer.agency_id, agreement_id), partner, document


def receive_answer(
    uow: UnitOfWork, *, document: dict[str, Any], window: timedelta = DOCUMENT_WINDOW
) -> Agreement:
    """An answer (accept, suspend, …) from a partner, its signature already verified;
    Replayed when stale or seen before, and then nothing changes."""
    refuse_retired(document.get("schema"))
    if document.get("schema") != ANSWER_SCHEMA:
        raise InvalidInput("unknown answer schema %(schema)s", schema=repr(document.get("schema")))
    agency, partner = parties_of(uow, document)
    _admit_document(uow, document, agency, partner, window)
    agreement = uow.exchange.get_agreement(agency, str(document.get("id")))
    if agreement.partner_id != partner.id:
        raise PermissionDenied("this agreement is not with the sender")
    action = str(document.get("action"))
    status = next_status(agreement, action, by_receiver=agreement.role == "proposer")
    uow.exchange.set_agreement_status(agency, agreement.id, status, datetime.now(UTC))
    _audit(
        uow,
        partner.code,
        agency,
        f"agreement.{status.value}",
        "agreement",
        agreement.id,
        {"partner": partner.code, "action": action, "by": "partner"},
    )
    return uow.exchange.get_agreement(agency, agreement.id)


# --- the feed ----------------------------------------------------------------------------------


def build_feed(
    uow: UnitOfWork, *, publisher_id: str, subscriber: Partner, cursor: int, now: datetime
) -> FeedPage:
    """What the agreements with `subscriber` let flow after `cursor`, one page."""
    agency = uow.agencies.get(publisher_id)
    agreements = uow.exchange.agreements(publisher_id, subscriber.id)
    events = uow.exchange.events_after(publisher_id, max(cursor, 0), FEED_PAGE)
    next_cursor = events[-1].seq if events else max(cursor, 0)
    return FeedPage(
        publisher=agency.code,
        subscriber=subscriber.code,
        cursor=cursor,
        next_cursor=next_cursor,
        entries=tuple(feed_entries(events, agreements, now, subscriber.code)),
        issued_at=now,
        more=len(events) == FEED_PAGE,
        nonce=secrets.token_hex(16),
        audit_head=str(uow.audit.anchor()),
    )


@dataclass(frozen=True, slots=True)
class SyncOutcome:
    imported: int
    retracted: int
    notices: int
    refused: tuple[Message, ...] = ()  # why each entry that could not be read was left out


def partner_bank_name(partner: Partner) -> str:
    return f"partner-{partner.code}"


def _partner_bank(uow: UnitOfWork, partner: Partner) -> Bank:
    name = partner_bank_name(partner)
    try:
        return uow.banks.get_by_name(partner.agency_id, name)
    except NotFound:
        return uow.banks.add(
            agency_id=partner.agency_id,
            name=name,
            kind=BankKind.POSITIVE,
            origin=BankOrigin.PARTNER,
            description=partner_bank_description(partner.name, partner.code),
            thresholds={},
        )


def apply_feed(
    uow: UnitOfWork, *, partner: Partner, page: FeedPage, asked_cursor: int, now: datetime
) -> SyncOutcome:
    """Import a verified page into the partner bank; InvalidInput (nothing imported) when any
    entry is outside our copy of the agreements."""
    agency = uow.agencies.get(partner.agency_id)
    agreements = {a.id: a for a in uow.exchange.agreements(agency.id, partner.id)}
    problems = check_page(
        page,
        partner=partner,
        our_code=agency.code,
        asked_cursor=asked_cursor,
        agreements=agreements,
        now=now,
    )
    if len(problems) == 1:
        raise InvalidInput("the page is refused: %(problem)s", problem=problems[0])
    if problems:
        raise InvalidInput(
            "the page is refused: %(problem)s (and %(more)s other problems)",
            problem=problems[0],
            more=len(problems) - 1,
        )
    bank = _partner_bank(uow, partner)
    imported = retracted = notices = 0
    # Additions in a row are written to the bank together, one statement for the page rather
    # than one for each entry; anything else waits for them, so that the page is taken in the
    # order it was written (an entry added, then withdrawn, stays withdrawn).
    additions: list[FeedEntry] = []
    for entry in page.entries:
        if entry.kind is EventKind.ADD:
            additions.append(entry)
            continue
        imported += _add_partner_entries(uow, bank, partner, agreements, additions, now)
        additions = []
        signal = parse_signal(entry.signal_type, entry.value)
        if entry.kind is EventKind.RETRACT:
            try:
                uow.banks.remove_entry(bank.id, signal.type, signal.value)
                retracted += 1
            except NotFound:
                pass
            else:
                if entry.distribution is Distribution.ONWARD:
                    _pass_on(uow, partner, entry, Labels(), now)
        elif entry.kind is EventKind.RELEASE:
            uow.exchange.lift_partner_signal(
                agency.id, partner.id, signal_type=signal.type, value=signal.value, at=entry.at
            )
            notices += 1
        else:
            uow.exchange.add_partner_signal(
                agency.id,
                partner.id,
                kind=entry.kind.value,
                signal_type=signal.type,
                value=signal.value,
                at=entry.at,
            )
            notices += 1
    imported += _add_partner_entries(uow, bank, partner, agreements, additions, now)
    refused = tuple(r.message() for r in page.refused)
    if imported or retracted or notices or refused:
        details: dict[str, object] = {
            "cursor": page.next_cursor,
            "imported": imported,
            "retracted": retracted,
            "notices": notices,
        }
        if refused:
            details["refused"] = [r.as_dict() for r in refused]
        _audit(uow, partner.code, agency.id, "exchange.imported", "partner", partner.id, details)
    return SyncOutcome(imported, retracted, notices, refused)


def _add_partner_entries(
    uow: UnitOfWork,
    bank: Bank,
    partner: Partner,
    agreements: Mapping[str, Agreement],
    entries: Sequence[FeedEntry],
    now: datetime,
) -> int:
    """Write a partner's additions to its bank at once; pass on, in the page's order, those
    shared onward that the bank did not hold. The number written. An entry that comes twice
    is written once, under the stricter of its markings, as one after the other would be."""
    if not entries:
        return 0
    labelled = [(entry, _partner_labels(partner, entry)) for entry in entries]
    added = uow.banks.add_entries(
        bank.id,
        [_partner_entry(partner, agreements, entry, labels, now) for entry, labels in labelled],
    )
    written = {(e.signal.type, e.signal.value) for e in added}
    for entry, labels in labelled:
        key = (entry.signal_type, entry.value)
        if key in written:
            written.discard(key)  # the first of its signal is the one that added it
            if entry.distribution is Distribution.ONWARD:
                _pass_on(uow, partner, entry, labels, now)
    return len(added)


def _partner_labels(partner: Partner, entry: FeedEntry) -> Labels:
    return Labels(
        category=parse_category(entry.category) if entry.category else None,
        tier=parse_tier(entry.tier) if entry.tier else None,
        tags=frozenset(entry.tags) | {f"partner:{partner.code}"},
    )


def _partner_entry(
    partner: Partner,
    agreements: Mapping[str, Agreement],
    entry: FeedEntry,
    labels: Labels,
    now: datetime,
) -> NewEntry:
    retention = agreements[entry.agreement].terms.retention_days
    decided = (entry.decision or {}).get("decided_at")
    return NewEntry(
        parse_signal(entry.signal_type, entry.value),
        labels,
        note=partner_note(partner.code, decided) if decided else "",
        provenance=f"{partner.code}, agreement {entry.agreement}, #{entry.seq}"
        f", TLP:{entry.tlp.value.upper()}, distribution {entry.distribution.value}",
        expires_at=now + timedelta(days=retention),
        tlp=entry.tlp,
        distribution=entry.distribution,
    )


def _pass_on(
    uow: UnitOfWork, partner: Partner, entry: FeedEntry, labels: Labels, now: datetime
) -> None:
    """An entry shared "onward" goes into our outbox, for our other partners' agreements,
    marked with where it came from and the TLP it came under (it never widens)."""
    uow.exchange.add_event(
        partner.agency_id,
        kind=entry.kind,
        signal_type=entry.signal_type,
        value=entry.value,
        labels=Labels(category=labels.category, tier=labels.tier, tags=frozenset(entry.tags)),
        decision=None,
        when=now,
        origin=partner.code,
        tlp_floor=entry.tlp.value,
    )


def take_page(uow: UnitOfWork, *, partner: Partner, page: FeedPage, now: datetime) -> SyncOutcome:
    """Apply a verified page from the partner's cursor and log it; InvalidInput (logged by
    the caller as refused) when any check fails, and nothing is imported."""
    cursor = partner.cursor
    outcome = apply_feed(uow, partner=partner, page=page, asked_cursor=cursor, now=now)
    # The publisher's audit head, as it signed it: kept so that the partner's log can be held
    # to it later (a head that goes backwards or changes says its log was rewritten).
    uow.exchange.record_witnessed_head(partner.id, page.audit_head, now)
    uow.exchange.record_sync(
        partner.id,
        at=now,
        outcome="ok",
        cursor=page.next_cursor,
        imported=outcome.imported,
        retracted=outcome.retracted,
        detail=_page_taken(page, cursor, outcome),
    )
    return outcome


def _page_taken(page: FeedPage, cursor: int, outcome: SyncOutcome) -> Message:
    """What the sync log says of a page taken in: its entries and cursors, and why each entry
    that could not be read was left out."""
    taken = {"entries": len(page.entries), "start": cursor, "end": page.next_cursor}
    if not outcome.refused:
        return Message("%(entries)s entries from cursor %(start)s to %(end)s", taken)
    refused = Message(
        "entries left out (%(count)s): %(reasons)s",
        {"count": len(outcome.refused), "reasons": joined(outcome.refused[:MAX_REASONS_LOGGED])},
    )
    return Message(
        "%(entries)s entries from cursor %(start)s to %(end)s; %(refused)s",
        taken | {"refused": refused},
    )


# A page full of entries we cannot read says why of the first few (the log keeps 2,000
# characters of it).
MAX_REASONS_LOGGED = 5


def expire_partner_entries(uow: UnitOfWork, *, agency_id: str, now: datetime) -> int:
    """Partner entries past the retention their agreement gives them go; audited."""
    purged = uow.exchange.purge_expired(agency_id, now)
    if purged:
        _audit(uow, "job", agency_id, "exchange.expired", "agency", agency_id, {"entries": purged})
    return purged


# --- holds and deconfliction -------------------------------------------------------------------


def _shared_signals(case: CaseDetail) -> dict[str, str]:
    return {k: v for k, v in case.signals.items() if k in SHARED_SIGNALS}


def _case_signals(uow: UnitOfWork, agency_id: str, case_id: str) -> dict[str, str]:
    return _shared_signals(uow.queue.get_case(agency_id, case_id))


def set_observation_hold(uow: UnitOfWork, *, viewer: User, case_id: str, reason: str) -> None:
    """ "Leave up, under observation": our referrals on it are blocked, and partners whose
    agreements share holds learn that it is held (never why)."""
    if not (viewer.can(Permission.APPROVE_ORDER) or viewer.can(Permission.MANAGE_PARTNERS)):
        raise PermissionDenied("only approvers and liaison officers set observation holds")
    text = reason.strip()
    if len(text) < MIN_REASON:
        raise InvalidInput(
            "give the reason (%(minimum)s characters at least)", field="observe", minimum=MIN_REASON
        )
    signals = _case_signals(uow, viewer.agency_id, case_id)
    now = datetime.now(UTC)
    uow.exchange.add_hold(viewer.agency_id, case_id, reason=text, set_by=viewer.username, when=now)
    for kind, value in signals.items():
        uow.exchange.add_event(
            viewer.agency_id,
            kind=EventKind.HOLD,
            signal_type=kind,
            value=value,
            labels=Labels(),
            decision=None,
            when=now,
        )
    _audit(
        uow,
        viewer.username,
        viewer.agency_id,
        "case.observation_hold",
        "case",
        case_id,
        {"reason": text},
    )


def lift_observation_hold(uow: UnitOfWork, *, viewer: User, case_id: str) -> None:
    if not (viewer.can(Permission.APPROVE_ORDER) or viewer.can(Permission.MANAGE_PARTNERS)):
        raise PermissionDenied("only approvers and liaison officers lift observation holds")
    now = datetime.now(UTC)
    if not uow.exchange.lift_holds(viewer.agency_id, case_id, now):
        raise Conflict("no observation hold on this case")
    for kind, value in _case_signals(uow, viewer.agency_id, case_id).items():
        uow.exchange.add_event(
            viewer.agency_id,
            kind=EventKind.RELEASE,
            signal_type=kind,
            value=value,
            labels=Labels(),
            decision=None,
            when=now,
        )
    _audit(uow, viewer.username, viewer.agency_id, "case.observation_lifted", "case", case_id, {})


@dataclass(frozen=True, slots=True)
class Deconfliction:
    holds: list[ObservationHold]
    partner_holds: list[PartnerNotice]
    partner_referrals: list[PartnerNotice]

    @property
    def blocked(self) -> bool:
        return bool(self.holds or self.partner_holds)


def deconfliction(uow: UnitOfWork, *, agency_id: str, case: CaseDetail) -> Deconfliction:
    """Holds (ours and partners') and partners' referrals on a case already read."""
    notices = uow.exchange.partner_signals(agency_id, _shared_signals(case))
    return Deconfliction(
        holds=uow.exchange.case_holds(agency_id, case.summary.id),
        partner_holds=[n for n in notices if n.kind == "hold"],
        partner_referrals=[n for n in notices if n.kind == "referred"],
    )


def check_referral_allowed(
    uow: UnitOfWork,
    *,
    viewer: User,
    case: CaseDetail,
    override: str,
    state: Deconfliction | None = None,
) -> None:
    """A held case is not referred, unless an approver overrides with a written reason
    (`state`: the case's deconfliction when the caller has read it already)."""
    case_id = case.summary.id
    if state is None:
        state = deconfliction(uow, agency_id=viewer.agency_id, case=case)
    if not state.blocked:
        return
    who = [f"{n.partner_name} ({n.partner_code})" for n in state.partner_holds]
    unit = uow.agencies.get(viewer.agency_id).name
    who += [f"{h.set_by} ({unit})" for h in state.holds]
    if not override.strip():
        raise Conflict(
            "this content is under observation, held by %(holders)s: contact them, or an"
            " approver overrides the hold with a written reason",
            holders="; ".join(who),
        )
    if not viewer.can(Permission.APPROVE_ORDER):
        raise PermissionDenied("only an approver can override an observation hold")
    if len(override.strip()) < MIN_REASON:
        raise InvalidInput(
            "write why the hold is overridden (%(minimum)s characters at least)",
            field="override",
            minimum=MIN_REASON,
        )
    _audit(
        uow,
        viewer.username,
        viewer.agency_id,
        "referral.hold_overridden",
        "case",
        case_id,
        {"reason": override.strip(), "holds": who},
    )


def announce_referral(uow: UnitOfWork, *, agency_id: str, case_id: str, when: datetime) -> None:
    """Partners whose agreements share decisions learn that this content was referred."""
    for kind, value in _case_signals(uow, agency_id, case_id).items():
        uow.exchange.add_event(
            agency_id,
            kind=EventKind.REFERRED,
            signal_type=kind,
            value=value,
            labels=Labels(),
            decision={"referred_at": when.isoformat(timespec="seconds")},
            when=when,
        )
