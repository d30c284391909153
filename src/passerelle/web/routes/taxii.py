"""A read-only TAXII 2.1 server: the agency's own positive banks as collections of STIX 2.1
indicators (discovery, API root, collections, objects with `added_after` and paging).
Authenticated by the agency's API tokens (Bearer, or Basic with the token as password)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from passerelle.core.bank import Bank, BankKind, BankOrigin
from passerelle.core.errors import InvalidInput, NotFound, PermissionDenied
from passerelle.core.identity import Permission, User
from passerelle.core.ports import UnitOfWork
from passerelle.exchange.stix import NAMESPACE, identity, indicators
from passerelle.web.context import ApiViewer, ReadUow
from passerelle.web.params import MAX_SQL_INTEGER

# Described by the TAXII 2.1 specification, not in our OpenAPI document.
router = APIRouter(prefix="/taxii2", include_in_schema=False)
TAXII = "application/taxii+json;version=2.1"
STIX = "application/stix+json;version=2.1"
PAGE, MAX_PAGE = 100, 1000


def _taxii(document: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(document), media_type=TAXII, headers=headers)


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
        "description": bank.description,
        "can_read": True,
        "can_write": False,
        "media_types": [STIX],
    }


@router.get("/", summary="TAXII discovery")
def discovery(viewer: ApiViewer) -> Response:
    return _taxii(
        {
            "title": "Passerelle",
            "description": "Known terrorist content of this referral unit, as STIX indicators",
            "default": "/taxii2/api/",
            "api_roots": ["/taxii2/api/"],
        }
    )


@router.get("/api/", summary="TAXII API root")
def api_root(viewer: ApiViewer) -> Response:
    return _taxii(
        {"title": "Passerelle", "versions": [TAXII], "max_content_length": 10 * 1024 * 1024}
    )


@router.get("/api/collections/", summary="TAXII collections")
def collections(viewer: ApiViewer, uow: ReadUow) -> Response:
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
def collection(viewer: ApiViewer, uow: ReadUow, collection_id: str) -> Response:
    return _taxii(_describe(collection_id, _bank(uow, viewer, collection_id)))


@router.get("/api/collections/{collection_id}/objects/", summary="TAXII objects")
def objects(
    request: Request,
    viewer: ApiViewer,
    uow: ReadUow,
    collection_id: str,
    added_after: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = PAGE,
    next_page: Annotated[str | None, Query(alias="next", max_length=20)] = None,
) -> Response:
    """Indicators in the order they were added; `next` pages on, `added_after` filters."""
    bank = _bank(uow, viewer, collection_id)
    after = None
    if added_after:
        try:
            after = datetime.fromisoformat(added_after.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput("added_after is a timestamp such as 2026-11-29T00:00:00Z") from None
    offset = _offset(next_page)
    agency = uow.agencies.get(viewer.agency_id)
    if after is not None and after.tzinfo is None:
        after = after.replace(tzinfo=UTC)
    # One more than the page tells whether there is more.
    fetched = uow.banks.entries_page(bank.id, added_after=after, offset=offset, limit=limit + 1)
    page, more = fetched[:limit], len(fetched) > limit
    sources = uow.banks.source_values(bank.id)
    found = indicators(page, agency_code=agency.code, tlp="amber", source_values=sources)
    if offset == 0 and found:
        found.insert(0, identity(agency.code, agency.name))
    body: dict[str, Any] = {"more": more, "objects": found}
    if more:
        body["next"] = str(offset + limit)
    headers = {}
    if page:
        headers["X-TAXII-Date-Added-First"] = _stamp(page[0].added_at)
        headers["X-TAXII-Date-Added-Last"] = _stamp(page[-1].added_at)
    return _taxii(body, headers)


def _offset(token: str | None) -> int:
    """The position a `next` token of ours stands for; anything else is bad input."""
    if not token:
        return 0
    if not token.isascii() or not token.isdigit() or int(token) > MAX_SQL_INTEGER:
        raise InvalidInput("next is the token of a previous answer")
    return int(token)


def _stamp(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if moment else ""
