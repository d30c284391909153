"""Bank entries in bulk, on both engines: duplicates inside a batch and against the database."""

from __future__ import annotations

import random

from passerelle.core.bank import EntryInput
from passerelle.db.session import Database
from passerelle.services import banks
from tests.factories import make_agency


def test_bulk_adds_count_duplicates_and_keep_the_log_short(database: Database) -> None:
    rng = random.Random(3)
    values = [f"{rng.getrandbits(256):064x}" for _ in range(1200)]
    with database.unit_of_work(write=True) as uow:
        make_agency(uow, code="unite")
        banks.create_bank(uow, agency_code="unite", name="gros", actor="test")
        first = banks.add_entries(
            uow,
            agency_code="unite",
            bank_name="gros",
            entries=[EntryInput("pdq", v) for v in values + values[:10]],
            actor="test",
        )
        uow.commit()
    assert (first.added, first.duplicates, first.error_count) == (1200, 10, 0)
    with database.unit_of_work(write=True) as uow:
        again = banks.add_entries(
            uow,
            agency_code="unite",
            bank_name="gros",
            entries=[EntryInput("pdq", v) for v in values[:700]] + [EntryInput("pdq", "zz")],
            actor="test",
        )
        uow.commit()
    assert (again.added, again.duplicates, again.error_count) == (0, 700, 1)
    with database.unit_of_work() as uow:
        _, entries, _ = banks.export_entries(uow, agency_code="unite", bank_name="gros")
        actions = [e.action for e in uow.audit.iter_all()]
    assert sorted(e.signal.value for e in entries) == sorted(values)
    # One event per import, not one per entry; an import that added nothing writes none.
    assert actions == ["agency.created", "bank.created", "bank.entries_added"]
