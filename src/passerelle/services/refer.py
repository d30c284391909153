"""Referrals: the hosting-provider directory, preparing a referral or a removal order from a
decided case, the second person's approval (four eyes), and the notice in fr or en."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, select_autoescape

from passerelle.core.audit import AuditEntry, AuditEvent
from passerelle.core.decision import Decision, Verdict
from passerelle.core.errors import Conflict, ExternalServiceError, InvalidInput, PermissionDenied
from passerelle.core.identity import Locale, Permission, User
from passerelle.core.message import message_of
from passerelle.core.ports import Mailer, UnitOfWork
from passerelle.core.referral import (
    Host,
    Referral,
    ReferralKind,
    ReferralStatus,
    deadline_for,
    needs_approval,
    parse_domain,
    parse_email,
    parse_kind,
)
from passerelle.core.timestamps import parse_minute
from passerelle.services.exchange import (
    MIN_REASON,
    Deconfliction,
    announce_referral,
    check_referral_allowed,
    deconfliction,
)

UnitOfWorkFactory = Callable[[], AbstractContextManager[UnitOfWork]]

TITLES = {
    ReferralKind.REFERRAL: (
        "Notification de contenu à caractère terroriste",
        "Referral of terrorist content",
    ),
    ReferralKind.FR_ADMIN_REQUEST: (
        "Demande de retrait (LCEN, article 6-1)",
        "Removal request (LCEN, Article 6-1)",
    ),
    ReferralKind.TCO_REMOVAL_ORDER: (
        "Injonction de retrait (règlement (UE) 2021/784, article 3)",
        "Removal order (Regulation (EU) 2021/784, Article 3)",
    ),
}
CATEGORY_TEXT = {  # the wording of the console's catalogue (category_a … category_e)
    "a": (
        "incite à commettre des infractions terroristes",
        "incites the commission of terrorist offences",
    ),
    "b": (
        "sollicite une personne ou un groupe pour commettre des infractions terroristes",
        "solicits a person or a group to commit terrorist offences",
    ),
    "c": (
        "sollicite la participation aux activités d’un groupe terroriste",
        "solicits participation in the activities of a terrorist group",
    ),
    "d": (
        "fournit des instructions sur des armes, des explosifs ou d’autres méthodes",
        "provides instruction on weapons, explosives or other methods",
    ),
    "e": (
        "menace de commettre une infraction terroriste",
        "threatens to commit a terrorist offence",
    ),
}
# The statement of reasons the host reads, prefilled from the category (editable).
STATEMENT = {
    "fr": "Ce contenu relève de l’article 2, point 7 ({category}) du règlement (UE) 2021/784 :"
    " il {text}. Il est accessible au public à l’adresse indiquée.",
    "en": "This content falls under Article 2(7)({category}) of Regulation (EU) 2021/784:"
    " it {text}. It is publicly accessible at the address given.",
}
MAX_STATEMENT = 5000
ISSUE_SLACK = timedelta(minutes=2)  # a clock a little ahead; a notice a day old is stale
ISSUE_MAX_AGE = timedelta(hours=24)
LEGAL_TEXT = {
    "fr_code_penal_421_2_5": (
        "Code pénal, article 421-2-5",
        "French Criminal Code, Article 421-2-5",
    ),
    "fr_lcen_6_1": ("loi n° 2004-575 (LCEN), article 6-1", "Law No. 2004-575 (LCEN), Article 6-1"),
    "ca_criminal_code_83_221": ("Code criminel, article 83.221", "Criminal Code, section 83.221"),
}


def add_host(
    uow: UnitOfWork,
    *,
    agency_code: str,
    actor: str,
    domain: str,
    name: str,
    email: str,
    language: str,
) -> Host:
    """Add a hosting provider to an agency's directory (from the CLI and the demo)."""
    agency = uow.agencies.get_by_code(agency_code)
    return _add_host(
        uow, agency.id, actor, domain=domain, name=name, email=email, language=language
    )


def register_host(
    uow: UnitOfWork, *, viewer: User, domain: str, name: str, email: str, language: str
) -> Host:
    """Add a hosting provider from the console (approvers, liaisons, administrators)."""
    _may_manage_hosts(viewer)
    return _add_host(
        uow,
        viewer.agency_id,
        viewer.username,
        domain=domain,
        name=name,
        email=email,
        language=language,
    )


def update_host(
    uow: UnitOfWork, *, viewer: User, host_id: str, name: str, email: str, language: str
) -> Host:
    """Change a provider's contact, name or notice language; its domain stays (referrals
    already sent name it)."""
    _may_manage_hosts(viewer)
    current = uow.referrals.get_host(viewer.agency_id, host_id)
    clean_email = parse_email(email)
    _check_language(language)
    host = uow.referrals.update_host(
        viewer.agency_id,
        host_id,
        name=name.strip() or current.domain,
        email=clean_email,
        language=language,
    )
    changed = {
        key: getattr(host, key)
        for key in ("name", "email", "language")
        if getattr(host, key) != getattr(current, key)
    }
    if changed:
        _audit(uow, viewer, "host.updated", "host", host.id, {"domain": host.domain, **changed})
    return host


def _may_manage_hosts(viewer: User) -> None:
    if not viewer.can(Permission.MANAGE_HOSTS):
        raise PermissionDenied("only approvers, liaisons and administrators keep the directory")


def _check_language(language: str) -> None:
    if language not in {loc.value for loc in Locale}:
        raise InvalidInput("notice language must be fr or en", field="language")


def _add_host(
    uow: UnitOfWork,
    agency_id: str,
    actor: str,
    *,
    domain: str,
    name: str,
    email: str,
    language: str,
) -> Host:
    clean = parse_domain(domain)
    clean_email = parse_email(email)
    _check_language(language)
    host = uow.referrals.add_host(
        agency_id=agency_id,
        domain=clean,
        name=name.strip() or clean,
        email=clean_email,
        language=language,
    )
    uow.audit.append(AuditEntry("host.added", actor, agency_id, "host", host.id, {"domain": clean}))
    return host


def _audit(
    uow: UnitOfWork, viewer: User, action: str, kind: str, object_id: str, details: dict[str, Any]
) -> None:
    uow.audit.append(
        AuditEntry(action, viewer.username, viewer.agency_id, kind, object_id, details)
    )


def _terrorist_decision(uow: UnitOfWork, viewer: User, case_id: str) -> Decision:
    decisions = uow.decisions.list_for_case(viewer.agency_id, case_id)
    if not decisions or decisions[-1].verdict is not Verdict.TERRORIST:
        raise Conflict("only a case decided as terrorist content can be referred")
    return decisions[-1]


def default_statement(
    uow: UnitOfWork,
    *,
    viewer: User,
    case_id: str,
    language: str,
    decision: Decision | None = None,
) -> str:
    """The statement of reasons for the host, prefilled from the decision's category
    (`decision`: the case's terrorist-content decision, when the caller has read it)."""
    if decision is None:
        decision = _terrorist_decision(uow, viewer, case_id)
    category = decision.category.value if decision.category else ""
    if category not in CATEGORY_TEXT:
        return ""
    fr, en = CATEGORY_TEXT[category]
    if language == "en":
        return STATEMENT["en"].format(category=category, text=en)
    return STATEMENT["fr"].format(category=category, text=fr)


@dataclass(frozen=True, slots=True)
class LiveMeasure:
    """A referral or order already made on the same content: ours, or a partner's."""

    referral_id: str | None  # ours: the page to open
    case_id: str | None
    kind: str
    status: str
    partner: str | None
    at: datetime


def live_measures(
    uow: UnitOfWork,
    *,
    viewer: User,
    case_id: str,
    exchange: Deconfliction | None = None,
    related: list[tuple[str, int | None]] | None = None,
    referrals: list[Referral] | None = None,
) -> list[LiveMeasure]:
    """Referrals and orders on this content already: ours on this case or on a case of the
    same or a nearly identical item, and the partners' (through the exchange). What the
    caller has read already is not read again: `exchange`, the case's deconfliction;
    `related`, its related cases; `referrals`, its own referrals."""
    found: list[LiveMeasure] = []
    if related is None:
        related = uow.queue.related_cases(viewer.agency_id, case_id)
    cases = [case_id] + [other for other, _ in related]
    for one in cases:
        if one == case_id and referrals is not None:
            ours = referrals
        else:
            ours = uow.referrals.for_case(viewer.agency_id, one)
        for r in ours:
            found.append(LiveMeasure(r.id, one, r.kind.value, r.status.value, None, r.created_at))
    if exchange is None:
        detail = uow.queue.get_case(viewer.agency_id, case_id)
        exchange = deconfliction(uow, agency_id=viewer.agency_id, case=detail)
    for notice in exchange.partner_referrals:
        found.append(LiveMeasure(None, None, "referral", "sent", notice.partner_name, notice.at))
    return found


def prepare_referral(
    uow: UnitOfWork,
    *,
    viewer: User,
    case_id: str,
    kind: str,
    language: str = "",
    override: str = "",
    statement: str = "",
    again: str = "",
) -> Referral:
    """Prepare a referral or an order from a case decided as terrorist content. Content
    under observation (our hold or a partner's) is not referred unless an approver
    overrides the hold with a written reason (`override`). Content that already has a
    referral or an order (ours or a partner's) is referred again only with a written reason
    (`again`). The statement of reasons for the host defaults to the category's."""
    if not viewer.can(Permission.REVIEW):
        raise PermissionDenied("only analysts and approvers prepare referrals")
    detail = uow.queue.get_case(viewer.agency_id, case_id)
    decision = _terrorist_decision(uow, viewer, case_id)
    exchange = deconfliction(uow, agency_id=viewer.agency_id, case=detail)
    check_referral_allowed(uow, viewer=viewer, case=detail, override=override, state=exchange)
    existing = live_measures(uow, viewer=viewer, case_id=case_id, exchange=exchange)
    if existing and len(again.strip()) < MIN_REASON:
        raise InvalidInput(
            "this content already has a referral or an order: say why another one is needed"
            " (%(minimum)s characters at least)",
            field="again",
            minimum=MIN_REASON,
        )
    clean_statement = statement.strip()
    if len(clean_statement) > MAX_STATEMENT:
        raise InvalidInput(
            "the statement of reasons is limited to %(limit)s characters",
            field="statement",
            limit=MAX_STATEMENT,
        )
    agency = uow.agencies.get(viewer.agency_id)
    chosen = parse_kind(kind, agency.jurisdiction)
    url = detail.summary.url
    hostname = urlsplit(url).hostname if url else None
    if not url or not hostname:
        raise InvalidInput("this content has no web address to refer", field="kind")
    host = uow.referrals.host_for(agency.id, hostname)
    if host is None:
        raise InvalidInput(
            "no hosting provider known for %(hostname)s: add it to the directory first",
            field="host",
            hostname=hostname,
        )
    status = ReferralStatus.AWAITING_APPROVAL if needs_approval(chosen) else ReferralStatus.READY
    notice_language = language if language in ("fr", "en") else host.language
    moment = datetime.now(UTC)
    referral = uow.referrals.add(
        Referral(
            id=str(uuid.uuid4()),
            agency_id=agency.id,
            case_id=case_id,
            host_id=host.id,
            kind=chosen,
            status=status,
            language=notice_language,
            url=url,
            created_by=viewer.username,
            created_at=moment,
            statement=clean_statement
            or default_statement(
                uow, viewer=viewer, case_id=case_id, language=notice_language, decision=decision
            ),
            hold_override_at=moment if override.strip() else None,
        )
    )
    details: dict[str, Any] = {
        "case": case_id,
        "kind": chosen.value,
        "host": host.domain,
        "status": status.value,
    }
    if existing:
        details["again"] = again.strip()
        details["existing"] = [m.referral_id or m.partner for m in existing]
    _audit(uow, viewer, "referral.prepared", "referral", referral.id, details)
    return referral


def check_holds(uow: UnitOfWork, *, viewer: User, referral: Referral, override: str) -> None:
    """A hold set after the referral was prepared (or after the last override) blocks its
    approval and its sending, as it blocks preparing one; an approver overrides it with a
    written reason, recorded on the referral."""
    detail = uow.queue.get_case(viewer.agency_id, referral.case_id)
    state = deconfliction(uow, agency_id=viewer.agency_id, case=detail)
    times = [h.set_at for h in state.holds] + [n.at for n in state.partner_holds]
    if not times:
        return
    if referral.hold_override_at is not None and referral.hold_override_at >= max(times):
        return
    check_referral_allowed(uow, viewer=viewer, case=detail, override=override, state=state)
    uow.referrals.override_holds(viewer.agency_id, referral.id, datetime.now(UTC))


def referral_events(uow: UnitOfWork, *, viewer: User, referral_id: str) -> list[AuditEvent]:
    """What happened to a referral, the host's acts through its link included, in order."""
    referral = uow.referrals.get(viewer.agency_id, referral_id)
    return uow.audit.list_for_object(viewer.agency_id, "referral", referral.id)


def approve_referral(
    uow: UnitOfWork, *, viewer: User, referral_id: str, override: str = ""
) -> Referral:
    """Four eyes: a removal order is approved by an approver who did not prepare it; not
    while the content is under observation, unless the approver overrides the hold."""
    referral = uow.referrals.get(viewer.agency_id, referral_id)
    if not viewer.can(Permission.APPROVE_ORDER):
        raise PermissionDenied("only approvers approve removal orders")
    if referral.created_by == viewer.username:
        raise PermissionDenied("four eyes: the author of a removal order cannot approve it")
    if referral.status is not ReferralStatus.AWAITING_APPROVAL:
        raise Conflict("this referral is not awaiting approval")
    check_holds(uow, viewer=viewer, referral=referral, override=override)
    uow.referrals.approve(viewer.agency_id, referral_id, viewer.username, datetime.now(UTC))
    _audit(uow, viewer, "referral.approved", "referral", referral_id, {"kind": referral.kind.value})
    return uow.referrals.get(viewer.agency_id, referral_id)


def mark_sent(
    uow: UnitOfWork,
    *,
    viewer: User,
    referral_id: str,
    issued: datetime | None = None,
    override: str = "",
    now: datetime | None = None,
) -> Referral:
    """The notice went out by the unit's own means (downloaded): the time of issue printed on
    it (`issued`, that of the page it was downloaded from) is recorded, and the deadline runs
    from it, as the notice says."""
    moment = now or datetime.now(UTC)
    referral = _sendable(uow, viewer, referral_id, override)
    when = check_issue_time(referral, issued or moment, moment)
    return _record_sent(uow, viewer, referral, when, {"channel": "manual"})


def issue_time(now: datetime | None = None) -> datetime:
    """The time of issue a notice prints: to the minute, as the host reads it."""
    return (now or datetime.now(UTC)).replace(second=0, microsecond=0)


def parse_issue_time(text: str) -> datetime | None:
    """A time of issue as the referral page gives it (YYYY-MM-DDTHH:MM, UTC); None if empty."""
    if not text.strip():
        return None
    try:
        return parse_minute(text, "issued")
    except InvalidInput:
        raise InvalidInput("the time of issue must be YYYY-MM-DDTHH:MM", field="issued") from None


def check_issue_time(referral: Referral, issued: datetime, now: datetime) -> datetime:
    """The time of issue of a notice about to be recorded as sent: not in the future, not
    before the referral could be sent, not older than a day (download the notice again)."""
    earliest = issue_time(referral.approved_at or referral.created_at)
    if issued > now + ISSUE_SLACK or issued < earliest or issued < now - ISSUE_MAX_AGE:
        raise InvalidInput(
            "this notice's time of issue is out of date: reload the page and download it again",
            field="issued",
        )
    return issued


def _sendable(uow: UnitOfWork, viewer: User, referral_id: str, override: str = "") -> Referral:
    if not viewer.can(Permission.REVIEW):
        raise PermissionDenied("only analysts and approvers send referrals")
    referral = uow.referrals.get(viewer.agency_id, referral_id)
    if referral.status is ReferralStatus.AWAITING_APPROVAL:
        raise Conflict("this referral cannot be sent: it awaits approval")
    if referral.status is ReferralStatus.SENT:
        raise Conflict("this referral was already sent")
    check_holds(uow, viewer=viewer, referral=referral, override=override)
    return referral


def _record_sent(
    uow: UnitOfWork, viewer: User, referral: Referral, moment: datetime, details: dict[str, Any]
) -> Referral:
    deadline = deadline_for(referral.kind, moment)
    uow.referrals.mark_sent(viewer.agency_id, referral.id, moment, deadline)
    announce_referral(uow, agency_id=viewer.agency_id, case_id=referral.case_id, when=moment)
    _audit(
        uow,
        viewer,
        "referral.sent",
        "referral",
        referral.id,
        details | {"deadline": deadline.isoformat() if deadline else None},
    )
    return uow.referrals.get(viewer.agency_id, referral.id)


@dataclass(frozen=True, slots=True)
class SendOutcome:
    referral: Referral
    error: str | None
    failure: ExternalServiceError | None = None  # the error itself, to say it in any language


def send_referral(
    open_uow: UnitOfWorkFactory,
    *,
    viewer: User,
    referral_id: str,
    mailer: Mailer | None,
    host_link: str = "",
    override: str = "",
    now: datetime | None = None,
) -> SendOutcome:
    """Send the notice by e-mail to the host. A refusing or unreachable server leaves the
    referral "send failed" with the reason, and it can be sent again. The notice is prepared
    in one transaction, sent with none open (a slow mail server must not hold up the
    database), and the outcome recorded in another. The notice carries the time of issue
    and the deadline that are recorded."""
    moment = issue_time(now)
    with open_uow() as uow:
        referral = _sendable(uow, viewer, referral_id, override)
        if mailer is None:
            raise InvalidInput("no mail server is configured (PASSERELLE_SMTP_HOST)")
        host = uow.referrals.get_host(viewer.agency_id, referral.host_id)
        notice = render_notice(
            uow, viewer=viewer, referral_id=referral_id, host_link=host_link, issued=moment
        )
        uow.commit()  # an approver's override of a hold, when one was given
    body = json.dumps(notice.data, ensure_ascii=False, sort_keys=True, indent=2).encode("utf-8")
    try:
        message_id = mailer.send(
            to=host.email,
            subject=f"{notice.data['title']} [{referral.id}]",
            text=notice.text,
            html=notice.html,
            attachment=(f"notice-{referral.id}.json", body),
        )
    except ExternalServiceError as exc:
        with open_uow() as uow:
            failure = message_of(exc)
            uow.referrals.send_failed(viewer.agency_id, referral.id, failure)
            _audit(
                uow,
                viewer,
                "referral.send_failed",
                "referral",
                referral.id,
                {"error": failure.as_dict()},
            )
            uow.commit()
            sent = uow.referrals.get(viewer.agency_id, referral.id)
            return SendOutcome(sent, str(exc), exc)
    details = {"channel": "smtp", "to": host.email, "message_id": message_id}
    with open_uow() as uow:
        referral = _sendable(uow, viewer, referral_id)  # not sent by someone else meanwhile
        outcome = SendOutcome(_record_sent(uow, viewer, referral, moment, details), None)
        uow.commit()
    return outcome


@dataclass(frozen=True, slots=True)
class Notice:
    text: str
    html: str
    data: dict[str, Any]


def render_notice(
    uow: UnitOfWork,
    *,
    viewer: User,
    referral_id: str,
    host_link: str = "",
    issued: datetime | None = None,
) -> Notice:
    """The notice in its language. Before it is sent, it carries the time of issue `issued`
    (now, to the minute, by default) and the deadline it will have from then; once sent,
    the recorded ones."""
    if not viewer.can(Permission.READ_REFERRALS):
        raise PermissionDenied("only reviewers, controllers and liaison officers read referrals")
    referral = uow.referrals.get(viewer.agency_id, referral_id)
    moment = referral.sent_at or issue_time(issued)
    deadline = referral.deadline_at if referral.sent_at else deadline_for(referral.kind, moment)
    host = uow.referrals.get_host(viewer.agency_id, referral.host_id)
    agency = uow.agencies.get(viewer.agency_id)
    decision = _terrorist_decision(uow, viewer, referral.case_id)
    category = decision.category.value if decision.category else ""
    legal = LEGAL_TEXT.get(decision.legal_basis or "", ("", ""))
    title_fr, title_en = TITLES[referral.kind]
    fields: dict[str, Any] = {
        "lang": referral.language,
        "ref": referral.id,
        "kind": referral.kind.value,
        "title_fr": title_fr,
        "title_en": title_en,
        "issued": moment.strftime("%Y-%m-%d %H:%M"),
        "agency": agency.name,
        "jurisdiction": agency.jurisdiction.value,
        "host_name": host.name,
        "host_email": host.email,
        "url": referral.url,
        "deadline": deadline.strftime("%Y-%m-%d %H:%M") if deadline else "",
        "category": category,
        "category_text_fr": CATEGORY_TEXT.get(category, ("", ""))[0],
        "category_text_en": CATEGORY_TEXT.get(category, ("", ""))[1],
        "statement": referral.statement
        or default_statement(
            uow, viewer=viewer, case_id=referral.case_id, language=referral.language
        ),
        "legal_basis": decision.legal_basis or "",
        "legal_basis_fr": legal[0],
        "legal_basis_en": legal[1],
        "approved_by": referral.approved_by or "",
        "complaint_url": host_link,
    }
    environment = Environment(
        loader=PackageLoader("passerelle", "notices"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        keep_trailing_newline=True,
    )
    data = {k: v for k, v in fields.items() if not k.endswith(("_fr", "_en"))}
    data["title"] = title_fr if referral.language == "fr" else title_en
    return Notice(
        text=environment.get_template("notice.txt").render(fields),
        html=environment.get_template("notice.html").render(fields),
        data=data,
    )
