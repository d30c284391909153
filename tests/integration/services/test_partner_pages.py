"""A partner's feed page is taken in at once: its additions are written to the partner bank
together, and the bank, the outbox, the partner's notices and the audit end up as they do when
the same entries come one page each; an entry that cannot be read is left out and named, the
rest of the page taken in."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from passerelle.core.bank import NewEntry
from passerelle.core.errors import InvalidInput
from passerelle.core.exchange import (
    Distribution,
    EventKind,
    FeedEntry,
    FeedPage,
    Partner,
    Tlp,
    parse_page,
)
from passerelle.core.identity import Locale
from passerelle.core.signals.digests import MD5, SHA256
from passerelle.db.bank_repo import SqlBankRepo
from passerelle.db.models import BankEntryRow, BankRow
from passerelle.db.session import Database
from passerelle.services.exchange import SyncOutcome, apply_feed, take_page
from passerelle.web.i18n import load_catalog
from tests.factories import make_agency, make_partner_under_agreement

NOW = datetime.now(UTC)
PUBLISHER = "unite-fr"
TERMS = {
    "purpose": "Partage entre unités (test)",
    "categories": ["a", "b"],
    "signal_types": ["sha256", "md5", "pdq"],
    "share_decisions": True,
    "share_holds": True,
    "retention_days": 30,
    "distribution": "onward",
    "tlp": "green",
    "valid_from": "2026-01-01",
    "valid_until": "2030-01-01",
}


def _sha(text: str) -> str:
    return SHA256.compute(text.encode()).value


def _md5(text: str) -> str:
    return MD5.compute(text.encode()).value


# (kind, signal type, value, category, TLP, distribution, decided): additions in runs, the same
# signal twice (the second time stricter), one withdrawn after it was added, a hold, and
# signals the bank held before the page.
PLAN: list[tuple[EventKind, str, str, str | None, str, str, bool]] = [
    (EventKind.ADD, "sha256", _sha("un"), "a", "green", "onward", True),
    (EventKind.ADD, "md5", _md5("deux"), "b", "green", "agreement", False),
    (EventKind.ADD, "pdq", "ab" * 32, "a", "amber", "onward", True),
    (EventKind.ADD, "sha256", _sha("un"), "a", "amber", "agreement", False),
    (EventKind.ADD, "sha256", _sha("quatre"), "a", "green", "onward", False),
    (EventKind.RETRACT, "sha256", _sha("quatre"), "a", "green", "onward", False),
    (EventKind.ADD, "md5", _md5("cinq"), "b", "green", "onward", False),
    (EventKind.HOLD, "pdq", "ab" * 32, None, "green", "agreement", False),
    (EventKind.ADD, "sha256", _sha("déjà"), "a", "green", "onward", False),
    (EventKind.ADD, "sha256", _sha("six"), "a", "green", "onward", True),
    (EventKind.ADD, "md5", _md5("deux"), "b", "amber", "agreement", False),
    (EventKind.RELEASE, "pdq", "ab" * 32, None, "green", "agreement", False),
    (EventKind.ADD, "md5", _md5("sept"), "a", "green", "agreement", False),
]


def _entries(agreement: str, first_seq: int, plan: list[Any]) -> list[FeedEntry]:
    return [
        FeedEntry(
            seq=first_seq + n,
            kind=kind,
            signal_type=signal_type,
            value=value,
            category=category,
            tier=None,
            tags=("partage",),
            decision={"verdict": "terrorist", "decided_at": "2026-11-30"} if decided else None,
            agreement=agreement,
            distribution=Distribution(distribution),
            tlp=Tlp(tlp),
            at=NOW,
        )
        for n, (kind, signal_type, value, category, tlp, distribution, decided) in enumerate(plan)
    ]


def _page(entries: list[FeedEntry], our_code: str, cursor: int) -> FeedPage:
    return FeedPage(
        PUBLISHER, our_code, cursor, cursor + len(entries), tuple(entries), NOW, nonce="ab" * 16
    )


def _subscriber(database: Database, code: str) -> tuple[Partner, str]:
    """`code` subscribes to the publisher's feed under TERMS, and already holds one signal of
    the page from an earlier one: its partner, and the agreement's id."""
    with database.unit_of_work(write=True) as uow:
        make_agency(uow, code=code)
        partner = make_partner_under_agreement(uow, here=code, there=PUBLISHER, terms=TERMS)
        (agreement,) = uow.exchange.agreements(partner.agency_id, partner.id)
        earlier = _entries(agreement.id, 1, [PLAN[8]])
        apply_feed(uow, partner=partner, page=_page(earlier, code, 0), asked_cursor=0, now=NOW)
        uow.commit()
    return partner, agreement.id


def _state(database: Database, partner: Partner, agreement: str) -> dict[str, Any]:
    """What the subscriber holds of the partner: its bank's entries (the agreement's id, which
    differs from one subscriber to another, put aside), its outbox and the partner's notices."""
    with database.unit_of_work() as uow:
        session = uow.session
        bank_id = session.scalar(
            select(BankRow.id).where(
                BankRow.agency_id == partner.agency_id, BankRow.name == f"partner-{PUBLISHER}"
            )
        )
        rows = session.scalars(select(BankEntryRow).where(BankEntryRow.bank_id == bank_id)).all()
        entries = sorted(
            (
                r.signal_type,
                r.value,
                r.category,
                r.tier,
                json.loads(r.tags_json),
                r.note,
                (r.provenance or "").replace(agreement, "AGREEMENT"),
                r.expires_at.replace(tzinfo=UTC) if r.expires_at else None,
                r.tlp,
                r.distribution,
            )
            for r in rows
        )
        outbox = [
            (e.kind, e.signal_type, e.value, e.category, e.tags, e.origin, e.tlp_floor)
            for e in uow.exchange.events_after(partner.agency_id, 0, 100)
        ]
        notices = [
            (n.kind, n.signal_type)
            for n in uow.exchange.partner_signals(partner.agency_id, {"pdq": "ab" * 32})
        ]
    return {"entries": entries, "outbox": outbox, "notices": notices}


def _imports(database: Database, partner: Partner) -> list[dict[str, Any]]:
    with database.unit_of_work() as uow:
        events = uow.audit.list_for_agency(partner.agency_id, limit=100)
    return [e.details for e in events if e.action == "exchange.imported"]


def test_a_page_ends_up_as_its_entries_taken_one_page_each(database: Database) -> None:
    whole, whole_agreement = _subscriber(database, "unite-qc")
    single, single_agreement = _subscriber(database, "unite-be")
    with database.unit_of_work(write=True) as uow:
        page = _page(_entries(whole_agreement, 2, PLAN), "unite-qc", 1)
        outcome = apply_feed(uow, partner=whole, page=page, asked_cursor=1, now=NOW)
        uow.commit()
    each = []
    for n, entry in enumerate(_entries(single_agreement, 2, PLAN)):
        with database.unit_of_work(write=True) as uow:
            one = _page([entry], "unite-be", 1 + n)
            each.append(apply_feed(uow, partner=single, page=one, asked_cursor=1 + n, now=NOW))
            uow.commit()
    assert outcome == SyncOutcome(
        imported=sum(o.imported for o in each),
        retracted=sum(o.retracted for o in each),
        notices=sum(o.notices for o in each),
    )
    assert (outcome.imported, outcome.retracted, outcome.notices) == (7, 1, 2)
    taken, one_by_one = (
        _state(database, whole, whole_agreement),
        _state(database, single, single_agreement),
    )
    assert taken == one_by_one
    # The strictest marking of a signal that came twice; what was withdrawn stays withdrawn;
    # passed on: the onward entries the bank did not hold, each once.
    by_value = {entry[1]: entry for entry in taken["entries"]}
    assert by_value[_sha("un")][8:10] == ("amber", "agreement")
    assert by_value[_md5("deux")][8] == "amber"
    assert _sha("quatre") not in by_value  # withdrawn
    assert [(e[0], e[2]) for e in taken["outbox"]] == [
        (EventKind.ADD, _sha("déjà")),  # passed on from the earlier page
        (EventKind.ADD, _sha("un")),
        (EventKind.ADD, "ab" * 32),
        (EventKind.ADD, _sha("quatre")),
        (EventKind.RETRACT, _sha("quatre")),
        (EventKind.ADD, _md5("cinq")),
        (EventKind.ADD, _sha("six")),
    ]
    # One audit event for the page, with what each page said of itself added up.
    page_event = _imports(database, whole)[0]
    assert (page_event["imported"], page_event["retracted"], page_event["notices"]) == (7, 1, 2)
    assert "refused" not in page_event


def test_a_pages_additions_are_written_to_the_bank_at_once(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One write of the bank for each run of additions in the page, not one an entry."""
    partner, agreement = _subscriber(database, "unite-qc")
    writes: list[int] = []
    real = SqlBankRepo.add_entries

    def add_entries(self: SqlBankRepo, bank_id: str, entries: list[NewEntry]) -> list[NewEntry]:
        writes.append(len(entries))
        return real(self, bank_id, entries)

    monkeypatch.setattr(SqlBankRepo, "add_entries", add_entries)
    plan = [
        (EventKind.ADD, "sha256", _sha(f"page {n}"), "a", "green", "agreement", False)
        for n in range(60)
    ]
    with database.unit_of_work(write=True) as uow:
        page = _page(_entries(agreement, 2, plan), "unite-qc", 1)
        outcome = apply_feed(uow, partner=partner, page=page, asked_cursor=1, now=NOW)
        uow.commit()
    assert (outcome.imported, writes) == (60, [60])
    writes.clear()
    with database.unit_of_work(write=True) as uow:
        page = _page(_entries(agreement, 62, PLAN), "unite-qc", 61)
        apply_feed(uow, partner=partner, page=page, asked_cursor=61, now=NOW)
        uow.commit()
    assert writes == [5, 1, 3, 1]  # the runs of additions between the other kinds


def test_an_entry_that_cannot_be_read_is_named_and_the_rest_taken_in(database: Database) -> None:
    partner, agreement = _subscriber(database, "unite-qc")
    good = _entries(agreement, 2, PLAN[:3])
    document = _page(good, "unite-qc", 0).as_dict()  # from the cursor the partner is at
    document["next_cursor"] = 5
    bad = {**document["entries"][1], "seq": 5, "value": "pas une empreinte"}
    document["entries"].insert(1, bad)
    document["audit_head"] = "7:" + "cd" * 32
    page = parse_page(document)
    with database.unit_of_work(write=True) as uow:
        outcome = take_page(uow, partner=partner, page=page, now=NOW)
        uow.commit()
    assert outcome.imported == 3
    (refused,) = outcome.refused
    assert str(refused).startswith("entry 5: ")
    with database.unit_of_work() as uow:
        (log, *_) = uow.exchange.sync_log(partner.id)
        moved = uow.exchange.get_partner(partner.agency_id, partner.id).cursor
    assert (log.outcome, log.imported, moved) == ("ok", 3, 5)  # the page is taken, not refused
    assert log.detail.english() == (
        f"3 entries from cursor 0 to 5; entries left out (1): {refused.english()}"
    )
    french = log.detail.render(load_catalog(Locale.FR).gettext)
    assert "entrées écartées (1)\u00a0: entrée 5\u00a0: " in french, french
    (event, *_) = _imports(database, partner)
    assert event["imported"] == 3
    assert [item["values"]["seq"] for item in event["refused"]] == ["5"]


def test_a_page_whose_entries_are_outside_the_agreement_is_still_refused_whole(
    database: Database,
) -> None:
    """Our copy of the agreement may lag behind the partner's (an answer not received yet):
    such a page is refused whole and asked for again later, never taken in part."""
    partner, agreement = _subscriber(database, "unite-qc")
    entries = _entries(agreement, 2, PLAN[:2]) + _entries("autre-accord", 4, PLAN[:1])
    page = _page(entries, "unite-qc", 1)
    with database.unit_of_work(write=True) as uow:
        with pytest.raises(InvalidInput, match="unknown agreement"):
            apply_feed(uow, partner=partner, page=page, asked_cursor=1, now=NOW)
        uow.rollback()
    assert _imports(database, partner)[0]["imported"] == 1  # only the earlier page's
