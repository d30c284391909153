"""Two real Passerelle instances on loopback ports, each with its own database, wired as each
other's partner: the set-up the exchange tests and the browser tests share."""

from __future__ import annotations

import contextlib
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import text

from passerelle.core.bank import EntryInput
from passerelle.core.case import QueueFilters
from passerelle.core.content import Content
from passerelle.core.decision import parse_decision
from passerelle.core.errors import Conflict
from passerelle.core.match import Matcher
from passerelle.core.taxonomy import Category, Labels
from passerelle.db.engine import make_engine
from passerelle.db.migrate import upgrade
from passerelle.db.session import Database
from passerelle.exchange.signing import agency_key
from passerelle.fetch.fetcher import SafeFetcher
from passerelle.fetch.guard import AddressGuard, parse_allow_list
from passerelle.jobs.runner import run_once
from passerelle.scan import ScanOptions, scan
from passerelle.services import refer
from passerelle.services.banks import add_entries, create_bank, load_matcher
from passerelle.services.exchange import add_partner
from passerelle.services.ingest import queue_result
from passerelle.services.review import decide_case
from tests.factories import DEFAULT_PASSWORD, make_agency, make_user
from tests.servers import running_passerelle
from tests.shared import shared

ROOT = Path(__file__).resolve().parents[3]
LOOPBACK = parse_allow_list(["127.0.0.1/32"])  # the partners of these tests are local


@dataclass
class Instance:
    code: str
    url: str
    database: Database
    secret: str
    clients: list[httpx.Client] = field(default_factory=list)

    def client(self, username: str) -> httpx.Client:
        client = httpx.Client(base_url=self.url, timeout=20)
        self.clients.append(client)  # closed when the pair stops
        page = client.get("/login")
        token = _csrf(page.text)
        response = client.post(
            "/login",
            data={
                "username": username,
                "password": DEFAULT_PASSWORD,
                "csrf_token": token,
                "next": "/",
            },
        )
        assert response.status_code in (200, 303), response.text[:300]
        return client


def _csrf(html: str) -> str:
    marker = 'name="csrf_token" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def csrf_of(client: httpx.Client, path: str) -> str:
    return _csrf(client.get(path).text)


def start(stack: ExitStack, tmp: Path, code: str, jurisdiction: str) -> Instance:
    folder = tmp / code
    folder.mkdir()
    secret = f"secret-of-{code}-" + "0123456789abcdefghij" * 2
    url = f"sqlite:///{folder / 'passerelle.db'}"
    database = Database(make_engine(url), secret=secret)
    stack.callback(database.dispose)
    upgrade(database.engine)
    with database.unit_of_work(write=True) as uow:
        make_agency(uow, code=code, jurisdiction=jurisdiction)
        for role in ("analyst", "approver", "liaison"):
            make_user(uow, agency_code=code, username=f"{role}.{code}", roles=(role,))
        agency = uow.agencies.get_by_code(code)
        agency_key(uow, agency.id, secret)
        uow.commit()
    env = {
        "PASSERELLE_ENV": "dev",
        "PASSERELLE_DATABASE_URL": url,
        "PASSERELLE_DATA_DIR": str(folder / "var"),
        "PASSERELLE_SECRET_KEY": secret,
        "PASSERELLE_PARTNER_ALLOW": "127.0.0.1/32",  # the partners of the test are local
    }
    base = stack.enter_context(running_passerelle(folder, "serve", env=env))
    return Instance(code, base, database, secret)


def wire_partners(*instances: Instance) -> None:
    """Each instance knows every other as a partner (its address and public key), reachable
    on loopback by the administrator's allow-list."""
    for here in instances:
        for there in instances:
            if here is there:
                continue
            with there.database.unit_of_work() as uow:
                key = uow.exchange.active_key(uow.agencies.get_by_code(there.code).id)
            assert key is not None
            with here.database.unit_of_work(write=True) as uow:
                add_partner(
                    uow,
                    agency_id=uow.agencies.get_by_code(here.code).id,
                    actor="test",
                    code=there.code,
                    name=f"Unité {there.code}",
                    base_url=there.url,
                    public_key=key[0],
                    contact=f"liaison@{there.code}.exemple",
                    allowed=LOOPBACK,  # the administrator's allow-list: these partners are local
                )
                uow.commit()


def close_clients(*instances: Instance) -> None:
    for instance in instances:
        for client in instance.clients:
            client.close()


def partner_id(instance: Instance, code: str) -> str:
    with instance.database.unit_of_work() as uow:
        partner = uow.exchange.partner_by_code(uow.agencies.get_by_code(instance.code).id, code)
        assert partner is not None
        return partner.id


def agreement_statuses(instance: Instance) -> list[str]:
    with instance.database.unit_of_work() as uow:
        agency = uow.agencies.get_by_code(instance.code)
        return [a.status.value for a in uow.exchange.agreements(agency.id)]


def sync(instance: Instance) -> str:
    """Run the sync job of `instance` now (as `passerelle jobs run --once` would)."""
    with instance.database.unit_of_work(write=True) as uow:
        uow.session.execute(
            text("UPDATE jobs SET run_at = :t WHERE kind = 'sync'"),
            {"t": datetime.now(UTC) - timedelta(seconds=1)},
        )
        uow.session.execute(text("UPDATE partners SET next_sync_at = NULL"))
        uow.commit()
    runs = [
        r
        for r in run_once(
            instance.database,
            SafeFetcher(),
            secret=instance.secret,
            partner_guard=AddressGuard(LOOPBACK),
        )
        if r.kind == "sync"
    ]
    assert runs and runs[0].error is None, runs
    return runs[0].detail


def partner_bank(instance: Instance, code: str) -> dict[tuple[str, str], str | None]:
    with instance.database.unit_of_work() as uow:
        agency = uow.agencies.get_by_code(instance.code)
        try:
            bank = uow.banks.get_by_name(agency.id, f"partner-{code}")
        except Exception:
            return {}
        return {
            (e.signal.type, e.signal.value): (
                e.labels.category.value if e.labels.category else None
            )
            for e in uow.banks.entries([bank.id])
        }


def last_log(instance: Instance) -> tuple[str, str]:
    with instance.database.unit_of_work() as uow:
        agency = uow.agencies.get_by_code(instance.code)
        (partner,) = uow.exchange.partners(agency.id)
        record = uow.exchange.sync_log(partner.id, limit=1)[0]
        return record.outcome, record.detail.english()


IMAGE = "aaa-orig.jpg"


def decide_image(
    instance: Instance, image: str, category: str, bank: str, data: bytes | None = None
) -> str:
    """Scan an image (or a video: `data`) into the queue of `instance`, decide it as
    terrorist content of the category, and add its signals to `bank`; return the case id."""
    data = data if data is not None else shared("pdq", "images", image).read_bytes()
    found = scan(Content(source=image, data=data), Matcher.build([], []))
    primer = next(s for s in found.signals if s.type in ("pdq", "vpdq"))
    with instance.database.unit_of_work(write=True) as uow:
        agency = uow.agencies.get_by_code(instance.code)
        with contextlib.suppress(Conflict):
            create_bank(uow, agency_code=instance.code, name=bank, actor="test")
        if not uow.referrals.hosts(agency.id):
            refer.add_host(
                uow,
                agency_code=instance.code,
                actor="test",
                domain="exemple.test",
                name="H",
                email="abuse@exemple.test",
                language="fr",
            )
        # the stand-in known content that makes the image open a case
        with contextlib.suppress(Conflict):
            create_bank(uow, agency_code=instance.code, name="amorce", actor="test")
        add_entries(
            uow,
            agency_code=instance.code,
            bank_name="amorce",
            entries=[EntryInput(primer.type, primer.value, Labels(category=Category(category)))],
            actor="test",
        )
        matcher = load_matcher(uow, agency_code=instance.code, bank_names=["amorce"])
        result = scan(
            Content(source=image, data=data, url=f"https://exemple.test/{image}"),
            matcher,
            ScanOptions(keep_matched_content=True),
        )
        queue_result(uow, agency_code=instance.code, result=result, actor="test")
        case = next(
            c
            for c in uow.queue.list_cases(agency.id, QueueFilters(status=None), limit=50)
            if c.url == f"https://exemple.test/{image}"
        )
        author = uow.users.find_credentials(f"analyst.{instance.code}")
        assert author is not None
        decision = parse_decision(
            verdict="terrorist",
            category=category,
            reason="",
            exemption_checked=True,
            rationale="Contenu de remplacement traité comme terroriste (test).",
            legal_basis="fr_code_penal_421_2_5"
            if instance.code.endswith("fr")
            else "ca_criminal_code_83_221",
            add_to_bank=bank,
            jurisdiction=agency.jurisdiction,
        )
        decide_case(uow, viewer=author.user, case_id=case.id, decision=decision)
        uow.commit()
        return case.id


TERMS = {
    "purpose": "Retrait des contenus qui incitent au terrorisme (test)",
    "categories": ["a"],
    "signal_types": ["sha256", "md5", "pdq", "url", "vpdq"],
    "share_decisions": "true",
    "share_holds": "true",
    "retention_days": "30",
    "distribution": "agreement",
    "tlp": "amber",
    "valid_from": (datetime.now(UTC).date() - timedelta(days=1)).isoformat(),
    "valid_until": (datetime.now(UTC).date() + timedelta(days=365)).isoformat(),
}


def ensure_agreement(fr: Instance, qc: Instance) -> None:
    """The French liaison proposes, the Québec liaison accepts, through the consoles."""
    if "active" in agreement_statuses(fr):
        return
    liaison_fr = fr.client(f"liaison.{fr.code}")
    token = csrf_of(liaison_fr, "/partners")
    response = liaison_fr.post(
        f"/partners/{partner_id(fr, qc.code)}/agreements",
        data={**TERMS, "csrf_token": token},
    )
    assert response.status_code == 200, response.text[:500]
    assert 'data-testid="exchange-notice"' not in response.text  # delivered
    assert agreement_statuses(fr) == ["proposed"]
    assert agreement_statuses(qc) == ["proposed"]  # pushed, signed, verified, recorded
    liaison_qc = qc.client(f"liaison.{qc.code}")
    page = liaison_qc.get("/partners").text
    assert "awaiting your answer" in page or "en attente de votre réponse" in page
    with qc.database.unit_of_work() as uow:
        (agreement,) = uow.exchange.agreements(uow.agencies.get_by_code(qc.code).id)
    token = csrf_of(liaison_qc, "/partners")
    accepted = liaison_qc.post(f"/agreements/{agreement.id}/accept", data={"csrf_token": token})
    assert accepted.status_code == 200 and "exchange-notice" not in accepted.text
    assert agreement_statuses(qc) == ["active"]
    assert agreement_statuses(fr) == ["active"]
