"""Referrals: the hosting-provider directory, preparing a referral or a removal order from a
decided case, the second person's approval (four eyes), and the notice in fr or en."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, select_autoescape

from passerelle.core.audit import AuditEntry
from passerelle.core.decision import Decision, Verdict
from passerelle.core.errors import Conflict, ExternalServiceError, InvalidInput, PermissionDenied
from passerelle.core.identity import Locale, Permission, User
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
from passerelle.services.exchange import announce_referral, check_referral_allowed

UnitOfWorkFactory = Callable[[], AbstractContextManager[UnitOfWork]]

TITLES = {
    ReferralKind.REFERRAL: (
        "Signalement de contenu à caractère terroriste",
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
CATEGORY_TEXT = {
    "a": (
        "incite à commettre des infractions terroristes",
        "incites the commission of terrorist offences",
    ),
    "b": (
        "sollicite la commission d'infractions terroristes",
        "solicits the commission of terrorist offences",
    ),
    "c": (
        "sollicite la participation aux activités d'un groupe terroriste",
        "solicits participation in the activities of a terrorist group",
    ),
    "d": (
        "fournit des instructions pour des armes, explosifs ou méthodes",
        "provides instruction on weapons, explosives or methods",
    ),
    "e": (
        "menace de commettre une infraction terroriste",
        "threatens to commit a terrorist offence",
    ),
}
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


def prepare_referral(
    uow: UnitOfWork,
    *,
    viewer: User,
    case_id: str,
    kind: str,
    language: str = "",
    override: str = "",
) -> Referral:
    """Prepare a referral or an order from a case decided as terrorist content. Content
    under observation (our hold or a partner's) is not referred unless an approver
    overrides the hold with a written reason (`override`)."""
    if not viewer.can(Permission.REVIEW):
        raise PermissionDenied("only analysts and approvers prepare referrals")
    detail = uow.queue.get_case(viewer.agency_id, case_id)
    _terrorist_decision(uow, viewer, case_id)
    check_referral_allowed(uow, viewer=viewer, case=detail, override=override)
    agency = uow.agencies.get(viewer.agency_id)
    chosen = parse_kind(kind, agency.jurisdiction)
    url = detail.summary.url
    hostname = urlsplit(url).hostname if url else None
    if not url or not hostname:
        raise InvalidInput("this content has no web address to refer", field="kind")
    host = uow.referrals.host_for(agency.id, hostname)
    if host is None:
        raise InvalidInput(
            f"no hosting provider known for {hostname}: add it to the directory first", field="host"
        )
    status = ReferralStatus.AWAITING_APPROVAL if needs_approval(chosen) else ReferralStatus.READY
    referral = uow.referrals.add(
        Referral(
            id=str(uuid.uuid4()),
            agency_id=agency.id,
            case_id=case_id,
            host_id=host.id,
            kind=chosen,
            status=status,
            language=language if language in ("fr", "en") else host.language,
            url=url,
            created_by=viewer.username,
            created_at=datetime.now(UTC),
        )
    )
    _audit(
        uow,
        viewer,
        "referral.prepared",
        "referral",
        referral.id,
        {"case": case_id, "kind": chosen.value, "host": host.domain, "status": status.value},
    )
    return referral


def approve_referral(uow: UnitOfWork, *, viewer: User, referral_id: str) -> Referral:
    """Four eyes: a removal order is approved by an approver who did not prepare it."""
    referral = uow.referrals.get(viewer.agency_id, referral_id)
    if not viewer.can(Permission.APPROVE_ORDER):
        raise PermissionDenied("only approvers approve removal orders")
    if referral.created_by == viewer.username:
        raise PermissionDenied("four eyes: the author of a removal order cannot approve it")
    if referral.status is not ReferralStatus.AWAITING_APPROVAL:
        raise Conflict("this referral is not awaiting approval")
    uow.referrals.approve(viewer.agency_id, referral_id, viewer.username, datetime.now(UTC))
    _audit(uow, viewer, "referral.approved", "referral", referral_id, {"kind": referral.kind.value})
    return uow.referrals.get(viewer.agency_id, referral_id)


def mark_sent(
    uow: UnitOfWork, *, viewer: User, referral_id: str, now: datetime | None = None
) -> Referral:
    """The notice went out by the unit's own means (downloaded): the deadline starts now."""
    referral = _sendable(uow, viewer, referral_id)
    return _record_sent(uow, viewer, referral, now or datetime.now(UTC), {"channel": "manual"})


def _sendable(uow: UnitOfWork, viewer: User, referral_id: str) -> Referral:
    if not viewer.can(Permission.REVIEW):
        raise PermissionDenied("only analysts and approvers send referrals")
    referral = uow.referrals.get(viewer.agency_id, referral_id)
    if referral.status is ReferralStatus.AWAITING_APPROVAL:
        raise Conflict("this referral cannot be sent: it awaits approval")
    if referral.status is ReferralStatus.SENT:
        raise Conflict("this referral was already sent")
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


def send_referral(
    open_uow: UnitOfWorkFactory,
    *,
    viewer: User,
    referral_id: str,
    mailer: Mailer | None,
    host_link: str = "",
    now: datetime | None = None,
) -> SendOutcome:
    """Send the notice by e-mail to the host. A refusing or unreachable server leaves the
    referral "send failed" with the reason, and it can be sent again. The notice is prepared
    in one transaction, sent with none open (a slow mail server must not hold up the
    database), and the outcome recorded in another."""
    with open_uow() as uow:
        referral = _sendable(uow, viewer, referral_id)
        if mailer is None:
            raise InvalidInput("no mail server is configured (PASSERELLE_SMTP_HOST)")
        host = uow.referrals.get_host(viewer.agency_id, referral.host_id)
        notice = render_notice(uow, viewer=viewer, referral_id=referral_id, host_link=host_link)
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
            uow.referrals.send_failed(viewer.agency_id, referral.id, str(exc))
            _audit(
                uow, viewer, "referral.send_failed", "referral", referral.id, {"error": str(exc)}
            )
            uow.commit()
            return SendOutcome(uow.referrals.get(viewer.agency_id, referral.id), str(exc))
    moment = now or datetime.now(UTC)
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
    uow: UnitOfWork, *, viewer: User, referral_id: str, host_link: str = ""
) -> Notice:
    if not viewer.can(Permission.READ_REFERRALS):
        raise PermissionDenied("only reviewers, controllers and liaison officers read referrals")
    referral = uow.referrals.get(viewer.agency_id, referral_id)
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
        "issued": (referral.sent_at or referral.created_at).strftime("%Y-%m-%d %H:%M"),
        "agency": agency.name,
        "jurisdiction": agency.jurisdiction.value,
        "host_name": host.name,
        "host_email": host.email,
        "url": referral.url,
        "deadline": referral.deadline_at.strftime("%Y-%m-%d %H:%M") if referral.deadline_at else "",
        "category": category,
        "category_text_fr": CATEGORY_TEXT.get(category, ("", ""))[0],
        "category_text_en": CATEGORY_TEXT.get(category, ("", ""))[1],
        "rationale": decision.rationale,
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
