"""A bank import's entries go into the outbox as blocks of many entries a row, and a partner
pulling the feed still receives every entry once, in order, each with its own sequence
number, its labels and its marking, resuming from any cursor (inside a block too), with the
withdrawals that come after."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from passerelle.core.bank import EntryInput
from passerelle.core.exchange import FEED_PAGE, EventKind, OutboxEvent
from passerelle.core.marking import Tlp
from passerelle.core.taxonomy import Category, Labels, Tier
from passerelle.db.exchange_repo import EVENT_BLOCK
from passerelle.db.migrate import downgrade, upgrade
from passerelle.db.session import Database
from passerelle.services.banks import add_entries, create_bank, remove_entry
from passerelle.services.exchange import apply_feed, build_feed, partner_bank_name
from tests.factories import make_agency
from tests.integration.services.test_onward import NOW, link, terms

LABELS = Labels(category=Category.INCITES)
IMPORTED = 2 * EVENT_BLOCK + 345  # three blocks, the last one partly filled


def value(n: int) -> str:
    return f"{n:064x}"


def _instance(database: Database) -> None:
    with database.unit_of_work(write=True) as uow:
        for code in ("fr", "qc"):
            make_agency(uow, code=f"unite-{code}")
        link(uow, "unite-fr", "unite-qc", terms("agreement", "green"))
        link(uow, "unite-qc", "unite-fr", terms("agreement", "green"))
        create_bank(uow, agency_code="unite-fr", name="connu", actor="test")
        uow.commit()


def _add(database: Database, numbers: range) -> None:
    with database.unit_of_work(write=True) as uow:
        add_entries(
            uow,
            agency_code="unite-fr",
            bank_name="connu",
            actor="test",
            entries=[EntryInput("pdq", value(n), LABELS) for n in numbers],
        )
        uow.commit()


def _every_event(database: Database) -> list[OutboxEvent]:
    with database.unit_of_work() as uow:
        agency = uow.agencies.get_by_code("unite-fr")
        return uow.exchange.events_after(agency.id, 0, 10 * IMPORTED)


def test_a_partner_receives_every_imported_entry_once_and_in_order(database: Database) -> None:
    _instance(database)
    _add(database, range(1, 2))  # one entry added by hand, before the import
    _add(database, range(2, 2 + IMPORTED))  # the import: blocks
    with database.unit_of_work(write=True) as uow:
        remove_entry(
            uow,
            agency_code="unite-fr",
            bank_name="connu",
            signal_type="pdq",
            value=value(500),
            actor="test",
        )
        uow.commit()
    seen: list[tuple[int, EventKind, str]] = []
    cursor, pages = 0, 0
    while True:  # one pull a page, each in its own transaction, as the sync job pulls
        with database.unit_of_work(write=True) as uow:
            fr = uow.agencies.get_by_code("unite-fr")
            qc = uow.agencies.get_by_code("unite-qc")
            qc_at_fr = uow.exchange.partner_by_code(fr.id, "unite-qc")
            fr_at_qc = uow.exchange.partner_by_code(qc.id, "unite-fr")
            assert qc_at_fr is not None and fr_at_qc is not None
            page = build_feed(uow, publisher_id=fr.id, subscriber=qc_at_fr, cursor=cursor, now=NOW)
            apply_feed(uow, partner=fr_at_qc, page=page, asked_cursor=cursor, now=NOW)
            uow.commit()
        seen.extend((e.seq, e.kind, e.value) for e in page.entries)
        pages += 1
        assert len(page.entries) <= FEED_PAGE
        if not page.more:
            break
        cursor = page.next_cursor
    added = [v for _, kind, v in seen if kind is EventKind.ADD]
    assert added == [value(n) for n in range(1, 2 + IMPORTED)]  # each once, in order
    assert seen[-1][1:] == (EventKind.RETRACT, value(500))
    numbers = [seq for seq, _, _ in seen]
    assert numbers == list(range(numbers[0], numbers[0] + len(seen)))  # one number each
    assert pages == -(-len(seen) // FEED_PAGE)
    with database.unit_of_work() as uow:
        qc = uow.agencies.get_by_code("unite-qc")
        fr_at_qc = uow.exchange.partner_by_code(qc.id, "unite-fr")
        assert fr_at_qc is not None
        bank = uow.banks.get_by_name(qc.id, partner_bank_name(fr_at_qc))
        held = {e.signal.value for e in uow.banks.entries([bank.id])}
    assert held == {value(n) for n in range(1, 2 + IMPORTED)} - {value(500)}


@pytest.mark.parametrize("offset", [0, 1, 137, EVENT_BLOCK - 1, EVENT_BLOCK, EVENT_BLOCK + 1])
def test_a_pull_resumes_from_any_cursor_inside_a_block(database: Database, offset: int) -> None:
    _instance(database)
    _add(database, range(1, 1 + IMPORTED))
    _add(database, range(1 + IMPORTED, 3 + IMPORTED))  # a second import after the first
    every = _every_event(database)
    assert [e.value for e in every] == [value(n) for n in range(1, 3 + IMPORTED)]
    cursor = every[0].seq - 1 + offset
    with database.unit_of_work() as uow:
        agency = uow.agencies.get_by_code("unite-fr")
        page = uow.exchange.events_after(agency.id, cursor, FEED_PAGE)
    assert page == every[offset : offset + FEED_PAGE]
    assert page[0].seq == cursor + 1


def test_each_entry_of_a_block_keeps_its_labels_and_marking(database: Database) -> None:
    _instance(database)
    given = [
        EntryInput("pdq", value(n), labels, tlp=tlp)
        for n, (labels, tlp) in enumerate(
            [
                (LABELS, None),
                (Labels(category=Category.INCITES, tier=Tier.CRISIS), Tlp.AMBER),
                (Labels(tags=frozenset({"x", "y"})), Tlp.GREEN),
                (LABELS, Tlp.RED),
            ],
            start=1,
        )
    ]
    with database.unit_of_work(write=True) as uow:
        add_entries(uow, agency_code="unite-fr", bank_name="connu", actor="test", entries=given)
        uow.commit()
    every = _every_event(database)
    assert [(e.value, e.category, e.tier, set(e.tags), e.tlp_floor) for e in every] == [
        (
            g.value,
            g.labels.category.value if g.labels.category else None,
            g.labels.tier.value if g.labels.tier else None,
            set(g.labels.tags),
            g.tlp,
        )
        for g in given
    ]


def test_going_back_a_migration_gives_each_entry_of_a_block_its_row(database: Database) -> None:
    _instance(database)
    _add(database, range(1, 1 + EVENT_BLOCK + 2))
    every = _every_event(database)
    downgrade(database.engine, "0037")
    with database.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT seq, value, tlp_floor FROM exchange_events ORDER BY seq")
        ).all()
    assert [(seq, v, floor) for seq, v, floor in rows] == [(e.seq, e.value, None) for e in every]
    upgrade(database.engine)
    assert _every_event(database) == every


def _event(database: Database, number: int, opened: threading.Event | None = None) -> None:
    with database.unit_of_work(write=True) as uow:
        agency = uow.agencies.get_by_code("unite-fr")
        uow.exchange.add_event(
            agency.id,
            kind=EventKind.ADD,
            signal_type="pdq",
            value=value(number),
            labels=LABELS,
            decision=None,
            when=NOW,
        )
        uow.session.flush()  # the event has drawn its sequence number
        if opened is not None:
            opened.set()
        uow.commit()


def test_a_reader_never_sees_an_event_whose_earlier_neighbour_is_still_uncommitted(
    database: Database,
) -> None:
    """A partner's cursor moves past the highest number it was given: an event numbered
    before it but committed after would never reach that partner. A writer of the outbox
    therefore waits until the writers before it have ended."""
    _instance(database)
    first = database.unit_of_work(write=True)
    uow = first.__enter__()
    try:
        agency = uow.agencies.get_by_code("unite-fr")
        uow.exchange.add_event(
            agency.id,
            kind=EventKind.ADD,
            signal_type="pdq",
            value=value(1),
            labels=LABELS,
            decision=None,
            when=NOW,
        )
        uow.session.flush()  # number drawn, not committed
        later = threading.Thread(target=_event, args=(database, 2))
        later.start()
        later.join(timeout=1.0)  # without the wait it commits its later number now
        seen_early = _every_event(database)
        uow.commit()
    finally:
        first.__exit__(None, None, None)
    later.join()
    seen_after = _every_event(database)
    cursor = max((event.seq for event in seen_early), default=0)
    missed = [event for event in seen_after if event.seq <= cursor and event not in seen_early]
    assert missed == []
    assert [event.value for event in seen_after] == [value(1), value(2)]


def test_an_event_written_before_entries_does_not_deadlock_with_an_import(
    database: Database,
) -> None:
    """A partner's page can pass an event on before it adds entries, while an import adds
    entries before its events: both wait in one order, so both commit."""
    _instance(database)
    first = database.unit_of_work(write=True)
    uow = first.__enter__()
    failures: list[BaseException] = []

    def imports() -> None:
        try:
            _add(database, range(100, 110))
        except BaseException as problem:  # reported by the assertion below
            failures.append(problem)

    try:
        agency = uow.agencies.get_by_code("unite-fr")
        uow.exchange.add_event(
            agency.id,
            kind=EventKind.HOLD,
            signal_type="pdq",
            value=value(1),
            labels=LABELS,
            decision=None,
            when=NOW,
        )
        uow.session.flush()
        importer = threading.Thread(target=imports)
        importer.start()
        importer.join(timeout=1.0)  # the import takes whatever it can before we go on
        add_entries(
            uow,
            agency_code="unite-fr",
            bank_name="connu",
            actor="test",
            entries=[EntryInput("pdq", value(2), LABELS)],
        )
        uow.commit()
    finally:
        first.__exit__(None, None, None)
    importer.join()
    assert failures == []
    values = [event.value for event in _every_event(database)]
    assert values[:2] == [value(1), value(2)]
    assert sorted(values[2:]) == [value(n) for n in range(100, 110)]
