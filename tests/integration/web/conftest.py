"""Set-ups the console's tests share."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from passerelle.db.session import Database
from tests.factories import make_case_with_host, make_cases, make_referral
from tests.shared import shared

RATIONALE = "Appel explicite à commettre des attentats, sans mise en contexte."


@pytest.fixture
def case_id(sqlite_database: Database, agencies: dict[str, str]) -> str:
    """A case of agency A on a stand-in known image, and a host in A's directory."""
    with sqlite_database.unit_of_work(write=True) as uow:
        case = make_case_with_host(uow, agency_code="agency-a")
        uow.commit()
    return case


@pytest.fixture
def referral_id(sqlite_database: Database, agencies: dict[str, str]) -> str:
    """A referral of agency A (by analyst.a) on a case of a stand-in known image."""
    image = shared("pdq", "images", "aaa-orig.jpg").read_bytes()
    with sqlite_database.unit_of_work(write=True) as uow:
        (case,) = make_cases(uow, agency_code="agency-a", images=[image])
        author = uow.users.find_credentials("analyst.a")
        assert author is not None
        referral = make_referral(uow, agency_code="agency-a", case_id=case, author=author.user)
        uow.commit()
    return referral


def decide(client: TestClient, token: str, case: str, **fields: str) -> None:
    """Decide the case as terrorist content (category a) through the console; `fields` adds
    to the form (e.g. `add_to_bank`)."""
    answer = client.post(
        f"/cases/{case}/decision",
        data={
            "csrf_token": token,
            "verdict": "terrorist",
            "category": "a",
            "exemption_checked": "true",
            "legal_basis": "fr_code_penal_421_2_5",
            "rationale": RATIONALE,
            **fields,
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text[:500]


def set_observation_hold(client: TestClient, token: str, case: str, reason: str) -> None:
    """Put the case under observation ("leave it up") through the console."""
    answer = client.post(
        f"/cases/{case}/observation",
        data={"csrf_token": token, "reason": reason},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text[:500]
