"""Keyword-only builders with valid defaults, through the services (so audit events exist)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from passerelle.core.exchange import Agreement, AgreementStatus, Partner, parse_terms
from passerelle.core.identity import Agency, User
from passerelle.core.ports import ContentStore, UnitOfWork
from passerelle.exchange.signing import agency_key, new_key_pair
from passerelle.services import exchange
from passerelle.services.admin import create_agency, create_user

DEFAULT_PASSWORD = "correct horse battery"


def make_agency(
    uow: UnitOfWork, *, code: str = "unite-test", name: str | None = None, jurisdiction: str = "FR"
) -> Agency:
    return create_agency(uow, code=code, name=name or f"Unité {code}", jurisdiction=jurisdiction)


def make_user(
    uow: UnitOfWork,
    *,
    agency_code: str = "unite-test",
    username: str = "analyste",
    roles: tuple[str, ...] = ("analyst",),
    password: str = DEFAULT_PASSWORD,
    locale: str = "fr",
) -> User:
    return create_user(
        uow,
        agency_code=agency_code,
        username=username,
        password=password,
        roles=roles,
        locale=locale,
    )


def make_partners(
    uow: UnitOfWork, *, agency_ids: Mapping[str, str], secret: str
) -> dict[str, Ed25519PrivateKey]:
    """Agencies of one instance, by letter (`agency-<letter>`), each the partner of every
    other with its real key pair (sealed under `secret`); each one's private key, by letter."""
    keys = {letter: agency_key(uow, agency_id, secret) for letter, agency_id in agency_ids.items()}
    for here, agency_id in agency_ids.items():
        for there in agency_ids:
            if there != here:
                exchange.add_partner(
                    uow,
                    agency_id=agency_id,
                    actor="test",
                    code=f"agency-{there}",
                    name=there,
                    base_url="",
                    public_key=keys[there][0],
                    contact="",
                )
    return {letter: key for letter, (_, key) in keys.items()}


def make_partner_under_agreement(
    uow: UnitOfWork, *, here: str, there: str, terms: Mapping[str, object]
) -> Partner:
    """`here` knows `there` as a partner (code `there`, a key of its own), under an active
    agreement with these terms (its id the same whichever side asks)."""
    agency = uow.agencies.get_by_code(here)
    partner = exchange.add_partner(
        uow,
        agency_id=agency.id,
        actor="test",
        code=there,
        name=there,
        base_url="",
        public_key=new_key_pair("k")[0],
        contact="",
    )
    now = datetime.now(UTC)
    uow.exchange.add_agreement(
        Agreement(
            id=str(uuid.uuid5(uuid.NAMESPACE_URL, "-".join(sorted([here, there])))),
            agency_id=agency.id,
            partner_id=partner.id,
            role="proposer",
            status=AgreementStatus.ACTIVE,
            terms=parse_terms(dict(terms)),
            created_at=now,
            changed_at=now,
        )
    )
    return partner


def make_cases(
    uow: UnitOfWork, *, agency_code: str, images: list[bytes], store: ContentStore | None = None
) -> list[str]:
    """A bank holding the first image (stand-in known content), and a case per image that
    matches it, opened through the real scan; returns the agency's case ids, best first."""
    from passerelle.core.bank import EntryInput
    from passerelle.core.content import Content
    from passerelle.core.signals.pdq import PDQ
    from passerelle.core.taxonomy import Category, Labels, Tier
    from passerelle.scan import ScanOptions, scan
    from passerelle.services.banks import add_entries, create_bank, load_matcher
    from passerelle.services.ingest import queue_result

    labels = Labels(category=Category.INCITES, tier=Tier.PROMOTIONAL, tags=frozenset({"stand-in"}))
    create_bank(uow, agency_code=agency_code, name="connu", actor="test")
    add_entries(
        uow,
        agency_code=agency_code,
        bank_name="connu",
        entries=[EntryInput("pdq", PDQ.compute(images[0]).value, labels)],
        actor="test",
    )
    matcher = load_matcher(uow, agency_code=agency_code)
    for number, data in enumerate(images):
        content = Content(
            source=f"image-{number}.jpg", data=data, url=f"https://exemple.test/{number}.jpg"
        )
        result = scan(content, matcher, ScanOptions(keep_matched_content=True))
        queue_result(uow, agency_code=agency_code, result=result, actor="test", store=store)
    agency = uow.agencies.get_by_code(agency_code)
    from passerelle.core.case import QueueFilters

    return [c.id for c in uow.queue.list_cases(agency.id, QueueFilters(), limit=100)]


def make_host(uow: UnitOfWork, *, agency_code: str, domain: str = "exemple.test") -> None:
    """The hosting provider of the test addresses, in the agency's directory."""
    from passerelle.services import refer

    refer.add_host(
        uow,
        agency_code=agency_code,
        actor="test",
        domain=domain,
        name="Hébergeur",
        email=f"abuse@{domain}",
        language="fr",
    )


def decide_as_terrorist(uow: UnitOfWork, *, agency_code: str, case_id: str, author: User) -> None:
    """Decide the case as terrorist content, category (a), on the agency's first legal basis."""
    from passerelle.core.decision import LEGAL_BASES, parse_decision
    from passerelle.services.review import decide_case

    agency = uow.agencies.get_by_code(agency_code)
    decision = parse_decision(
        verdict="terrorist",
        category="a",
        reason="",
        exemption_checked=True,
        rationale="Appel explicite à commettre des attentats.",
        legal_basis=LEGAL_BASES[agency.jurisdiction][0],
        add_to_bank="",
        jurisdiction=agency.jurisdiction,
    )
    decide_case(uow, viewer=author, case_id=case_id, decision=decision)


def make_case_with_host(uow: UnitOfWork, *, agency_code: str = "agency-a") -> str:
    """A case on a stand-in known image (a public test photo), and the directory's host."""
    from tests.shared import shared

    image = shared("pdq", "images", "aaa-orig.jpg").read_bytes()
    (case,) = make_cases(uow, agency_code=agency_code, images=[image])
    make_host(uow, agency_code=agency_code)
    return case


def make_referral(
    uow: UnitOfWork, *, agency_code: str, case_id: str, author: User, again: str = ""
) -> str:
    """Decide the case as terrorist content and prepare a referral to a directory host
    (`again`: the reason for a second measure on content that already has one)."""
    from passerelle.services import refer

    agency = uow.agencies.get_by_code(agency_code)
    if not uow.referrals.hosts(agency.id):
        make_host(uow, agency_code=agency_code)
    decide_as_terrorist(uow, agency_code=agency_code, case_id=case_id, author=author)
    return refer.prepare_referral(
        uow, viewer=author, case_id=case_id, kind="referral", again=again
    ).id


def make_queue(
    uow: UnitOfWork,
    *,
    agency_code: str,
    count: int,
    tier: str = "promotional",
    language: str = "fr",
    prefix: str = "dossier",
) -> list[str]:
    """`count` matched items put in the queue through the ingest service, with scores
    from 100 downwards (several cases share each score) and neutral addresses; returns
    the case ids in the order of the queue (score descending, then opened)."""
    import hashlib
    import json

    from passerelle.core.case import QueueFilters
    from passerelle.core.ports import Candidate, ItemFindings
    from passerelle.core.signals.url import URL
    from passerelle.services.ingest import queue_candidate

    for number in range(count):
        url = f"https://exemple.test/{prefix}/{number}"
        sha256 = hashlib.sha256(url.encode()).hexdigest()
        match = {
            "bank": "connu",
            "distance": 0,
            "labels": {"category": "a", "tags": [], "tier": tier},
            "origin": "own",
            "signal_type": "url",
            "threshold": 0,
            "value": URL.compute(url).value,
        }
        findings = ItemFindings(
            sha256=sha256,
            media_type="text/uri-list",
            signals_json=json.dumps(
                {
                    "sha256": sha256,
                    "md5": hashlib.md5(url.encode(), usedforsecurity=False).hexdigest(),
                },
                sort_keys=True,
            ),
            score=100 - number // 3,
            reasons_json="[]",
            matches_json=json.dumps([match], sort_keys=True),
            language=language,
            title=f"{prefix} {number}",
        )
        candidate = Candidate(
            findings=findings, url_hash=URL.compute(url).value, url=url, source=url
        )
        queue_candidate(uow, agency_code=agency_code, candidate=candidate, actor="test")
    agency = uow.agencies.get_by_code(agency_code)
    return [c.id for c in uow.queue.list_cases(agency.id, QueueFilters(), limit=count + 100)]
