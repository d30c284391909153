"""A read-only TAXII 2.1 server: the agency's own positive banks as collections of STIX 2.1
objects. Discovery, API root, collections, objects (with `added_after`, `limit`, `next` and the
`match[type|id|version|spec_version]` filters), an object by id, its versions, and the
manifest. Authenticated by the agency's API tokens (Bearer, or Basic with the token as the
password). Errors are TAXII error messages (the one error handler writes them).

A collection holds the objects its indicators refer to (the unit's identity, Passerelle's
extension definition, the TLP 2.0 marking definitions) and one indicator per entry, each under
its own marking. Entries marked TLP:RED are never served. The page size is capped at
`MAX_PAGE` (a larger `limit` gets the cap, as the specification allows); `next` is an offset
in the collection's order (supporting objects, then entries in the order they were added)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from passerelle.core.bank import Bank, BankEntry, BankKind, BankOrigin
from passerelle.core.errors import InvalidInput, NotAcceptable, NotFound, PermissionDenied
from passerelle.core.identity import Agency, Permission, User
from passerelle.core.marking import NEVER_SHARED, TLP_ORDER
from passerelle.core.ports import UnitOfWork
from passerelle.core.timestamps import parse_timestamp
from passerelle.exchange.stix import (
    NAMESPACE,
    entry_ids_of,
    extension_definition,
    identity,
    indicator_id,
    indicators,
    marking_definition,
)
from passerelle.web.context import ApiViewer, ReadUow

TAXII = "application/taxii+json;version=2.1"
STIX = "application/stix+json;version=2.1"


class TaxiiResponse(Response):
    media_type = TAXII


def _documented(description: str) -> dict[str, Any]:
    return {"description": description, "content": {TAXII: {"schema": {"type": "object"}}}}


# In the OpenAPI document with the statuses and media type they really answer with (TAXII
# 2.1 error messages; a request TAXII finds malformed is its 400: see `taxii_statuses`).
ERRORS: dict[int | str, dict[str, Any]] = {
    200: _documented("A TAXII 2.1 resource (discovery, API root, collections, an envelope…)"),
    400: _documented("Malformed request (a filter, `limit` or `next` out of range)"),
    401: _documented("Missing or invalid token (Bearer, or Basic with the token as password)"),
    403: _documented("Role does not allow it"),
    404: _documented("No such collection or object (or not of your agency)"),
    406: _documented("The Accept header asks for a media type this server does not write"),
}
router = APIRouter(
    prefix="/taxii2", tags=["TAXII 2.1"], default_response_class=TaxiiResponse, responses=ERRORS
)
PAGE, MAX_PAGE = 100, 1000
MAX_OFFSET = 10**12
WINDOW = 500
_VERSIONS = re.compile(r"^(first|last|all|\d{4}-\d\d-\d\dT[0-9:.]+Z)$")
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def _taxii(document: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return TaxiiResponse(json.dumps(document), headers=headers)


def taxii_statuses(schema: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document with the TAXII routes' parameter errors as the 400 they are
    answered with (FastAPI documents a 422 for every route with parameters)."""
    for path, operations in schema.get("paths", {}).items():
        if path.startswith(router.prefix):
            for operation in operations.values():
                operation.get("responses", {}).pop("422", None)
    return schema


def _accepts(request: Request, *types: str) -> None:
    accept = request.headers.get("accept", "").strip()
    if not accept:
        return
    for part in accept.split(","):
        media = part.split(";", 1)[0].strip().lower()
        params = part.lower().replace(" ", "")
        if media in ("*/*", "application/*"):
            return
        for wanted in types:
            base = wanted.split(";", 1)[0]
            if media == base and ("version=" not in params or "version=2.1" in params):
                return
    raise NotAcceptable("this server writes %(types)s", types=" or ".join(types))


def _reader(viewer: User) -> None:
    if not (viewer.can(Permission.REVIEW) or viewer.can(Permission.MANAGE_PARTNERS)):
        raise PermissionDenied("only analysts, approvers and liaison officers read collections")


def _collections(uow: UnitOfWork, viewer: User) -> dict[str, Bank]:
    return {
        str(uuid.uuid5(NAMESPACE, f"collection:{bank.id}")): bank
        for bank in uow.banks.list(viewer.agency_id)
        if bank.kind is BankKind.POSITIVE and bank.origin is BankOrigin.OWN
    }


def _describe(collection_id: str, bank: Bank) -> dict[str, Any]:
    return {
        "id": collection_id,
        "title": bank.name,
        "description": bank.description or f"Known terrorist content: bank {bank.name}",
        "can_read": True,
        "can_write": False,
        "media_types": [STIX],
    }


@router.get("/", summary="TAXII discovery")
def discovery(request: Request, viewer: ApiViewer) -> Response:
    _accepts(request, TAXII)
    return _taxii(
        {
            "title": "Passerelle",
            "description": "Known terrorist content of this referral unit, as STIX indicators",
            "default": "/taxii2/api/",
            "api_roots": ["/taxii2/api/"],
        }
    )


@router.get("/api/", summary="TAXII API root")
def api_root(request: Request, viewer: ApiViewer) -> Response:
    _accepts(request, TAXII)
    return _taxii(
        {"title": "Passerelle", "versions": [TAXII], "max_content_length": 10 * 1024 * 1024}
    )


@router.get("/api/collections/", summary="TAXII collections")
def collections(request: Request, viewer: ApiViewer, uow: ReadUow) -> Response:
    _accepts(request, TAXII)
    _reader(viewer)
    found = _collections(uow, viewer)
    return _taxii({"collections": [_describe(cid, bank) for cid, bank in found.items()]})


def _bank(uow: UnitOfWork, viewer: User, collection_id: str) -> Bank:
    _reader(viewer)
    bank = _collections(uow, viewer).get(collection_id)
    if bank is None:
        raise NotFound("no such collection")
    return bank


@router.get("/api/collections/{collection_id}/", summary="TAXII collection")
def collection(request: Request, viewer: ApiViewer, uow: ReadUow, collection_id: str) -> Response:
    _accepts(request, TAXII)
    return _taxii(_describe(collection_id, _bank(uow, viewer, collection_id)))


# The objects of a collection ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Listed:
    """One object of a collection, with when it was added."""

    stix: dict[str, Any]
    added: datetime


@dataclass(frozen=True, slots=True)
class Filters:
    added_after: datetime | None
    types: frozenset[str]
    ids: frozenset[str]
    versions: frozenset[str]
    spec_versions: frozenset[str]

    def admits(self, item: Listed) -> bool:
        stix = item.stix
        if self.added_after is not None and item.added <= self.added_after:
            return False
        if self.types and stix["type"] not in self.types:
            return False
        if self.ids and stix["id"] not in self.ids:
            return False
        if self.spec_versions and stix.get("spec_version", "2.1") not in self.spec_versions:
            return False
        # Every object here has one version: first, last and all name it.
        exact = self.versions - {"first", "last", "all"}
        return not exact or _version(stix) in exact


def _version(stix: dict[str, Any]) -> str:
    return str(stix.get("modified") or stix.get("created") or "")


def _aware(moment: datetime | None) -> datetime:
    """Times as stored (SQLite gives them without a zone; they are UTC)."""
    if moment is None:
        return _EPOCH
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _supporting(agency: Agency, bank: Bank) -> list[Listed]:
    added = _aware(bank.created_at)
    objects = [identity(agency.code, agency.name), extension_definition(agency.code)]
    objects += [marking_definition(t) for t in TLP_ORDER if t not in NEVER_SHARED]
    return [Listed(item, added) for item in objects]


def _csv(values: str | None, name: str, pattern: re.Pattern[str] | None = None) -> frozenset[str]:
    if not values:
        return frozenset()
    found = frozenset(v.strip() for v in values.split(",") if v.strip())
    if pattern is not None:
        for value in found:
            if not pattern.match(value):
                raise InvalidInput(
                    "%(name)s does not accept %(value)s", name=name, value=repr(value[:40])
                )
    return found


def _timestamp(text: str | None, name: str) -> datetime | None:
    return parse_timestamp(text, name) if text else None


def _offset(token: str | None) -> int:
    if not token:
        return 0
    if not token.isdigit() or int(token) > MAX_OFFSET:
        raise InvalidInput("next is the token of a previous answer")
    return int(token)


def _entries_listed(entries: Sequence[BankEntry], uow: UnitOfWork, bank: Bank) -> list[Listed]:
    sources = (
        uow.banks.source_values(bank.id) if any(e.signal.type == "url" for e in entries) else {}
    )
    agency = uow.agencies.get(bank.agency_id)
    made = {
        item["id"]: item
        for item in indicators(entries, agency_code=agency.code, source_values=sources)
    }
    found = []
    for entry in entries:
        item = made.get(indicator_id(entry))
        if item is not None:
            found.append(Listed(item, _aware(entry.added_at)))
    return found


def _candidates(
    uow: UnitOfWork, bank: Bank, filters: Filters, offset: int
) -> Iterator[tuple[int, Listed]]:
    """The collection's objects from `offset` on, each with its position in the collection;
    entries are read a window at a time, never all at once."""
    agency = uow.agencies.get(bank.agency_id)
    supporting = _supporting(agency, bank)
    for position in range(offset, len(supporting)):
        yield position, supporting[position]
    if filters.types and "indicator" not in filters.types:
        return
    position = max(offset, len(supporting))
    withheld = frozenset(t.value for t in NEVER_SHARED)
    while True:
        entries = uow.banks.entries_page(
            bank.id,
            added_after=filters.added_after,
            offset=position - len(supporting),
            limit=WINDOW,
            withheld=withheld,
        )
        listed = {item.stix["id"]: item for item in _entries_listed(entries, uow, bank)}
        for index, entry in enumerate(entries):
            item = listed.get(indicator_id(entry))
            if item is not None:
                yield position + index, item
        if len(entries) < WINDOW:
            return
        position += len(entries)


def _page(
    uow: UnitOfWork, bank: Bank, filters: Filters, offset: int, limit: int
) -> tuple[list[Listed], int | None]:
    """One page of admitted objects from `offset`, and where the next starts (None: this is
    the last page)."""
    if filters.ids:
        return _by_ids(uow, bank, filters, offset, limit)
    found: list[tuple[int, Listed]] = []
    for position, item in _candidates(uow, bank, filters, offset):
        if not filters.admits(item):
            continue
        if len(found) == limit:
            return [listed for _, listed in found], found[-1][0] + 1
        found.append((position, item))
    return [listed for _, listed in found], None


def _by_ids(
    uow: UnitOfWork, bank: Bank, filters: Filters, offset: int, limit: int
) -> tuple[list[Listed], int | None]:
    """`match[id]`: the named objects looked up one by one, not the collection scanned."""
    found = []
    for object_id in sorted(filters.ids):
        try:
            item = _one(uow, bank, object_id)
        except NotFound:
            continue
        if filters.admits(item):
            found.append(item)
    found.sort(key=lambda item: item.added)
    page = found[offset : offset + limit]
    return page, (offset + limit if len(found) > offset + limit else None)


def _filters(
    added_after: str | None,
    types: str | None,
    ids: str | None,
    versions: str | None,
    spec_versions: str | None,
) -> Filters:
    return Filters(
        added_after=_timestamp(added_after, "added_after"),
        types=_csv(types, "match[type]", re.compile(r"^[a-z0-9-]{1,250}$")),
        ids=_csv(ids, "match[id]", re.compile(r"^[a-z0-9-]+--[0-9a-f-]{36}$")),
        versions=_csv(versions, "match[version]", _VERSIONS),
        spec_versions=_csv(spec_versions, "match[spec_version]", re.compile(r"^2\.[01]$")),
    )


def _date_headers(page: list[Listed]) -> dict[str, str]:
    if not page:
        return {}
    return {
        "X-TAXII-Date-Added-First": _stamp(min(item.added for item in page)),
        "X-TAXII-Date-Added-Last": _stamp(max(item.added for item in page)),
    }


LimitQuery = Annotated[int, Query(ge=1, le=10**9)]


def _listing(
    request: Request,
    uow: UnitOfWork,
    viewer: User,
    collection_id: str,
    filters: Filters,
    next_page: str | None,
    limit: int,
    record: Callable[[Listed], dict[str, Any]],
) -> Response:
    """One page of a collection as TAXII lists it (objects or manifest), `record` writing
    each item, with the paging fields and date headers."""
    _accepts(request, TAXII)
    bank = _bank(uow, viewer, collection_id)
    page, following = _page(uow, bank, filters, _offset(next_page), min(limit, MAX_PAGE))
    body: dict[str, Any] = {"more": following is not None}
    if page:
        body["objects"] = [record(item) for item in page]
    if following is not None:
        body["next"] = str(following)
    return _taxii(body, _date_headers(page))


def _manifest_record(item: Listed) -> dict[str, Any]:
    return {
        "id": item.stix["id"],
        "date_added": _stamp(item.added),
        "version": _version(item.stix),
        "media_type": STIX,
    }


@router.get("/api/collections/{collection_id}/objects/", summary="TAXII objects")
def objects(
    request: Request,
    viewer: ApiViewer,
    uow: ReadUow,
    collection_id: str,
    added_after: Annotated[str | None, Query(max_length=40)] = None,
    limit: LimitQuery = PAGE,
    next_page: Annotated[str | None, Query(alias="next", max_length=20)] = None,
    match_type: Annotated[str | None, Query(alias="match[type]", max_length=4000)] = None,
    match_id: Annotated[str | None, Query(alias="match[id]", max_length=4000)] = None,
    match_version: Annotated[str | None, Query(alias="match[version]", max_length=4000)] = None,
    match_spec: Annotated[str | None, Query(alias="match[spec_version]", max_length=100)] = None,
) -> Response:
    """An envelope of objects in the order they were added; `next` pages on."""
    filters = _filters(added_after, match_type, match_id, match_version, match_spec)
    return _listing(
        request, uow, viewer, collection_id, filters, next_page, limit, lambda item: item.stix
    )


@router.get("/api/collections/{collection_id}/manifest/", summary="TAXII manifest")
def manifest(
    request: Request,
    viewer: ApiViewer,
    uow: ReadUow,
    collection_id: str,
    added_after: Annotated[str | None, Query(max_length=40)] = None,
    limit: LimitQuery = PAGE,
    next_page: Annotated[str | None, Query(alias="next", max_length=20)] = None,
    match_type: Annotated[str | None, Query(alias="match[type]", max_length=4000)] = None,
    match_id: Annotated[str | None, Query(alias="match[id]", max_length=4000)] = None,
    match_version: Annotated[str | None, Query(alias="match[version]", max_length=4000)] = None,
    match_spec: Annotated[str | None, Query(alias="match[spec_version]", max_length=100)] = None,
) -> Response:
    """What the objects endpoint would return, as manifest records."""
    filters = _filters(added_after, match_type, match_id, match_version, match_spec)
    return _listing(
        request, uow, viewer, collection_id, filters, next_page, limit, _manifest_record
    )


def _entry_named(uow: UnitOfWork, bank: Bank, object_id: str) -> BankEntry:
    for entry_id in entry_ids_of(object_id):
        try:
            return uow.banks.get_entry(bank.id, entry_id)
        except NotFound:
            continue
    raise NotFound("no such object in this collection")


def _one(uow: UnitOfWork, bank: Bank, object_id: str) -> Listed:
    agency = uow.agencies.get(bank.agency_id)
    for item in _supporting(agency, bank):
        if item.stix["id"] == object_id:
            return item
    entry = _entry_named(uow, bank, object_id)
    if entry.tlp in NEVER_SHARED:
        raise NotFound("no such object in this collection")
    listed = _entries_listed([entry], uow, bank)
    if not listed:
        raise NotFound("no such object in this collection")
    return listed[0]


@router.get("/api/collections/{collection_id}/objects/{object_id}/", summary="TAXII object")
def one_object(
    request: Request,
    viewer: ApiViewer,
    uow: ReadUow,
    collection_id: str,
    object_id: Annotated[str, Path(max_length=300)],
    added_after: Annotated[str | None, Query(max_length=40)] = None,
    match_version: Annotated[str | None, Query(alias="match[version]", max_length=4000)] = None,
    match_spec: Annotated[str | None, Query(alias="match[spec_version]", max_length=100)] = None,
) -> Response:
    """Every version of one object (each has one)."""
    _accepts(request, TAXII)
    bank = _bank(uow, viewer, collection_id)
    item = _one(uow, bank, object_id)
    filters = _filters(added_after, None, None, match_version, match_spec)
    page = [item] if filters.admits(item) else []
    body: dict[str, Any] = {"more": False}
    if page:
        body["objects"] = [item.stix]
    return _taxii(body, _date_headers(page))


@router.get(
    "/api/collections/{collection_id}/objects/{object_id}/versions/", summary="TAXII versions"
)
def versions(
    request: Request,
    viewer: ApiViewer,
    uow: ReadUow,
    collection_id: str,
    object_id: Annotated[str, Path(max_length=300)],
    added_after: Annotated[str | None, Query(max_length=40)] = None,
    match_spec: Annotated[str | None, Query(alias="match[spec_version]", max_length=100)] = None,
) -> Response:
    _accepts(request, TAXII)
    bank = _bank(uow, viewer, collection_id)
    item = _one(uow, bank, object_id)
    filters = _filters(added_after, None, None, None, match_spec)
    page = [item] if filters.admits(item) else []
    body: dict[str, Any] = {"more": False}
    if page:
        body["versions"] = [_version(item.stix)]
    return _taxii(body, _date_headers(page))


def _stamp(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
