"""Login, lock-out, sessions and API tokens against a real database (both engines)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from passerelle.core.errors import AuthenticationFailed, Conflict, InvalidInput
from passerelle.core.identity import Jurisdiction
from passerelle.db.models import UserRow
from passerelle.db.session import Database
from passerelle.services import admin, audit, auth
from tests.factories import DEFAULT_PASSWORD, make_agency, make_user

POLICY = auth.LoginPolicy(
    max_failures=3, lockout=timedelta(minutes=15), session_lifetime=timedelta(hours=1)
)
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@pytest.fixture
def seeded(database: Database) -> Database:
    with database.unit_of_work(write=True) as uow:
        make_agency(uow)
        make_user(uow, username="analyste")
        uow.commit()
    return database


def attempt(
    database: Database, username: str, password: str, now: datetime = NOW, source: str = "ici"
) -> str:
    try:
        result = auth.log_in(
            database.unit_of_work,
            username=username,
            password=password,
            source=source,
            policy=POLICY,
            now=now,
        )
    except AuthenticationFailed as exc:
        return f"failed: {exc}"
    return result.session_token


def actions(database: Database) -> list[str]:
    with database.unit_of_work() as uow:
        return [e.action for e in uow.audit.iter_all()]


def test_a_good_login_opens_a_session(seeded: Database) -> None:
    token = attempt(seeded, "Analyste", DEFAULT_PASSWORD)
    with seeded.unit_of_work() as uow:
        user = auth.user_for_session(uow, token, NOW)
        assert user is not None and user.username == "analyste"
        assert auth.user_for_session(uow, token, NOW + timedelta(hours=2)) is None
    assert actions(seeded)[-1] == "user.logged_in"


@pytest.mark.parametrize(
    ("username", "password"),
    [("analyste", "wrong password!"), ("personne", DEFAULT_PASSWORD), ("", ""), ("a b", "x")],
)
def test_every_failure_says_the_same_thing(seeded: Database, username: str, password: str) -> None:
    assert attempt(seeded, username, password) == "failed: login failed"


def test_repeated_failures_lock_the_account_from_that_source_only(seeded: Database) -> None:
    for _ in range(3):
        assert attempt(seeded, "analyste", "wrong password!") == "failed: login failed"
    # Locked from here: the right password is told so (with the time), and not checked.
    assert attempt(seeded, "analyste", DEFAULT_PASSWORD) == "failed: account locked"
    with pytest.raises(auth.AccountLocked) as locked:
        auth.log_in(
            seeded.unit_of_work,
            username="analyste",
            password=DEFAULT_PASSWORD,
            source="ici",
            policy=POLICY,
            now=NOW,
        )
    assert locked.value.until == NOW + timedelta(minutes=15)
    # From elsewhere the owner logs in: nobody locks an account for everyone.
    assert not attempt(seeded, "analyste", DEFAULT_PASSWORD, source="ailleurs").startswith("fail")
    # After the lock-out time the right password works again here too.
    later = NOW + timedelta(minutes=16)
    assert not attempt(seeded, "analyste", DEFAULT_PASSWORD, now=later).startswith("failed")


def test_the_lock_doubles_with_each_failure_after_it(seeded: Database) -> None:
    moment = NOW
    ends = []
    for _ in range(5):
        attempt(seeded, "analyste", "wrong password!", now=moment)
        with seeded.unit_of_work() as uow:
            until = uow.users.locked_until("analyste", moment)
        if until is not None:
            ends.append(until - moment)
            moment = until + timedelta(seconds=1)
    assert ends == [timedelta(minutes=15), timedelta(minutes=30), timedelta(minutes=60)]


def test_failed_logins_are_audited_once_per_window(seeded: Database) -> None:
    for second in range(2):  # under the threshold, in one window
        attempt(seeded, "analyste", "wrong password!", now=NOW + timedelta(seconds=second))
    for n in range(2):  # more sources, same window: each its own count
        attempt(seeded, "analyste", "wrong password!", source=f"s{n}")
    assert actions(seeded).count("user.login_failed") == 3
    later = NOW + timedelta(minutes=20)
    attempt(seeded, "analyste", "wrong password!", now=later)
    with seeded.unit_of_work() as uow:
        last = list(uow.audit.iter_all())[-1]
    assert last.action == "user.login_failed"
    assert last.details["previous_window_failures"] == 2
    assert last.details["locked_until"] == (later + timedelta(minutes=15)).isoformat()


def test_a_session_gives_its_user_with_every_role_and_the_agency_jurisdiction(
    database: Database,
) -> None:
    with database.unit_of_work(write=True) as uow:
        make_agency(uow, code="unite-qc", jurisdiction="CA-QC")
        make_user(uow, agency_code="unite-qc", username="marie", roles=("analyst", "approver"))
        uow.commit()
    token = attempt(database, "marie", DEFAULT_PASSWORD)
    with database.unit_of_work() as uow:
        found = auth.viewer_for_session(uow, token, NOW)
        assert found is not None
        user, jurisdiction = found
        assert user == auth.user_for_session(uow, token, NOW)
        assert {role.value for role in user.roles} == {"analyst", "approver"}
        assert jurisdiction is Jurisdiction.QUEBEC
        assert auth.viewer_for_session(uow, token, NOW + timedelta(hours=2)) is None
        assert auth.viewer_for_session(uow, "not-a-session", NOW) is None
        # A deactivated account's session opens nothing, even if it was not deleted.
        uow.session.execute(update(UserRow).values(is_active=False))
        assert auth.viewer_for_session(uow, token, NOW) is None


def test_a_disabled_user_cannot_log_in_and_loses_sessions(seeded: Database) -> None:
    token = attempt(seeded, "analyste", DEFAULT_PASSWORD)
    with seeded.unit_of_work(write=True) as uow:
        admin.disable_user(uow, username="analyste")
        uow.commit()
    with seeded.unit_of_work() as uow:
        assert auth.user_for_session(uow, token, NOW) is None
    assert attempt(seeded, "analyste", DEFAULT_PASSWORD) == "failed: login failed"


def test_api_tokens_are_hashed_at_rest_and_revocable(seeded: Database) -> None:
    with seeded.unit_of_work(write=True) as uow:
        user = uow.users.list_all()[0]
        token, secret = auth.create_api_token(uow, user=user, name="script")
        uow.commit()
    assert secret.startswith("psl_")
    with seeded.engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT token_hash FROM api_tokens").scalar_one()
    assert stored == auth.hash_token(secret) != secret
    with seeded.unit_of_work(write=True) as uow:
        assert auth.user_for_api_token(uow, secret) == user
        assert auth.user_for_api_token(uow, "psl_not-a-token") is None
        assert auth.user_for_api_token(uow, "no-prefix") is None
        auth.revoke_api_token(uow, user=user, token_id=token.id)
        uow.commit()
    with seeded.unit_of_work() as uow:
        assert auth.user_for_api_token(uow, secret) is None


def test_duplicates_and_bad_input_are_refused_without_half_saving(seeded: Database) -> None:
    with seeded.unit_of_work(write=True) as uow, pytest.raises(Conflict, match="taken"):
        make_user(uow, username="analyste")
    with seeded.unit_of_work(write=True) as uow, pytest.raises(InvalidInput, match="jurisdiction"):
        admin.create_agency(uow, code="autre", name="Autre", jurisdiction="US")
    with seeded.unit_of_work(write=True) as uow, pytest.raises(Conflict, match="already exists"):
        make_agency(uow)
    assert actions(seeded) == ["agency.created", "user.created"]


def test_concurrent_writers_form_one_chain(seeded: Database) -> None:
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            for n in range(5):
                with seeded.unit_of_work(write=True) as uow:
                    make_user(uow, username=f"w{index}n{n}", password="x" * 12)
                    uow.commit()
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with seeded.unit_of_work() as uow:
        report = audit.verify_log(uow)
    assert report.is_intact
    assert report.checked == 2 + 20
