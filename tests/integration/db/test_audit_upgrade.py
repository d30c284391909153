"""A log written before keyed chaining (plain SHA-256 links) stays verifiable after the upgrade:
`passerelle db upgrade` seals it as it is and the next events are keyed; rewriting the old
events afterwards is still caught."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from passerelle.core.audit import (
    GENESIS_HASH,
    MAC_KEYED,
    MAC_PLAIN,
    AuditEntry,
    chain_event,
    hash_of,
)
from passerelle.db.engine import make_engine
from passerelle.db.migrate import upgrade
from passerelle.db.session import Database
from passerelle.services.audit import verify_log
from tests.factories import make_agency, make_user

BEFORE_KEYING = "0017"


@pytest.fixture
def old_database(database_url: str) -> Iterator[Database]:
    database = Database(make_engine(database_url))
    upgrade(database.engine, BEFORE_KEYING)
    prev = GENESIS_HASH
    moment = datetime(2026, 11, 1, tzinfo=UTC)
    with database.engine.begin() as conn:
        for seq in range(1, 4):
            entry = AuditEntry("agency.created", "cli", None, "agency", f"ancienne-{seq}")
            event = chain_event(
                entry, seq=seq, prev_hash=prev, moment=moment + timedelta(minutes=seq), key=None
            )
            conn.execute(
                text(
                    "INSERT INTO audit_events (seq, occurred_at, action, actor, agency_id,"
                    " object_type, object_id, details_json, prev_hash, hash) VALUES (:seq, :at,"
                    " :action, :actor, NULL, :type, :id, :details, :prev, :hash)"
                ),
                {
                    "seq": event.seq,
                    "at": event.occurred_at,
                    "action": event.action,
                    "actor": event.actor,
                    "type": event.object_type,
                    "id": event.object_id,
                    "details": event.details_json,
                    "prev": event.prev_hash,
                    "hash": event.hash,
                },
            )
            prev = event.hash
        conn.execute(text("INSERT INTO audit_head (id, seq, hash) VALUES (1, 3, :h)"), {"h": prev})
    yield database
    database.dispose()


def test_an_old_log_is_sealed_at_upgrade_and_goes_on_keyed(old_database: Database) -> None:
    upgrade(old_database.engine)
    with old_database.unit_of_work(write=True) as uow:  # what `passerelle db upgrade` does
        uow.audit.ensure_keyed()
        uow.commit()
    with old_database.unit_of_work(write=True) as uow:
        make_agency(uow)
        make_user(uow, username="nouvelle")
        uow.commit()
    with old_database.unit_of_work() as uow:
        events = list(uow.audit.iter_all())
        report = verify_log(uow)
    assert report.is_intact, report.reason
    assert [e.mac_version for e in events] == [MAC_PLAIN] * 3 + [MAC_KEYED] * 2

    # Rewriting an old event and recomputing the old links does not match the seal.
    with old_database.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER audit_events_no_update"))
        else:
            conn.execute(text("DROP TRIGGER audit_events_no_change ON audit_events"))
        prev = events[0].hash
        for event in events[1:3]:
            changed = event.__class__(**{**_fields(event), "actor": "quelqu-un", "prev_hash": prev})
            changed = changed.__class__(**{**_fields(changed), "hash": hash_of(changed)})
            conn.execute(
                text(
                    "UPDATE audit_events SET actor = :a, prev_hash = :p, hash = :h WHERE seq = :s"
                ),
                {"a": changed.actor, "p": changed.prev_hash, "h": changed.hash, "s": changed.seq},
            )
            prev = changed.hash
    with old_database.unit_of_work() as uow:
        broken = verify_log(uow)
    assert (broken.broken_seq, broken.reason) == (
        3,
        "event #3 does not match the seal of the unkeyed prefix",
    )


def _fields(event: object) -> dict[str, object]:
    return {name: getattr(event, name) for name in event.__slots__}  # type: ignore[attr-defined]
