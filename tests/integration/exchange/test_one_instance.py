"""Two units served by one Passerelle and one database, as the demo runs them: the sync job
and a liaison's "sync now" reach the partner over HTTP while the server answers it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from passerelle.core.signals.pdq import PDQ
from passerelle.db.engine import make_engine
from passerelle.db.migrate import upgrade
from passerelle.db.session import Database
from passerelle.exchange.signing import agency_key
from passerelle.services.exchange import add_partner
from tests.factories import make_agency, make_user
from tests.integration.exchange.test_two_instances import (
    LOOPBACK,
    Instance,
    csrf_of,
    decide_image,
    ensure_agreement,
    last_log,
    partner_bank,
    partner_id,
    sync,
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
        with database.unit_of_work(write=True) as uow:
            for here, there in ((fr, qc), (qc, fr)):
                key = uow.exchange.active_key(uow.agencies.get_by_code(there.code).id)
                assert key is not None
                add_partner(
                    uow,
                    agency_id=uow.agencies.get_by_code(here.code).id,
                    actor="test",
                    code=there.code,
                    name=f"Unité {there.code}",
                    base_url=base,
                    public_key=key[0],
                    contact=f"liaison@{there.code}.exemple",
                    allowed=LOOPBACK,
                )
            uow.commit()
        yield fr, qc
        for instance in (fr, qc):
            for client in instance.clients:
                client.close()


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
