"""Schemathesis against the OpenAPI document of /api/v1 (the exchange endpoints and the TAXII
2.1 routes included), in process, with and without a token: no 500, no status the document
does not declare, no media type it does not name. With a token, the TAXII routes are asked
about the agency's real collection (a bank with entries), so that their filters and paging
are fuzzed on objects. Bounded (a few examples an operation) so that it stays quick in CI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from passerelle.db.engine import make_engine
from passerelle.db.migrate import upgrade
from passerelle.db.session import Database
from passerelle.services.auth import create_api_token
from passerelle.settings import Settings
from passerelle.web.app import create_app
from tests.conftest import TEST_SECRET
from tests.factories import make_agency, make_user


def _app() -> tuple[object, str, str]:
    import tempfile
    import uuid

    from passerelle.core.bank import EntryInput
    from passerelle.core.signals.pdq import PDQ
    from passerelle.core.taxonomy import Category, Labels, Tier
    from passerelle.exchange.stix import NAMESPACE
    from passerelle.services.banks import add_entries, create_bank
    from tests.shared import shared

    folder = Path(tempfile.mkdtemp(prefix="passerelle-fuzz-"))
    database = Database(make_engine(f"sqlite:///{folder / 'passerelle.db'}"))
    upgrade(database.engine)
    with database.unit_of_work(write=True) as uow:
        make_agency(uow, code="unite-fr")
        user = make_user(
            uow, agency_code="unite-fr", username="tous.fr", roles=("analyst", "admin")
        )
        _, secret = create_api_token(uow, user=user, name="fuzz")
        bank = create_bank(uow, agency_code="unite-fr", name="connu", actor="test")
        labels = Labels(category=Category.INCITES, tier=Tier.PROMOTIONAL, tags=frozenset())
        pictures = sorted(shared("pdq", "images").glob("*.jpg"))[:3]
        entries = [EntryInput("pdq", PDQ.compute(p.read_bytes()).value, labels) for p in pictures]
        entries.append(EntryInput("url", "https://exemple.test/propagande", labels))
        add_entries(uow, agency_code="unite-fr", bank_name="connu", entries=entries, actor="t")
        uow.commit()
    app = create_app(Settings(env="test", secret_key=TEST_SECRET, data_dir=folder), database)
    return app, secret, str(uuid.uuid5(NAMESPACE, f"collection:{bank.id}"))


APP, TOKEN, COLLECTION = _app()
schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", APP)


@pytest.fixture(params=["without", "with"])
def credentials(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    yield {"Authorization": f"Bearer {TOKEN}"} if request.param == "with" else {}


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_the_api_answers_as_documented(case, credentials) -> None:  # type: ignore[no-untyped-def]
    if credentials and case.path_parameters and "collection_id" in case.path_parameters:
        case.path_parameters["collection_id"] = COLLECTION
    # A value of the right JSON type may still be refused (a PDQ hash that is not 64 hex
    # digits is 422): the schema cannot say everything the parser checks.
    case.call_and_validate(headers=credentials, excluded_checks=[positive_data_acceptance])
