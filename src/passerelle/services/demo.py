"""Fictional demo agencies and people, for `passerelle demo` and `make run` only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from passerelle.core.bank import EntryInput
from passerelle.core.content import Content
from passerelle.core.errors import Conflict, NotFound
from passerelle.core.ports import ContentStore, UnitOfWork
from passerelle.core.signals.digests import MD5, SHA256
from passerelle.core.signals.pdq import PDQ
from passerelle.core.signals.url import URL
from passerelle.core.taxonomy import Category, Labels, Tier
from passerelle.scan import ScanOptions, scan
from passerelle.services.admin import create_agency, create_user
from passerelle.services.banks import add_entries, create_bank, load_matcher
from passerelle.services.ingest import queue_result
from passerelle.services.public import attach_page, submit_public_report
from passerelle.services.refer import add_host

DEMO_PASSWORD = "demo-passerelle"  # noqa: S105 - printed on purpose; demo runs only in dev


@dataclass(frozen=True, slots=True)
class DemoLogin:
    agency: str
    username: str
    roles: tuple[str, ...]
    password: str = DEMO_PASSWORD


DEMO_AGENCIES = (
    ("demo-fr", "Unité démo France", "FR", "fr"),
    ("demo-qc", "Unité démo Québec", "CA-QC", "qc"),
)
DEMO_PEOPLE = (
    ("analyste", "Analyste", ("analyst",)),
    ("approbateur", "Approbateur", ("approver",)),
    ("controleur", "Contrôleur", ("controller",)),
    ("liaison", "Agent de liaison", ("liaison",)),
    ("admin", "Administrateur", ("admin",)),
)


def seed_demo(uow: UnitOfWork) -> list[DemoLogin]:
    """Create the demo agencies and people if missing; return every demo login."""
    logins: list[DemoLogin] = []
    for code, name, jurisdiction, suffix in DEMO_AGENCIES:
        try:
            uow.agencies.get_by_code(code)
        except NotFound:
            create_agency(uow, code=code, name=name, jurisdiction=jurisdiction, actor="demo")
        for person, title, roles in DEMO_PEOPLE:
            username = f"{person}.{suffix}"
            if uow.users.find_credentials(username) is None:
                create_user(
                    uow,
                    agency_code=code,
                    username=username,
                    password=DEMO_PASSWORD,
                    roles=roles,
                    display_name=f"{title} ({suffix.upper()})",
                    locale="fr",
                    actor="demo",
                )
            logins.append(DemoLogin(agency=name, username=username, roles=roles))
    return logins


DEMO_BANK = "demo-contenu-connu"
STAND_IN = Labels(category=Category.INCITES, tier=Tier.PROMOTIONAL, tags=frozenset({"stand-in"}))


ARTICLE_URL = "https://presse.demo.invalid/2015/cooperation-france-quebec-djihadisme"


def seed_demo_cases(
    uow: UnitOfWork,
    *,
    known: bytes,
    scanned: list[Content],
    store: ContentStore,
    article: bytes | None = None,
) -> int:
    """Bank the stand-in `known` image in each demo agency, then scan `scanned` into the
    queue of each unit (French and Québec); with `article` (a news article), add it to the
    French unit as a page reported by the public, whose right answer is "not terrorist
    content: journalism". Idempotent; returns the number of cases opened."""
    for code, *_ in DEMO_AGENCIES:
        try:
            create_bank(
                uow,
                agency_code=code,
                name=DEMO_BANK,
                description="Stand-in known content: public test photos of Meta's PDQ project"
                " (BSD), not terrorist material",
                actor="demo",
            )
        except Conflict:
            continue
        pdq = PDQ.compute(known)
        entries = [
            EntryInput("sha256", SHA256.compute(known).value, STAND_IN),
            EntryInput("md5", MD5.compute(known).value, STAND_IN),
            EntryInput("pdq", pdq.value, STAND_IN, quality=pdq.quality),
        ]
        add_entries(uow, agency_code=code, bank_name=DEMO_BANK, entries=entries, actor="demo")
    opened = 0
    for code, *_ in DEMO_AGENCIES:
        # Each unit has its own queue, so that every role can be tried in either unit.
        if not uow.referrals.hosts(uow.agencies.get_by_code(code).id):
            add_host(
                uow,
                agency_code=code,
                actor="demo",
                domain="demo.invalid",
                name="Hébergeur démo",
                email="abus@hebergeur.invalid",
                language="fr",
            )
        matcher = load_matcher(uow, agency_code=code)
        for content in scanned:
            result = scan(content, matcher, ScanOptions(keep_matched_content=True))
            queued = queue_result(uow, agency_code=code, result=result, actor="demo", store=store)
            opened += queued == "opened"
    if article is not None:
        opened += _seed_reported_article(uow, article, store)
    return opened


def _seed_reported_article(uow: UnitOfWork, article: bytes, store: ContentStore) -> int:
    agency = uow.agencies.get_by_code("demo-fr")
    address = URL.compute(ARTICLE_URL).value
    if uow.queue.find_item(agency.id, address, address) is not None:
        return 0
    if uow.queue.find_item(agency.id, SHA256.compute(article).value, None) is not None:
        return 0
    submit_public_report(
        uow,
        agency_code="demo-fr",
        url=ARTICLE_URL,
        category="",
        description="Un article qui parle de djihadisme et de radicalisation : est-ce légal ?",
        source_hash="demo",
        per_hour=1_000,
    )
    found = uow.queue.find_item(agency.id, address, address)
    assert found is not None and found.case_id is not None
    page = Content(source="demo:seed-article", data=article, url=ARTICLE_URL, origin="public")
    attach_page(
        uow,
        agency_id=agency.id,
        case_id=found.case_id,
        content=page,
        matcher=load_matcher(uow, agency_code="demo-fr"),
        store=store,
        actor="demo",
        now=datetime.now(UTC),
    )
    return 1
