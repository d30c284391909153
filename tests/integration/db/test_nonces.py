"""Seen nonces on both engines: a nonce is remembered once per agency and partner, the same
nonce again is told apart (no error), and old ones are forgotten."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from passerelle.db.session import Database


def test_a_nonce_is_remembered_once_and_forgotten_when_old(database: Database) -> None:
    now = datetime.now(UTC)
    with database.unit_of_work(write=True) as uow:
        assert uow.exchange.remember_nonce("agence", "partenaire", "ab" * 16, now) is True
        assert uow.exchange.remember_nonce("agence", "partenaire", "ab" * 16, now) is False
        assert uow.exchange.remember_nonce("agence", "autre", "ab" * 16, now) is True
        assert uow.exchange.remember_nonce("agence", "partenaire", "cd" * 16, now) is True
        uow.commit()
    with database.unit_of_work(write=True) as uow:
        assert uow.exchange.remember_nonce("agence", "partenaire", "ab" * 16, now) is False
        assert uow.exchange.forget_nonces(now - timedelta(seconds=1)) == 0
        assert uow.exchange.forget_nonces(now + timedelta(seconds=1)) == 3
        assert uow.exchange.remember_nonce("agence", "partenaire", "ab" * 16, now) is True
        uow.commit()
