"""Look-ups are audited by count without a transaction per call: the first call of a quiet
user is written at once, the calls after it within a period are written together (one event
counting them all), nothing kept is lost on a clean close; API tokens are checked against
the database once a period, and a revocation made here is honoured at once; what was checked
within the period (a token, an agency's matcher) is known without the database, so that the
match API answers a few signals without leaving its event loop."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from passerelle.core.signals import get_signal_type
from passerelle.db.session import Database
from passerelle.services import auth
from passerelle.services.audit import verify_log
from passerelle.services.lookup import look_up_known
from passerelle.services.lookup_audit import LookupAudit
from passerelle.services.matchers import MatcherCache
from tests.factories import make_agency, make_user


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def seeded(database: Database) -> tuple[Database, str]:
    with database.unit_of_work(write=True) as uow:
        agency = make_agency(uow)
        make_user(uow, username="analyste")
        uow.commit()
    return database, agency.id


def looked_up(database: Database) -> list[dict[str, object]]:
    with database.unit_of_work() as uow:
        return [e.details for e in uow.audit.iter_all() if e.action == "match.looked_up"]


def test_calls_within_a_period_are_written_as_one_event_and_none_is_lost(
    seeded: tuple[Database, str],
) -> None:
    database, agency_id = seeded
    clock = Clock()
    audit = LookupAudit(lambda: database.unit_of_work(write=True), period=3600, clock=clock)

    def call(pdq: int, sha256: int, matched: int, generation: int) -> None:
        audit.record(
            agency_id=agency_id,
            username="analyste",
            source="signals",
            by_type=Counter({"pdq": pdq, "sha256": sha256}),
            matched=matched,
            generation=generation,
        )

    call(1, 0, 1, 4)
    assert looked_up(database) == [
        {"source": "signals", "calls": 1, "signals": 1, "by_type": {"pdq": 1, "sha256": 0},
         "matched": 1, "generation": 4}
    ]  # fmt: skip
    clock.now += 1
    call(100, 2, 7, 4)
    call(3, 0, 0, 5)
    assert len(looked_up(database)) == 1  # kept, not yet written
    audit.close()
    assert looked_up(database)[1] == {
        "source": "signals",
        "calls": 2,
        "signals": 105,
        "by_type": {"pdq": 103, "sha256": 2},
        "matched": 7,
        "generation": 5,
    }
    with database.unit_of_work() as uow:
        assert verify_log(uow).is_intact  # grouped events keep the chain whole


def test_a_call_after_a_quiet_period_is_written_at_once(seeded: tuple[Database, str]) -> None:
    database, agency_id = seeded
    clock = Clock()
    audit = LookupAudit(lambda: database.unit_of_work(write=True), period=1, clock=clock)
    for _ in range(3):
        audit.record(
            agency_id=agency_id,
            username="analyste",
            source="file",
            by_type=Counter({"pdq": 1}),
            matched=0,
            generation=1,
        )
        clock.now += 5
    assert [d["calls"] for d in looked_up(database)] == [1, 1, 1]


def test_a_token_is_checked_once_a_period_and_forgotten_when_revoked(
    seeded: tuple[Database, str],
) -> None:
    database, _ = seeded
    with database.unit_of_work(write=True) as uow:
        user = uow.users.list_all()[0]
        token, secret = auth.create_api_token(uow, user=user, name="script")
        uow.commit()
    clock = Clock()
    cache = auth.TokenCache(period=1, clock=clock)
    opened = 0

    def open_uow() -> object:
        nonlocal opened
        opened += 1
        return database.unit_of_work()

    assert cache.user(open_uow, secret) == user
    assert cache.user(open_uow, secret) == user
    assert opened == 1
    assert cache.user(open_uow, "psl_not-a-token") is None
    assert cache.user(open_uow, "psl_not-a-token") is None
    assert opened == 3  # a refused token is never cached
    with database.unit_of_work(write=True) as uow:
        auth.revoke_api_token(uow, user=user, token_id=token.id)
        uow.commit()
    clock.now += 2  # another process's revocation: refused once the period is over
    assert cache.user(open_uow, secret) is None
    with database.unit_of_work(write=True) as uow:
        other, other_secret = auth.create_api_token(uow, user=user, name="second")
        uow.commit()
    assert cache.user(open_uow, other_secret) == user
    with database.unit_of_work(write=True) as uow:
        auth.revoke_api_token(uow, user=user, token_id=other.id)
        uow.commit()
    cache.forget(user.id)  # revoked by this process: refused at once
    assert cache.user(open_uow, other_secret) is None


def test_a_due_count_of_a_caller_that_must_not_wait_is_written_by_the_background_writer(
    seeded: tuple[Database, str],
) -> None:
    database, agency_id = seeded
    written_by: list[str] = []
    done = threading.Event()

    def open_write() -> Any:
        written_by.append(threading.current_thread().name)
        done.set()
        return database.unit_of_work(write=True)

    audit = LookupAudit(open_write, period=3600)
    audit.record(
        agency_id=agency_id,
        username="analyste",
        source="signals",
        by_type=Counter({"pdq": 1}),
        matched=0,
        generation=2,
        wait=False,
    )
    assert done.wait(60)  # the quiet user's first call is written at once, but not here
    audit.close()
    assert written_by == ["lookup-audit"]
    assert [d["calls"] for d in looked_up(database)] == [1]


def test_a_token_checked_within_the_period_is_known_without_the_database(
    seeded: tuple[Database, str],
) -> None:
    database, _ = seeded
    with database.unit_of_work(write=True) as uow:
        user = uow.users.list_all()[0]
        _, secret = auth.create_api_token(uow, user=user, name="script")
        uow.commit()
    clock = Clock()
    cache = auth.TokenCache(period=1, clock=clock)
    assert cache.known(secret) is None  # never checked yet
    assert cache.user(database.unit_of_work, secret) == user
    assert cache.known(secret) == user
    assert cache.known("psl_other") is None
    clock.now += 2
    assert cache.known(secret) is None  # the period is over: checked again by `user`


def test_a_matcher_checked_within_the_period_is_known_without_the_database(
    seeded: tuple[Database, str], tmp_path: Path
) -> None:
    database, agency_id = seeded
    clock = Clock()
    matchers = MatcherCache(tmp_path / "index", period=1)
    assert matchers.known(agency_id, clock) is None  # never opened yet
    opened = matchers.matcher(agency_id, database.unit_of_work, clock)
    assert matchers.known(agency_id, clock) is opened
    clock.now += 2
    assert matchers.known(agency_id, clock) is None  # due for a look at the generation


def test_only_indexed_types_are_answered_from_memory(
    seeded: tuple[Database, str], tmp_path: Path
) -> None:
    """A text fingerprint is compared with every text entry of the banks: never answered on
    the server's event loop, whatever the matcher in memory."""
    database, agency_id = seeded
    with database.unit_of_work() as uow:
        viewer = uow.users.list_all()[0]
    matchers = MatcherCache(tmp_path / "index", period=3600)
    matchers.matcher(agency_id, database.unit_of_work)
    audit = LookupAudit(lambda: database.unit_of_work(write=True), period=3600)
    pdq = get_signal_type("pdq").parse("0" * 64)
    text = get_signal_type("text").parse("0" * 1024)  # a MinHash fingerprint
    found = look_up_known(audit, matchers, viewer=viewer, signals=[pdq])
    assert found is not None and [a.signal for a in found] == [pdq]
    assert look_up_known(audit, matchers, viewer=viewer, signals=[pdq, text]) is None
    audit.close()
    assert [d["calls"] for d in looked_up(database)] == [1]  # the one answered
