"""Referral kinds by jurisdiction, deadlines, directory entries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from passerelle.core.errors import InvalidInput
from passerelle.core.identity import Jurisdiction
from passerelle.core.referral import (
    ReferralKind,
    deadline_for,
    needs_approval,
    parse_domain,
    parse_email,
    parse_kind,
)

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def test_deadlines_and_approval() -> None:
    assert deadline_for(ReferralKind.TCO_REMOVAL_ORDER, T0) == T0 + timedelta(hours=1)
    assert deadline_for(ReferralKind.FR_ADMIN_REQUEST, T0) == T0 + timedelta(hours=24)
    assert deadline_for(ReferralKind.REFERRAL, T0) is None
    assert needs_approval(ReferralKind.TCO_REMOVAL_ORDER)
    assert not needs_approval(ReferralKind.REFERRAL)


def test_what_each_jurisdiction_may_issue() -> None:
    assert parse_kind("tco_removal_order", Jurisdiction.FRANCE) is ReferralKind.TCO_REMOVAL_ORDER
    assert parse_kind("referral", Jurisdiction.QUEBEC) is ReferralKind.REFERRAL
    with pytest.raises(InvalidInput, match="cannot be issued in jurisdiction CA-QC"):
        parse_kind("fr_admin_request", Jurisdiction.QUEBEC)
    with pytest.raises(InvalidInput, match="unknown kind of referral"):
        parse_kind("takedown", Jurisdiction.FRANCE)


@pytest.mark.parametrize(
    ("raw", "clean"), [("Exemple.FR.", "exemple.fr"), ("bücher.example", "xn--bcher-kva.example")]
)
def test_domains(raw: str, clean: str) -> None:
    assert parse_domain(raw) == clean


@pytest.mark.parametrize(
    "bad", ["", "localhost", "exa mple.fr", "-x.fr", "a..fr", "http://exemple.fr"]
)
def test_bad_domains(bad: str) -> None:
    with pytest.raises(InvalidInput, match="not a domain name"):
        parse_domain(bad)


def test_emails() -> None:
    assert parse_email(" abuse@hebergeur.example ") == "abuse@hebergeur.example"
    for bad in ("", "abuse", "a b@c.d", "@x.fr"):
        with pytest.raises(InvalidInput, match="not an e-mail address"):
            parse_email(bad)
