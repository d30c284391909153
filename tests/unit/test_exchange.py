"""Agreements, feeds and signatures: the rules, and every broken input named."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from passerelle.core.errors import InvalidInput
from passerelle.core.exchange import (
    Agreement,
    AgreementStatus,
    EventKind,
    FeedPage,
    OutboxEvent,
    Partner,
    check_page,
    feed_entries,
    next_status,
    parse_page,
    parse_terms,
)
from passerelle.exchange.signing import Refused, new_key_pair, open_private, seal, unseal

NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)
TERMS = {
    "purpose": "Retrait des contenus d'incitation",
    "categories": ["a", "c"],
    "signal_types": ["pdq", "sha256"],
    "share_decisions": "true",
    "share_holds": "",
    "retention_days": "90",
    "distribution": "agreement",
    "tlp": "AMBER",
    "valid_from": "2026-01-01",
    "valid_until": "2026-12-31",
}


def test_terms_are_parsed() -> None:
    terms = parse_terms(TERMS)
    assert terms.share_decisions and not terms.share_holds
    assert terms.tlp.value == "amber" and terms.retention_days == 90
    assert terms.in_force(NOW) and not terms.in_force(datetime(2027, 1, 1, tzinfo=UTC))
    assert parse_terms(terms.as_dict()) == terms


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"purpose": "court"}, "purpose"),
        ({"categories": []}, "categories"),
        ({"categories": ["z"]}, "categories"),
        ({"signal_types": ["video"]}, "signal_types"),
        ({"retention_days": "0"}, "retention_days"),
        ({"retention_days": "beaucoup"}, "retention_days"),
        ({"distribution": "everyone"}, "distribution"),
        ({"tlp": "purple"}, "tlp"),
        ({"valid_from": "demain"}, "valid_from"),
        ({"valid_until": "2025-01-01"}, "valid_until"),
    ],
)
def test_broken_terms_name_their_field(change: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_terms(TERMS | change)
    assert raised.value.field == field


def agreement(
    status: AgreementStatus = AgreementStatus.ACTIVE, role: str = "proposer"
) -> Agreement:
    return Agreement("ag-1", "a", "p", role, status, parse_terms(TERMS), NOW, NOW)


def test_only_the_receiver_accepts_and_each_status_has_its_moves() -> None:
    proposed = agreement(AgreementStatus.PROPOSED)
    with pytest.raises(InvalidInput, match="only the agency that received"):
        next_status(proposed, "accept", by_receiver=False)
    assert next_status(proposed, "accept", by_receiver=True) is AgreementStatus.ACTIVE
    assert next_status(agreement(), "suspend", by_receiver=False) is AgreementStatus.SUSPENDED
    with pytest.raises(InvalidInput, match="terminated"):
        next_status(agreement(AgreementStatus.TERMINATED), "resume", by_receiver=True)


def event(
    seq: int, category: str | None, kind: EventKind = EventKind.ADD, signal: str = "pdq"
) -> OutboxEvent:
    return OutboxEvent(
        seq, "a", kind, signal, "ab" * 32, category, None, (), {"verdict": "terrorist"}, NOW
    )


def test_the_feed_carries_only_what_the_agreement_admits() -> None:
    events = [
        event(1, "a"),
        event(2, "d"),  # a category outside the agreement
        event(3, "a", signal="md5"),  # a signal type outside it
        event(4, None, EventKind.HOLD),  # holds are not shared under these terms
        event(5, None, EventKind.REFERRED),  # decisions are: the referral date flows
    ]
    entries = feed_entries(events, [agreement()], NOW)
    assert [e.seq for e in entries] == [1, 5]
    assert entries[0].decision == {"verdict": "terrorist"}
    assert feed_entries(events, [agreement(AgreementStatus.SUSPENDED)], NOW) == []


def page(**change: object) -> FeedPage:
    entries = tuple(feed_entries([event(1, "a")], [agreement()], NOW))
    signed = FeedPage("fr", "qc", 0, 1, entries, NOW, nonce="ab" * 16, audit_head="7:" + "cd" * 32)
    return replace(signed, **change)  # type: ignore[arg-type]


def test_a_page_is_checked_against_our_copy_of_the_agreements() -> None:
    partner = Partner("p", "a", "fr", "FR", None, "k" * 43 + "=", "")
    mine = {"ag-1": agreement()}
    args = {"partner": partner, "our_code": "qc", "asked_cursor": 0, "now": NOW}
    assert check_page(page(), agreements=mine, **args) == []  # type: ignore[arg-type]
    assert "replayed" in str(check_page(page(cursor=3, next_cursor=3), agreements=mine, **args)[0])  # type: ignore[arg-type]
    assert "unknown agreement" in str(check_page(page(), agreements={}, **args)[0])  # type: ignore[arg-type]
    narrow = {
        "ag-1": Agreement(
            "ag-1",
            "a",
            "p",
            "receiver",
            AgreementStatus.ACTIVE,
            parse_terms(TERMS | {"categories": ["c"]}),
            NOW,
            NOW,
        )
    }
    assert "outside agreement" in str(check_page(page(), agreements=narrow, **args)[0])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        ([], "not a JSON object"),
        ({"schema": "autre"}, "unknown feed schema"),
        ({**page().as_dict(), "extra": 1}, "unexpected feed fields"),
        ({**page().as_dict(), "cursor": "x"}, "malformed feed"),
        ({**page().as_dict(), "entries": {"seq": 1}}, "entries are not a list"),
        ({**page().as_dict(), "nonce": "0"}, "nonce is 32 lowercase hexadecimal"),
        ({**page().as_dict(), "audit_head": "7"}, "audit head is not"),
        (
            {**page().as_dict(), "issued_at": "2026-12-01T10:00:00"},
            "issued_at is a timestamp such as",
        ),
        ({**page().as_dict(), "schema": "passerelle-feed/1"}, "carry no time and nonce"),
    ],
)
def test_a_broken_page_is_named(broken: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_page(broken)


def test_a_decision_summary_never_carries_the_rationale() -> None:
    document = page().as_dict()
    document["entries"][0]["decision"] = {"verdict": "terrorist", "rationale": "secret"}
    read = parse_page(document)
    assert read.entries == ()  # nothing of it is taken in
    (refused,) = read.refused
    assert str(refused.message()) == "entry 1: a decision summary never carries the rationale"


def test_an_entry_that_cannot_be_read_is_left_out_and_named_and_the_rest_read() -> None:
    good = page().as_dict()["entries"][0]
    document = page(next_cursor=4).as_dict()
    document["entries"] = [
        good,
        {**good, "seq": 2, "value": "not a digest"},
        {"seq": 3},
        {**good, "seq": 4, "kind": "adx"},
    ]
    read = parse_page(document)
    assert [entry.seq for entry in read.entries] == [1]
    assert [refused.seq for refused in read.refused] == ["2", "3", "4"]
    reasons = [str(refused.message()) for refused in read.refused]
    assert reasons[1] == "entry 3: malformed feed entry"
    assert all(reason.startswith(f"entry {n}: ") for n, reason in zip("234", reasons, strict=True))
    assert "adx" in reasons[2]


def test_envelopes_verify_and_refuse_every_alteration() -> None:
    public, sealed = new_key_pair("secret")
    key = open_private(sealed, "secret")
    body = seal({"b": 1, "a": "é"}, key)
    assert unseal(body, public, max_bytes=10_000) == {"a": "é", "b": 1}
    other, _ = new_key_pair("autre")
    with pytest.raises(Refused, match="does not verify"):
        unseal(body, other, max_bytes=10_000)
    changed = json.loads(body)
    changed["payload"] = changed["payload"].replace("1", "2")
    with pytest.raises(Refused, match="does not verify"):
        unseal(json.dumps(changed).encode(), public, max_bytes=10_000)
    with pytest.raises(Refused, match="over the limit"):
        unseal(body, public, max_bytes=10)
    with pytest.raises(Refused, match="not a signed envelope"):
        unseal(b"{}", public, max_bytes=10_000)
    with pytest.raises(Exception, match="does not open"):
        open_private(sealed, "un autre secret")
