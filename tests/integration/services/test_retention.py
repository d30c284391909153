"""Retention across agencies: the encrypted store is shared and addressed by SHA-256, so one
agency's purge must never delete bytes that an item of another agency still keeps or holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import text

from passerelle.core.errors import NotFound
from passerelle.core.identity import User
from passerelle.core.ports import UnitOfWork
from passerelle.db.session import Database
from passerelle.services import refer
from passerelle.services.jobs import run_due_jobs, schedule_defaults, set_legal_hold
from passerelle.services.queue import case_content
from passerelle.storage.content_store import EncryptedContentStore, derive_content_key
from tests.factories import make_agency, make_cases, make_referral, make_user
from tests.shared import shared

IMAGE = shared("pdq", "images", "aaa-orig.jpg").read_bytes()
RETENTION = timedelta(days=183)


def _referred_case(
    uow: UnitOfWork, store: EncryptedContentStore, code: str, jurisdiction: str
) -> tuple[User, str]:
    """An agency whose case on IMAGE was referred, went offline 200 days ago; its approver."""
    agency = make_agency(uow, code=code, jurisdiction=jurisdiction)
    approver = make_user(
        uow, agency_code=code, username=f"approbateur.{code}", roles=("analyst", "approver")
    )
    (case_id,) = make_cases(uow, agency_code=code, images=[IMAGE], store=store)
    refer.add_host(
        uow,
        agency_code=code,
        actor="test",
        domain="exemple.test",
        name="H",
        email="abuse@exemple.test",
        language="fr",
    )
    referral = make_referral(uow, agency_code=code, case_id=case_id, author=approver)
    refer.mark_sent(uow, viewer=approver, referral_id=referral)
    uow.session.execute(
        text("UPDATE referrals SET offline_at = :t WHERE agency_id = :a"),
        {"t": datetime.now(UTC) - timedelta(days=200), "a": agency.id},
    )
    return approver, case_id


def _state_of(uow: UnitOfWork, agency_id: str) -> tuple[object, ...]:
    """Everything of an agency a purge could touch: its items, cases and audit events."""
    items = uow.session.execute(
        text("SELECT id, sha256, purged_at FROM items WHERE agency_id = :a ORDER BY id"),
        {"a": agency_id},
    ).all()
    cases = uow.session.execute(
        text("SELECT id, status, legal_hold_until FROM cases WHERE agency_id = :a ORDER BY id"),
        {"a": agency_id},
    ).all()
    events = [e.hash for e in uow.audit.list_for_agency(agency_id, limit=1000)]
    return tuple(items), tuple(cases), tuple(events)


@pytest.fixture
def store(tmp_path: Path) -> EncryptedContentStore:
    return EncryptedContentStore(tmp_path / "content", derive_content_key("k" * 40))


def test_a_purge_in_one_agency_keeps_the_content_another_agency_holds(
    database: Database, store: EncryptedContentStore
) -> None:
    with database.unit_of_work(write=True) as uow:
        france, case_fr = _referred_case(uow, store, "unite-fr", "FR")
        quebec, case_qc = _referred_case(uow, store, "unite-qc", "CA-QC")
        set_legal_hold(
            uow,
            viewer=quebec,
            case_id=case_qc,
            until=datetime.now(UTC) + timedelta(days=30),
            reason="enquête judiciaire en cours au Québec",
        )
        schedule_defaults(uow)
        uow.commit()
    sha256 = store.put(IMAGE)
    with database.unit_of_work() as uow:
        quebec_before = _state_of(uow, quebec.agency_id)

    open_uow = partial(database.unit_of_work, write=True)

    def purge(now: datetime) -> dict[str, str]:
        runs = run_due_jobs(
            open_uow, worker="w", fetch=lambda url: None, store=store, retention=RETENTION, now=now
        )
        return {r.agency_id: r.detail for r in runs if r.kind == "purge"}

    details = purge(datetime.now(UTC))
    assert details == {france.agency_id: "1 purged", quebec.agency_id: "0 purged"}
    with database.unit_of_work() as uow:
        # Québec's held evidence is still there and readable; nothing of Québec changed.
        assert case_content(uow, store, viewer=quebec, case_id=case_qc)[0] == IMAGE
        assert _state_of(uow, quebec.agency_id) == quebec_before
        # France's item is purged, audited in France, and France can no longer read it.
        with pytest.raises(NotFound):
            case_content(uow, store, viewer=france, case_id=case_fr)
        purged = [
            e
            for e in uow.audit.list_for_agency(france.agency_id, limit=100)
            if e.action == "content.purged"
        ]
        assert len(purged) == 1
    assert store.has(sha256)

    # When Québec's hold ends and its own retention is over, the last reference goes: the
    # bytes go with it.
    with database.unit_of_work(write=True) as uow:
        set_legal_hold(uow, viewer=quebec, case_id=case_qc, until=None, reason="")
        uow.commit()
    later = datetime.now(UTC) + timedelta(days=2)
    assert purge(later) == {france.agency_id: "0 purged", quebec.agency_id: "1 purged"}
    assert not store.has(sha256)
    with database.unit_of_work() as uow, pytest.raises(NotFound):
        case_content(uow, store, viewer=quebec, case_id=case_qc)


def test_content_an_unreferred_item_keeps_survives_another_agencys_purge(
    database: Database, store: EncryptedContentStore
) -> None:
    """An item that was never referred keeps its content: its retention has not started."""
    with database.unit_of_work(write=True) as uow:
        france, _ = _referred_case(uow, store, "unite-fr", "FR")
        make_agency(uow, code="unite-qc", jurisdiction="CA-QC")
        quebec = make_user(uow, agency_code="unite-qc", username="analyste.qc")
        (case_qc,) = make_cases(uow, agency_code="unite-qc", images=[IMAGE], store=store)
        schedule_defaults(uow)
        uow.commit()

    open_uow = partial(database.unit_of_work, write=True)

    runs = list(
        run_due_jobs(open_uow, worker="w", fetch=lambda url: None, store=store, retention=RETENTION)
    )
    assert {r.detail for r in runs if r.kind == "purge" and r.agency_id == france.agency_id} == {
        "1 purged"
    }
    with database.unit_of_work() as uow:
        assert case_content(uow, store, viewer=quebec, case_id=case_qc)[0] == IMAGE
