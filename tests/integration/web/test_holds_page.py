"""Liaison officers set and lift observation holds from the holds page, by a case's reference,
without ever seeing the content; approvers too; the others read the list or nothing."""

from __future__ import annotations

from fastapi.testclient import TestClient

from passerelle.db.session import Database
from tests.conftest import log_in
from tests.factories import make_cases
from tests.shared import shared

REASON = "Enquête en cours chez le partenaire, laisser en ligne."


def _case(database: Database, agency: str = "agency-a") -> str:
    image = shared("pdq", "images", "aaa-orig.jpg").read_bytes()
    with database.unit_of_work(write=True) as uow:
        (case,) = make_cases(uow, agency_code=agency, images=[image])
        uow.commit()
    return case


def test_a_liaison_sets_and_lifts_a_hold_without_seeing_the_content(
    client: TestClient, sqlite_database: Database, agencies: dict[str, str]
) -> None:
    case = _case(sqlite_database)
    token = log_in(client, "liaison.a")
    assert 'href="/holds"' in client.get("/").text  # in the menu
    page = client.get("/holds")
    assert page.status_code == 200 and "Aucun gel d’observation." in page.text

    link = f"https://passerelle.exemple/cases/{case}#decide"  # the address of the case's page
    set_ = client.post(
        "/holds", data={"csrf_token": token, "case": link, "reason": REASON}, follow_redirects=True
    )
    assert set_.status_code == 200
    assert "Gel posé sur 1 dossier." in set_.text
    listed = set_.text.split('data-testid="holds"')[1]
    assert case in listed and REASON in listed and "liaison.a" in listed
    # No content, and no way into the case page, for a liaison officer.
    assert f"/cases/{case}" not in listed and "aaa-orig" not in set_.text
    assert client.get(f"/cases/{case}").status_code == 403

    # The hold blocks the unit's referrals: the approver's case page shows it.
    client.cookies.clear()
    approver = log_in(client, "approver.a")
    assert 'data-testid="own-hold"' in client.get(f"/cases/{case}").text
    assert f'href="/cases/{case}"' in client.get("/holds").text  # approvers open cases

    lifted = client.post(
        f"/holds/{case}/lift", data={"csrf_token": approver}, follow_redirects=True
    )
    assert lifted.status_code == 200 and "Aucun gel d’observation." in lifted.text
    assert 'data-testid="own-hold"' not in client.get(f"/cases/{case}").text


def test_a_hold_by_a_bad_or_foreign_reference_is_refused_next_to_its_field(
    client: TestClient, sqlite_database: Database, agencies: dict[str, str]
) -> None:
    foreign = _case(sqlite_database, agency="agency-b")
    token = log_in(client, "liaison.a")
    bad = client.post(
        "/holds", data={"csrf_token": token, "case": "n’importe quoi", "reason": REASON}
    )
    assert bad.status_code == 422
    assert 'id="hold-case-error"' in bad.text and "pas un numéro de dossier" in bad.text
    assert REASON in bad.text  # what was typed is kept
    other = client.post("/holds", data={"csrf_token": token, "case": foreign, "reason": REASON})
    assert other.status_code == 404 and 'id="hold-case-error"' in other.text
    short = client.post("/holds", data={"csrf_token": token, "case": foreign, "reason": "court"})
    assert short.status_code == 404  # the case is looked up first: nothing said about B's case
    unknown = client.post(
        "/holds",
        data={"csrf_token": token, "case": "https://exemple.test/rien", "reason": REASON},
    )
    assert unknown.status_code == 404 and "aucun dossier de cette unité" in unknown.text
    assert client.post(f"/holds/{foreign}/lift", data={"csrf_token": token}).status_code == 404


def test_who_reads_the_holds_and_who_sets_them(
    client: TestClient, sqlite_database: Database, agencies: dict[str, str]
) -> None:
    case = _case(sqlite_database)
    for role, reads, sets in (
        ("analyst", True, False),
        ("controller", True, False),
        ("approver", True, True),
        ("liaison", True, True),
        ("admin", False, False),
    ):
        client.cookies.clear()
        token = log_in(client, f"{role}.a")
        page = client.get("/holds")
        assert (page.status_code == 200) is reads, role
        assert ('data-testid="hold-form"' in page.text) is sets, role
        answer = client.post(
            "/holds",
            data={"csrf_token": token, "case": case, "reason": REASON},
            follow_redirects=False,
        )
        assert (answer.status_code == 303) is sets, (role, answer.status_code)
