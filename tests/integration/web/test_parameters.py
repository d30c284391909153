"""Every parameter of every route is bounded, so that no value a client can send reaches the
database or the code out of range (an integer over 64 bits was a 500): integers have both
bounds, texts a maximum length. The routes are enumerated from the app, so a new route with an
unbounded parameter fails here. Out-of-range values are 422 (TAXII: its 400, as a TAXII error)."""

from __future__ import annotations

from collections.abc import Iterator

from annotated_types import Ge, Gt, Le, Lt, MaxLen
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from passerelle.db.session import Database
from passerelle.services.auth import create_api_token
from passerelle.services.banks import create_bank
from passerelle.web.app import ROUTERS
from tests.conftest import log_in

HUGE = "99999999999999999999"


def every_route(client: TestClient) -> list[APIRoute]:
    routes = list(client.app.routes) + [r for router in ROUTERS for r in router.routes]  # type: ignore[attr-defined]
    return [r for r in routes if isinstance(r, APIRoute)]


def parameters(dependant: Dependant) -> Iterator[tuple[str, object]]:
    for field in (
        dependant.path_params
        + dependant.query_params
        + dependant.header_params
        + dependant.cookie_params
        + dependant.body_params
    ):
        yield field.name, field
    for sub in dependant.dependencies:
        yield from parameters(sub)


def unbounded(field: object) -> str | None:
    """Why a parameter is unbounded, or None."""
    annotation = field.field_info.annotation  # type: ignore[attr-defined]
    metadata = field.field_info.metadata  # type: ignore[attr-defined]
    kinds = {type(m) for m in metadata}
    text = str(annotation)
    if "UploadFile" in text:
        return None  # a file: bounded by its route's body limit (413 before it is read)
    if "int" in text and "bool" not in text:
        if not kinds & {Ge, Gt} or not kinds & {Le, Lt}:
            return "an integer without both bounds"
    elif "str" in text and MaxLen not in kinds and not _is_path(field):
        return "a text without max_length"
    return None


def _is_path(field: object) -> bool:
    return type(field.field_info).__name__ == "Path"  # type: ignore[attr-defined]


def test_every_parameter_of_every_route_is_bounded(client: TestClient) -> None:
    problems = []
    for route in every_route(client):
        for name, field in parameters(route.dependant):
            why = unbounded(field)
            if why:
                problems.append(f"{sorted(route.methods)} {route.path} {name}: {why}")
    assert problems == []


def token_for(database: Database, username: str) -> str:
    with database.unit_of_work(write=True) as uow:
        found = uow.users.find_credentials(username)
        assert found is not None
        _, secret = create_api_token(uow, user=found.user, name="t")
        if uow.banks.list(found.user.agency_id) == []:
            create_bank(uow, agency_code="agency-a", name="connu", actor="test")
        uow.commit()
    return secret


def test_huge_numbers_are_422_not_500(
    client: TestClient, sqlite_database: Database, agencies: dict[str, str]
) -> None:
    headers = {"Authorization": "Bearer " + token_for(sqlite_database, "admin.a")}
    for path in (f"/api/v1/audit/events?before={HUGE}", f"/api/v1/audit/events/{HUGE}"):
        response = client.get(path, headers=headers)
        assert response.status_code == 422, (path, response.text)
        assert response.json()["error"]["code"] == "invalid_input"
    log_in(client, "admin.a")
    for path in (f"/audit?before={HUGE}", f"/audit/{HUGE}", f"/hote/x?e={HUGE}&s=x"):
        assert client.get(path).status_code == 422, path


def test_taxii_paging_token_out_of_range_is_a_taxii_error(
    client: TestClient, sqlite_database: Database, agencies: dict[str, str]
) -> None:
    headers = {"Authorization": "Bearer " + token_for(sqlite_database, "analyst.a")}
    collections = client.get("/taxii2/api/collections/", headers=headers).json()["collections"]
    objects = f"/taxii2/api/collections/{collections[0]['id']}/objects/"
    for token in (HUGE, "-1", "abc", "1e9"):
        response = client.get(objects, params={"next": token}, headers=headers)
        # TAXII 2.1 answers a malformed request with its 400 (section 3.6.1)
        assert response.status_code == 400, (token, response.text)
        assert response.headers["content-type"].startswith("application/taxii+json")
        error = response.json()
        assert error["http_status"] == "400" and error["title"]
    unauthenticated = client.get("/taxii2/api/collections/")
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["http_status"] == "401"


EDGE_TIMES = (
    "0001-01-01T00:00:00+23:59",  # before year 1 in UTC: OverflowError, a 500, before
    "9999-12-31T23:59:59-23:59",  # after year 9999 in UTC
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999Z",
    "2026-02-30T00:00:00Z",
    "2026-11-29T25:00:00Z",
    "2026-11-29",
    "2026-11-29T00:00:00+24:00",
    "now",
    "",
)


def test_taxii_added_after_out_of_range_is_a_taxii_error_never_a_500(
    client: TestClient, sqlite_database: Database, agencies: dict[str, str]
) -> None:
    headers = {"Authorization": "Bearer " + token_for(sqlite_database, "analyst.a")}
    collections = client.get("/taxii2/api/collections/", headers=headers).json()["collections"]
    base = f"/taxii2/api/collections/{collections[0]['id']}"
    listed = client.get(base + "/objects/", headers=headers).json()["objects"]
    paths = (
        base + "/objects/",
        base + "/manifest/",
        base + f"/objects/{listed[0]['id']}/",
        base + f"/objects/{listed[0]['id']}/versions/",
    )
    for path in paths:
        for moment in EDGE_TIMES:
            response = client.get(path, params={"added_after": moment}, headers=headers)
            if moment in ("", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z"):
                assert response.status_code in (200, 404), (path, moment, response.text)
                continue
            assert response.status_code == 400, (path, moment, response.text)
            assert response.headers["content-type"].startswith("application/taxii+json")
            error = response.json()
            assert error["http_status"] == "400" and "added_after" in error["title"]


def test_the_last_day_of_the_calendar_is_422_not_500(
    client: TestClient, sqlite_database: Database, agencies: dict[str, str]
) -> None:
    """The queue's "to" day and a report's end read up to the next midnight: 9999-12-31
    had none (OverflowError, a 500)."""
    log_in(client, "controller.a")
    for path in (
        "/queue?to=9999-12-31",
        "/reports?start=9999-12-01&end=9999-12-31",
        "/reports/export.csv?start=9999-12-01&end=9999-12-31",
    ):
        response = client.get(path)
        assert response.status_code == 422, (path, response.text[:300])
    assert client.get("/queue?to=9999-12-30").status_code == 200
