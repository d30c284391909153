"""Two units served by one Passerelle and one database, as the demo runs them: the sync job
and a liaison's "sync now" reach the partner over HTTP while the server answers it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from passerelle.core.exchange import FeedPage, Partner
from passerelle.core.job import LEASE
from passerelle.core.message import Message
from passerelle.core.ports import UnitOfWork
from passerelle.core.signals.pdq import PDQ
from passerelle.db.engine import make_engine
from passerelle.db.migrate import upgrade
from passerelle.db.session import Database
from passerelle.exchange.client import make_pull
from passerelle.exchange.signing import agency_key
from passerelle.fetch.guard import AddressGuard
from passerelle.services.jobs import JobRun, run_due_jobs, schedule_defaults
from passerelle.services.sync import sync_agency, sync_partner_now
from tests.factories import make_agency, make_user
from tests.instances import (
    LOOPBACK,
    Instance,
    close_clients,
    csrf_of,
    decide_image,
    ensure_agreement,
    last_log,
    partner_bank,
    partner_id,
    sync,
    wire_partners,
)
from tests.servers import running_passerelle
from tests.shared import shared


@pytest.fixture(scope="module")
def shared_instance(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Instance, Instance]]:
    folder = tmp_path_factory.mktemp("one")
    secret = "secret-of-one-instance-" + "x" * 40
    url = f"sqlite:///{folder / 'passerelle.db'}"
    with ExitStack() as stack:
        database = Database(make_engine(url), secret=secret)
        stack.callback(database.dispose)
        upgrade(database.engine)
        with database.unit_of_work(write=True) as uow:
            for code, jurisdiction in (("seul-fr", "FR"), ("seul-qc", "CA-QC")):
                make_agency(uow, code=code, jurisdiction=jurisdiction)
                for role in ("analyst", "approver", "liaison"):
                    make_user(uow, agency_code=code, username=f"{role}.{code}", roles=(role,))
                agency_key(uow, uow.agencies.get_by_code(code).id, secret)
            uow.commit()
        env = {
            "PASSERELLE_ENV": "dev",
            "PASSERELLE_DATABASE_URL": url,
            "PASSERELLE_DATA_DIR": str(folder / "var"),
            "PASSERELLE_SECRET_KEY": secret,
            "PASSERELLE_PARTNER_ALLOW": "127.0.0.1/32",  # the partners of the test are local
        }
        base = stack.enter_context(running_passerelle(folder, "serve", env=env))
        fr = Instance("seul-fr", base, database, secret)
        qc = Instance("seul-qc", base, database, secret)
        wire_partners(fr, qc)  # both units are served by this one instance
        yield fr, qc
        close_clients(fr, qc)


def test_the_sync_job_reaches_a_partner_served_by_the_same_instance(
    shared_instance: tuple[Instance, Instance],
) -> None:
    fr, qc = shared_instance
    ensure_agreement(fr, qc)
    decide_image(fr, "aaa-orig.jpg", "a", "decisions")
    detail = sync(qc)
    assert detail.startswith("1 pages pulled, 0 refused, 0 unreachable"), detail
    assert last_log(qc)[0] == "ok"
    value = PDQ.compute(shared("pdq", "images", "aaa-orig.jpg").read_bytes()).value
    assert partner_bank(qc, fr.code)[("pdq", value)] == "a"


def test_a_liaison_syncs_now_from_the_partners_page(
    shared_instance: tuple[Instance, Instance],
) -> None:
    fr, qc = shared_instance
    ensure_agreement(fr, qc)
    decide_image(fr, "square-128x128.jpg", "a", "decisions")
    liaison = qc.client(f"liaison.{qc.code}")
    token = csrf_of(liaison, "/partners")
    answer = liaison.post(f"/partners/{partner_id(qc, fr.code)}/sync", data={"csrf_token": token})
    assert answer.status_code == 200, answer.text[:500]
    assert 'data-testid="sync-outcome"' in answer.text
    value = PDQ.compute(shared("pdq", "images", "square-128x128.jpg").read_bytes()).value
    assert partner_bank(qc, fr.code)[("pdq", value)] == "a"
    with qc.database.unit_of_work() as uow:
        events = [e.action for e in uow.audit.iter_all()]
    assert "partner.sync_requested" in events


def test_a_sync_whose_lease_ran_out_during_a_slow_pull_stops_without_applying_its_page(
    shared_instance: tuple[Instance, Instance],
) -> None:
    fr, qc = shared_instance
    ensure_agreement(fr, qc)
    decide_image(fr, "blur-a-little.jpg", "a", "decisions")
    database = qc.database
    with database.unit_of_work(write=True) as uow:
        schedule_defaults(uow)
        uow.session.execute(
            text("UPDATE jobs SET run_at = :t WHERE kind = 'sync'"),
            {"t": datetime.now(UTC) - timedelta(seconds=1)},
        )
        uow.session.execute(text("UPDATE partners SET next_sync_at = NULL"))
        uow.commit()
    pull = make_pull(qc.secret, AddressGuard(LOOPBACK))
    partner = partner_id(qc, fr.code)
    oks_before = sync_oks(database, partner)

    @contextmanager
    def open_uow() -> Iterator[UnitOfWork]:
        with database.unit_of_work(write=True) as uow:
            yield uow

    second: list[JobRun] = []

    def slow_pull(partner: Partner, subscriber: str, key: str, cursor: int) -> FeedPage:
        page = pull(partner, subscriber, key, cursor)
        if subscriber == qc.code and not second:
            # This pull took longer than the lease: another runner finds the job free,
            # claims it and syncs the same partner before this one comes back.
            later = datetime.now(UTC) + LEASE + timedelta(minutes=1)
            second.extend(
                run_due_jobs(
                    open_uow, worker="second", fetch=lambda url: None, now=later, pull=pull
                )
            )
        return page

    first = list(run_due_jobs(open_uow, worker="first", fetch=lambda url: None, pull=slow_pull))
    agency = qc_agency_id(qc)
    (mine,) = [r for r in first if r.kind == "sync" and r.agency_id == agency]
    (theirs,) = [r for r in second if r.kind == "sync" and r.agency_id == agency]
    assert theirs.detail.startswith("1 pages pulled"), theirs
    assert mine.detail == "stopped" and "taken over" in str(mine.error), mine
    assert sync_oks(database, partner) == oks_before + 1  # the page applied once


def sync_oks(database: Database, partner: str) -> int:
    with database.engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM sync_log WHERE partner_id = :p AND outcome = 'ok'"),
                {"p": partner},
            ).scalar_one()
        )


def qc_agency_id(instance: Instance) -> str:
    with instance.database.unit_of_work() as uow:
        return uow.agencies.get_by_code(instance.code).id


def _due_sync(database: Database) -> None:
    with database.unit_of_work(write=True) as uow:
        schedule_defaults(uow)
        uow.session.execute(
            text("UPDATE jobs SET run_at = :t WHERE kind = 'sync'"),
            {"t": datetime.now(UTC) - timedelta(seconds=1)},
        )
        uow.session.execute(text("UPDATE partners SET next_sync_at = NULL"))
        uow.commit()


def test_sync_now_while_the_job_syncs_is_refused_and_the_page_applied_once(
    shared_instance: tuple[Instance, Instance],
) -> None:
    """The liaison presses "sync now" while the sync job has pulled a page and not yet
    applied it: before, both applied the same page (and the later one could move the cursor
    back); now the button is refused politely, and the job's page is applied once."""
    fr, qc = shared_instance
    ensure_agreement(fr, qc)
    decide_image(fr, "sharpen-a-lot.jpg", "a", "decisions")
    database = qc.database
    _due_sync(database)
    pull = make_pull(qc.secret, AddressGuard(LOOPBACK))
    partner = partner_id(qc, fr.code)
    oks_before = sync_oks(database, partner)
    liaison = qc.client(f"liaison.{qc.code}")
    token = csrf_of(liaison, "/partners")
    pressed: list[tuple[int, str]] = []

    @contextmanager
    def open_uow() -> Iterator[UnitOfWork]:
        with database.unit_of_work(write=True) as uow:
            yield uow

    def pull_then_press(partner: Partner, subscriber: str, key: str, cursor: int) -> FeedPage:
        page = pull(partner, subscriber, key, cursor)
        if subscriber == qc.code and not pressed:
            answer = liaison.post(f"/partners/{partner.id}/sync", data={"csrf_token": token})
            pressed.append((answer.status_code, answer.text))
        return page

    runs = list(run_due_jobs(open_uow, worker="job", fetch=lambda url: None, pull=pull_then_press))
    agency = qc_agency_id(qc)
    (job,) = [r for r in runs if r.kind == "sync" and r.agency_id == agency]
    assert job.detail.startswith("1 pages pulled"), job
    ((status, page),) = pressed
    assert status == 409, page[:500]
    assert 'data-testid="sync-outcome"' in page
    assert "Une synchronisation avec les partenaires est déjà en cours" in page
    assert sync_oks(database, partner) == oks_before + 1  # the page applied once
    value = PDQ.compute(shared("pdq", "images", "sharpen-a-lot.jpg").read_bytes()).value
    assert partner_bank(qc, fr.code)[("pdq", value)] == "a"
    # The button works again once the job is done.
    answer = liaison.post(f"/partners/{partner}/sync", data={"csrf_token": token})
    assert answer.status_code == 200, answer.text[:500]


def test_two_syncs_now_at_once_apply_the_page_once(
    shared_instance: tuple[Instance, Instance],
) -> None:
    """Two presses of "sync now" (two liaisons, or a double click): the second, arriving
    while the first has pulled its page, is refused; the page is applied once."""
    fr, qc = shared_instance
    ensure_agreement(fr, qc)
    decide_image(fr, "shrink-a-lot.jpg", "a", "decisions")
    database = qc.database
    pull = make_pull(qc.secret, AddressGuard(LOOPBACK))
    partner = partner_id(qc, fr.code)
    oks_before = sync_oks(database, partner)
    with database.unit_of_work() as uow:
        (liaison,) = [
            u
            for u in uow.users.list_in_agency(qc_agency_id(qc))
            if u.username == f"liaison.{qc.code}"
        ]

    @contextmanager
    def open_uow() -> Iterator[UnitOfWork]:
        with database.unit_of_work(write=True) as uow:
            yield uow

    second: list[str] = []

    def pull_then_press_again(partner: Partner, subscriber: str, key: str, cursor: int) -> FeedPage:
        page = pull(partner, subscriber, key, cursor)
        if not second:
            second.append("pressing")  # pulls once: the second press pulls with plain `pull`
            second.append(
                sync_partner_now(
                    open_uow, viewer=liaison, partner_id=partner.id, pull=pull, now=_now()
                )
            )
        return page

    first = sync_partner_now(
        open_uow, viewer=liaison, partner_id=partner, pull=pull_then_press_again, now=_now()
    )
    assert (first, second) == ("ok", ["pressing", "busy"])
    assert sync_oks(database, partner) == oks_before + 1
    value = PDQ.compute(shared("pdq", "images", "shrink-a-lot.jpg").read_bytes()).value
    assert partner_bank(qc, fr.code)[("pdq", value)] == "a"


def _now() -> datetime:
    return datetime.now(UTC)


def test_a_page_pulled_before_another_sync_applied_it_is_not_applied_again(
    shared_instance: tuple[Instance, Instance],
) -> None:
    """Two syncs without a lease between them (one outlived its lease): the one whose
    partner cursor moved while it pulled applies nothing, and the cursor never goes back."""
    fr, qc = shared_instance
    ensure_agreement(fr, qc)
    decide_image(fr, "high-saturation.jpg", "a", "decisions")
    database = qc.database
    _due_sync(database)
    pull = make_pull(qc.secret, AddressGuard(LOOPBACK))
    partner = partner_id(qc, fr.code)
    oks_before = sync_oks(database, partner)
    agency = qc_agency_id(qc)

    @contextmanager
    def open_uow() -> Iterator[UnitOfWork]:
        with database.unit_of_work(write=True) as uow:
            yield uow

    other: list[Message] = []
    moved_to: list[int] = []
    started_at = _cursor(database, agency, partner)

    def pull_while_another_syncs(
        partner: Partner, subscriber: str, key: str, cursor: int
    ) -> FeedPage:
        page = pull(partner, subscriber, key, cursor)
        if not other:
            other.append(sync_agency(open_uow, agency_id=agency, pull=pull, now=_now()))
            moved_to.append(_cursor(database, agency, partner.id))
        return page

    late = sync_agency(open_uow, agency_id=agency, pull=pull_while_another_syncs, now=_now())
    assert other[0].english().startswith("1 pages pulled"), other
    assert late.english().startswith("0 pages pulled, 0 refused, 0 unreachable"), late
    assert sync_oks(database, partner) == oks_before + 1
    assert moved_to[0] > started_at
    assert _cursor(database, agency, partner) == moved_to[0]  # not moved back


def _cursor(database: Database, agency: str, partner: str) -> int:
    with database.unit_of_work() as uow:
        return uow.exchange.get_partner(agency, partner).cursor
