"""A bank's counts (per signal type, marking and distribution) are kept by the database as
its entries change, whatever path changes them, on SQLite and PostgreSQL: after a random
sequence of additions, stricter re-additions, withdrawals, reinstatements, removals and
expiry of partner entries, the kept counts equal a fresh count; and a drift is repaired.
The list of banks reads these counts rather than every entry (issue: 1.4 s a view at
100,000 entries)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from passerelle.core.bank import BankKind, BankOrigin, EntryInput, EntryQuery, EntryState, NewEntry
from passerelle.core.errors import Conflict
from passerelle.core.marking import Distribution, Tlp
from passerelle.core.signals import Signal
from passerelle.core.signals.digests import MD5, SHA256
from passerelle.core.taxonomy import Labels
from passerelle.db.session import Database
from passerelle.services import bank_desk
from passerelle.services.banks import add_entries, create_bank
from tests.factories import make_agency, make_user

TLPS = [None, Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER, Tlp.RED]


def _signal(rng: random.Random) -> tuple[str, str]:
    number = rng.randrange(40)
    if number % 2:
        return "md5", MD5.compute(f"neutre {number}".encode()).value
    return "sha256", SHA256.compute(f"neutre {number}".encode()).value


def test_kept_counts_equal_a_fresh_count_after_random_changes(database: Database) -> None:
    rng = random.Random(11)
    with database.unit_of_work(write=True) as uow:
        agency = make_agency(uow, code="unite-a")
        admin = make_user(uow, agency_code="unite-a", username="admin", roles=("admin",))
        own = create_bank(uow, agency_code="unite-a", name="connu", actor="test")
        partner = uow.banks.add(
            agency_id=agency.id,
            name="partner-b",
            kind=BankKind.POSITIVE,
            origin=BankOrigin.PARTNER,
            description="",
            thresholds={},
        )
        uow.commit()
    for _step in range(60):
        action = rng.choice(["add", "add", "withdraw", "reinstate", "remove", "partner", "purge"])
        with database.unit_of_work(write=True) as uow:
            if action == "add":
                add_entries(
                    uow,
                    agency_code="unite-a",
                    bank_name="connu",
                    entries=[
                        EntryInput(*_signal(rng), Labels(), tlp=rng.choice(TLPS))
                        for _ in range(rng.randrange(1, 6))
                    ],
                    actor="test",
                )
            elif action in ("withdraw", "remove"):
                live = bank_desk.find_entries(
                    uow, viewer=admin, bank_id=own.id, query=EntryQuery(), size=200
                ).entries
                if not live:
                    continue
                chosen = rng.choice(live).entry
                if action == "withdraw":
                    bank_desk.withdraw_entry(
                        uow,
                        viewer=admin,
                        bank_id=own.id,
                        entry_id=chosen.id,
                        reason="retiré pour l’essai des comptes",
                    )
                else:
                    uow.banks.remove_entry(own.id, chosen.signal.type, chosen.signal.value)
            elif action == "reinstate":
                gone = uow.banks.find_entries(
                    own.id,
                    EntryQuery(state=EntryState.WITHDRAWN),
                    now=datetime.now(UTC),
                    limit=200,
                )
                if not gone or gone[0].withdrawal_id is None:
                    continue
                try:
                    bank_desk.reinstate_entry(
                        uow, viewer=admin, bank_id=own.id, withdrawal_id=gone[0].withdrawal_id
                    )
                except Conflict:
                    continue
            elif action == "partner":
                now = datetime.now(UTC)
                uow.banks.add_entries(
                    partner.id,
                    [
                        NewEntry(
                            Signal(*_signal(rng)),
                            Labels(),
                            provenance="partner unite-b",
                            expires_at=now + timedelta(hours=rng.choice([-1, 1])),
                            tlp=rng.choice(TLPS[1:]),
                            distribution=rng.choice(list(Distribution)),
                        )
                        for _ in range(rng.randrange(1, 4))
                    ],
                )
            else:
                uow.exchange.purge_expired(agency.id, datetime.now(UTC))
            uow.commit()
    with database.unit_of_work() as uow:
        for bank_id in (own.id, partner.id):
            fresh = uow.banks.fresh_counts(bank_id)
            assert uow.banks.kept_counts(bank_id) == fresh
        summaries = {s.bank.id: s for s in uow.banks.summaries(agency.id)}
        assert summaries[own.id].total == uow.banks.count_entries(own.id) > 0
        assert summaries[partner.id].total == uow.banks.count_entries(partner.id)


def test_a_drift_is_found_and_repaired(database: Database) -> None:
    with database.unit_of_work(write=True) as uow:
        make_agency(uow, code="unite-a")
        own = create_bank(uow, agency_code="unite-a", name="connu", actor="test")
        add_entries(
            uow,
            agency_code="unite-a",
            bank_name="connu",
            entries=[EntryInput("md5", MD5.compute(b"neutre").value, Labels(), tlp=Tlp.GREEN)],
            actor="test",
        )
        uow.commit()
    with database.engine.begin() as conn:
        conn.execute(text("UPDATE bank_entry_counts SET n = n + 5"))
    with database.unit_of_work(write=True) as uow:
        assert uow.banks.kept_counts(own.id) != uow.banks.fresh_counts(own.id)
        assert uow.banks.recount(own.id) is True
        uow.commit()
    with database.unit_of_work(write=True) as uow:
        assert uow.banks.kept_counts(own.id) == {
            ("type", "md5"): 1,
            ("tlp", "green"): 1,
            ("distribution", ""): 1,
        }
        assert uow.banks.recount(own.id) is False
