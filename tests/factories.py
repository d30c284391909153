"""Keyword-only builders with valid defaults, through the services (so audit events exist)."""

from __future__ import annotations

from passerelle.core.identity import Agency, User
from passerelle.core.ports import UnitOfWork
from passerelle.services.admin import create_agency, create_user

DEFAULT_PASSWORD = "correct horse battery"


def make_agency(
    uow: UnitOfWork, *, code: str = "unite-test", name: str | None = None, jurisdiction: str = "FR"
) -> Agency:
    return create_agency(uow, code=code, name=name or f"Unité {code}", jurisdiction=jurisdiction)


def make_user(
    uow: UnitOfWork,
    *,
    agency_code: str = "unite-test",
    username: str = "analyste",
    roles: tuple[str, ...] = ("analyst",),
    password: str = DEFAULT_PASSWORD,
    locale: str = "fr",
) -> User:
    return create_user(
        uow,
        agency_code=agency_code,
        username=username,
        password=password,
        roles=roles,
        locale=locale,
    )
