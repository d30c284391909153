"""Set-ups the console's tests share."""

from __future__ import annotations

import pytest

from passerelle.db.session import Database
from tests.factories import make_case_with_host


@pytest.fixture
def case_id(sqlite_database: Database, agencies: dict[str, str]) -> str:
    """A case of agency A on a stand-in known image, and a host in A's directory."""
    with sqlite_database.unit_of_work(write=True) as uow:
        case = make_case_with_host(uow, agency_code="agency-a")
        uow.commit()
    return case
