"""The banks as the console works on them, on SQLite and PostgreSQL: counts and markings,
keyset pages over entries added in the same instant, every filter, expired partner entries,
withdrawal with a reason and reinstatement, each audited with the bank generation bumped and
the retraction put in the outbox for partners."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from passerelle.core.bank import BankKind, BankOrigin, EntryInput, NewEntry
from passerelle.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from passerelle.core.identity import User
from passerelle.core.marking import Distribution, Tlp
from passerelle.core.signals import Signal
from passerelle.core.signals.digests import MD5
from passerelle.core.taxonomy import Category, Labels, Tier
from passerelle.db.models import AuditEventRow
from passerelle.db.session import Database
from passerelle.services import bank_desk
from passerelle.services.banks import add_entries, create_bank
from tests.factories import make_agency, make_user

KNOWN = Labels(category=Category.INCITES, tier=Tier.CRISIS, tags=frozenset({"stand-in"}))


def _md5(number: int) -> str:
    return MD5.compute(f"neutre {number}".encode()).value


@pytest.fixture
def setup(database: Database) -> tuple[Database, dict[str, User], dict[str, str]]:
    people: dict[str, User] = {}
    with database.unit_of_work(write=True) as uow:
        agency = make_agency(uow, code="unite-a")
        make_agency(uow, code="unite-b")
        for role in ("analyst", "controller", "admin"):
            people[role] = make_user(uow, agency_code="unite-a", username=role, roles=(role,))
        people["other"] = make_user(
            uow, agency_code="unite-b", username="admin-b", roles=("admin",)
        )
        own = create_bank(uow, agency_code="unite-a", name="connu", actor="test")
        # 120 entries in one transaction: they share their time of addition, so the keyset
        # must order by id too.
        add_entries(
            uow,
            agency_code="unite-a",
            bank_name="connu",
            entries=[
                EntryInput("md5", _md5(n), KNOWN if n < 40 else Labels(), tlp=Tlp.GREEN)
                for n in range(120)
            ],
            actor="test",
        )
        partner = uow.banks.add(
            agency_id=agency.id,
            name="partner-b",
            kind=BankKind.POSITIVE,
            origin=BankOrigin.PARTNER,
            description="",
            thresholds={},
        )
        now = datetime.now(UTC)
        uow.banks.add_entries(
            partner.id,
            [
                NewEntry(
                    Signal("md5", _md5(1000)),
                    KNOWN,
                    provenance="partner unite-b",
                    expires_at=now - timedelta(hours=1),
                    tlp=Tlp.AMBER,
                    distribution=Distribution.AGREEMENT,
                ),
                NewEntry(
                    Signal("md5", _md5(1001)),
                    KNOWN,
                    provenance="partner unite-b",
                    expires_at=now + timedelta(days=1),
                    tlp=Tlp.AMBER,
                    distribution=Distribution.ONWARD,
                ),
            ],
        )
        uow.commit()
    return database, people, {"own": own.id, "partner": partner.id}


def test_summaries_count_by_type_and_marking(
    setup: tuple[Database, dict[str, User], dict[str, str]],
) -> None:
    database, people, _banks = setup
    with database.unit_of_work() as uow:
        summaries = {
            s.bank.name: s for s in bank_desk.list_bank_summaries(uow, viewer=people["controller"])
        }
        assert bank_desk.list_bank_summaries(uow, viewer=people["other"]) == []
    assert summaries["connu"].counts == {"md5": 120}
    assert summaries["connu"].markings == {"green": 120}
    assert summaries["partner-b"].ordered_distributions == [("agreement", 1), ("onward", 1)]
    assert summaries["connu"].generation > 0 and summaries["connu"].last_change is not None


def test_keyset_pages_reach_every_entry_once_and_filters_narrow(
    setup: tuple[Database, dict[str, User], dict[str, str]],
) -> None:
    database, people, banks = setup
    viewer = people["analyst"]
    seen: list[str] = []
    cursor = ""
    with database.unit_of_work() as uow:
        while True:
            query = bank_desk.parse_entry_query(after=cursor)
            page = bank_desk.find_entries(
                uow, viewer=viewer, bank_id=banks["own"], query=query, size=25
            )
            seen += [e.entry.signal.value for e in page.entries]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert sorted(seen) == sorted(_md5(n) for n in range(120))
        assert len(seen) == len(set(seen))

        def values(**typed: str) -> set[str]:
            query = bank_desk.parse_entry_query(**typed)
            found = bank_desk.find_entries(
                uow, viewer=viewer, bank_id=banks["own"], query=query, size=200
            )
            return {e.entry.signal.value for e in found.entries}

        assert values(text=_md5(5)[:7]) == {_md5(5)}
        assert values(category="a") == {_md5(n) for n in range(40)}
        assert values(tier="crisis", tag="stand-in", signal_type="md5") == {
            _md5(n) for n in range(40)
        }
        assert values(signal_type="pdq") == set()
        with pytest.raises(InvalidInput):
            bank_desk.parse_entry_query(text="pas de l'hexa")
        partner = bank_desk.parse_entry_query(state="expired")
        expired = bank_desk.find_entries(
            uow, viewer=viewer, bank_id=banks["partner"], query=partner, size=25
        )
        assert [e.entry.signal.value for e in expired.entries] == [_md5(1000)]
        live = bank_desk.find_entries(
            uow,
            viewer=viewer,
            bank_id=banks["partner"],
            query=bank_desk.parse_entry_query(),
            size=25,
        )
        assert [e.entry.signal.value for e in live.entries] == [_md5(1001)]
        assert live.entries[0].provenance == "partner unite-b"
        with pytest.raises(NotFound):
            bank_desk.find_entries(
                uow,
                viewer=people["other"],
                bank_id=banks["own"],
                query=bank_desk.parse_entry_query(),
                size=25,
            )


def test_withdrawal_and_reinstatement_are_audited_and_followed(
    setup: tuple[Database, dict[str, User], dict[str, str]],
) -> None:
    database, people, banks = setup
    admin = people["admin"]
    with database.unit_of_work() as uow:
        entry, *_ = uow.banks.entries([banks["own"]])
        before = uow.banks.generation()
    with database.unit_of_work(write=True) as uow:
        with pytest.raises(PermissionDenied):
            bank_desk.withdraw_entry(
                uow,
                viewer=people["analyst"],
                bank_id=banks["own"],
                entry_id=entry.id,
                reason="Une raison assez longue.",
            )
        with pytest.raises(InvalidInput):
            bank_desk.withdraw_entry(
                uow, viewer=admin, bank_id=banks["own"], entry_id=entry.id, reason="court"
            )
        bank_desk.withdraw_entry(
            uow,
            viewer=admin,
            bank_id=banks["own"],
            entry_id=entry.id,
            reason="Ajoutée par erreur.",
        )
        uow.commit()
    with database.unit_of_work() as uow:
        assert uow.banks.generation() > before
        assert entry.id in uow.banks.removed_entries(
            admin.agency_id, after=before, upto=uow.banks.generation()
        )
        action = uow.session.scalar(
            select(AuditEventRow.action).order_by(AuditEventRow.seq.desc()).limit(1)
        )
        assert action == "bank.entry_withdrawn"
        gone = bank_desk.find_entries(
            uow,
            viewer=people["controller"],
            bank_id=banks["own"],
            query=bank_desk.parse_entry_query(state="withdrawn"),
            size=25,
        ).entries
        assert [(g.entry.signal.value, g.reason) for g in gone] == [
            (entry.signal.value, "Ajoutée par erreur.")
        ]
        assert gone[0].withdrawn_by == "admin"
    with database.unit_of_work(write=True) as uow:
        bank_desk.reinstate_entry(
            uow, viewer=admin, bank_id=banks["own"], withdrawal_id=str(gone[0].withdrawal_id)
        )
        uow.commit()
    with database.unit_of_work(write=True) as uow:
        back = next(e for e in list(uow.banks.entries([banks["own"]])) if e.signal == entry.signal)
        assert back.tlp is Tlp.GREEN and back.labels == entry.labels
        with pytest.raises(Conflict):
            bank_desk.reinstate_entry(
                uow, viewer=admin, bank_id=banks["own"], withdrawal_id=str(gone[0].withdrawal_id)
            )
        with pytest.raises(PermissionDenied):
            partner_entry, *_ = uow.banks.entries([banks["partner"]])
            bank_desk.withdraw_entry(
                uow,
                viewer=admin,
                bank_id=banks["partner"],
                entry_id=partner_entry.id,
                reason="Une raison assez longue.",
            )
