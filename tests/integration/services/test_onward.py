"""Distribution: an entry shared "onward" reaches the partner's own partners as "this
agreement only", never under a laxer TLP, and never back to where it came from."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from passerelle.core.bank import EntryInput
from passerelle.core.exchange import Partner
from passerelle.core.taxonomy import Category, Labels
from passerelle.db.session import Database
from passerelle.services.banks import add_entries, create_bank
from passerelle.services.exchange import apply_feed, build_feed
from tests.factories import make_agency, make_partner_under_agreement

NOW = datetime.now(UTC)


def terms(distribution: str, tlp: str) -> dict[str, object]:
    return {
        "purpose": "Partage entre unités (test)",
        "categories": ["a"],
        "signal_types": ["pdq"],
        "retention_days": 30,
        "distribution": distribution,
        "tlp": tlp,
        "valid_from": "2026-01-01",
        "valid_until": "2030-01-01",
    }


def link(uow, here: str, there: str, raw: dict[str, object]) -> Partner:  # type: ignore[no-untyped-def]
    return make_partner_under_agreement(uow, here=here, there=there, terms=raw)


@pytest.mark.parametrize("distribution", ["onward", "agreement"])
def test_onward_entries_go_on_narrowed_and_never_back(
    database: Database, distribution: str
) -> None:
    with database.unit_of_work(write=True) as uow:
        for code in ("fr", "qc", "be"):
            make_agency(uow, code=f"unite-{code}")
        qc_at_fr = link(uow, "unite-fr", "unite-qc", terms(distribution, "green"))
        fr_at_qc = link(uow, "unite-qc", "unite-fr", terms(distribution, "green"))
        be_at_qc = link(uow, "unite-qc", "unite-be", terms("onward", "clear"))
        fr_again = uow.exchange.get_partner(fr_at_qc.agency_id, fr_at_qc.id)
        create_bank(uow, agency_code="unite-fr", name="connu", actor="test")
        add_entries(
            uow,
            agency_code="unite-fr",
            bank_name="connu",
            actor="test",
            entries=[EntryInput("pdq", "ab" * 32, Labels(category=Category.INCITES))],
        )
        page = build_feed(
            uow, publisher_id=qc_at_fr.agency_id, subscriber=qc_at_fr, cursor=0, now=NOW
        )
        assert [e.distribution.value for e in page.entries] == [distribution]
        apply_feed(uow, partner=fr_again, page=page, asked_cursor=0, now=NOW)
        to_be = build_feed(
            uow, publisher_id=be_at_qc.agency_id, subscriber=be_at_qc, cursor=0, now=NOW
        )
        back = build_feed(
            uow, publisher_id=fr_at_qc.agency_id, subscriber=fr_at_qc, cursor=0, now=NOW
        )
        uow.commit()
    if distribution == "agreement":
        assert to_be.entries == ()  # this agreement only: it stops in Québec
    else:
        (entry,) = to_be.entries
        assert entry.value == "ab" * 32
        assert entry.distribution.value == "agreement"  # narrowed when passed on
        assert entry.tlp.value == "green"  # not the laxer "clear" of the next agreement
    assert back.entries == ()  # never back to where it came from
