"""The host's signed link and complaints: forged or expired links refused, a complaint
answered by someone other than the decider, a reinstatement withdrawing bank entries."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from passerelle.core.hostlink import sign_host_link
from passerelle.core.identity import Locale
from passerelle.db.session import Database
from passerelle.services import banks, refer
from passerelle.web.history import readable
from passerelle.web.i18n import load_catalog
from tests.conftest import TEST_SECRET, csrf_of, log_in
from tests.factories import make_cases
from tests.integration.web.conftest import decide
from tests.shared import shared


@pytest.fixture
def referral(
    client: TestClient, sqlite_database: Database, agencies: dict[str, str]
) -> tuple[str, str]:
    """A case decided by analyst.a with its signals added to bank 'connu', and a referral."""
    image = shared("pdq", "images", "aaa-orig.jpg").read_bytes()
    with sqlite_database.unit_of_work(write=True) as uow:
        (case,) = make_cases(uow, agency_code="agency-a", images=[image])
        refer.add_host(
            uow,
            agency_code="agency-a",
            actor="test",
            domain="exemple.test",
            name="Hébergeur",
            email="abuse@exemple.test",
            language="fr",
        )
        uow.commit()
    token = log_in(client, "analyst.a")
    decide(client, token, case, add_to_bank="connu")
    made = client.post(
        f"/cases/{case}/referrals",
        data={"csrf_token": token, "kind": "referral"},
        follow_redirects=False,
    )
    referral_id = made.headers["location"].rsplit("/", 1)[1]
    notice = client.get(f"/referrals/{referral_id}/notice.txt").text
    link = re.search(r"(http\S+/hote/\S+)", notice)
    assert link, notice
    client.cookies.clear()
    parts = urlsplit(link.group(1))
    return case, f"{parts.path}?{parts.query}"


def host_post(client: TestClient, link: str, **fields: str):  # type: ignore[no-untyped-def]
    path, query = link.split("?")
    stamp, signature = (p.split("=")[1] for p in query.split("&"))
    token = csrf_of(client)
    return client.post(path, data={"csrf_token": token, "e": stamp, "s": signature} | fields)


def test_forged_and_expired_links_are_refused(
    client: TestClient, referral: tuple[str, str]
) -> None:
    _, link = referral
    assert client.get(link).status_code == 200
    forged = client.get(link[:-4] + "0000")
    assert forged.status_code == 403 and "Accès refusé" in forged.text
    referral_id = link.split("/")[2].split("?")[0]
    stamp, signature = sign_host_link(
        TEST_SECRET, referral_id, datetime.now(UTC) - timedelta(days=1)
    )
    expired = client.get(f"/hote/{referral_id}?e={stamp}&s={signature}")
    assert expired.status_code == 403
    assert client.get(f"/hote/{referral_id}").status_code == 403


def test_acknowledge_complain_and_reinstate(
    client: TestClient, sqlite_database: Database, referral: tuple[str, str]
) -> None:
    case, link = referral
    assert 'data-testid="host-done"' in host_post(client, link, action="acknowledge").text
    assert host_post(client, link, action="complain", text="court").status_code == 422
    complaint = host_post(
        client,
        link,
        action="complain",
        text="Il s'agit d'un reportage de presse sur l'attentat, pas d'une apologie.",
    )
    assert complaint.status_code == 200
    log_in(client, "analyst.a")
    page = client.get(f"/cases/{case}").text
    assert "reportage de presse" in page
    answer_by = (datetime.now(UTC) + timedelta(days=14)).strftime("%Y-%m-%d")
    assert f"réponse avant le {answer_by}" in page
    complaint_id = re.search(r"/complaints/([0-9a-f-]{36})/decision", page).group(1)  # type: ignore[union-attr]
    token = csrf_of(client)
    decision = {
        "csrf_token": token,
        "outcome": "reinstated",
        "rationale": "Le contenu relève du journalisme, exempté par l'art. 1(3).",
    }
    own = client.post(f"/complaints/{complaint_id}/decision", data=decision)
    assert own.status_code == 403  # the person who decided does not review the complaint
    client.cookies.clear()
    token = log_in(client, "approver.a")
    decided = client.post(
        f"/complaints/{complaint_id}/decision",
        data=decision | {"csrf_token": token},
        follow_redirects=False,
    )
    assert decided.status_code == 303
    assert "contenu rétabli" in client.get(f"/cases/{case}").text
    with sqlite_database.unit_of_work() as uow:
        _, entries, _ = banks.export_entries(uow, agency_code="agency-a", bank_name="connu")
        events = list(uow.audit.iter_all())
    actions = [e.action for e in events]
    # Why they went is read in the reader's language on the audit page.
    removed = [e.details["reason"] for e in events if e.action == "bank.entry_removed"]
    french = load_catalog(Locale.FR).gettext
    assert {readable(reason, french) for reason in removed} == {
        f"rétabli après une réclamation sur le dossier {case}"
    }
    # make_cases banked the image's PDQ before; the decision added sha256, md5 and url (its
    # PDQ was already there); the reinstatement withdrew what the decision added, only.
    assert [(e.signal.type, e.note) for e in entries] == [("pdq", "")]
    for action in (
        "referral.acknowledged",
        "complaint.received",
        "complaint.decided",
        "bank.entry_removed",
    ):
        assert action in actions
    again = client.post(
        f"/complaints/{complaint_id}/decision", data=decision | {"csrf_token": token}
    )
    assert again.status_code == 409
