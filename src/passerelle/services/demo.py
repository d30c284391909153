"""Fictional demo agencies and people, for `passerelle demo` and `make run` only."""

from __future__ import annotations

from dataclasses import dataclass

from passerelle.core.errors import NotFound
from passerelle.core.ports import UnitOfWork
from passerelle.services.admin import create_agency, create_user

DEMO_PASSWORD = "demo-passerelle"  # noqa: S105 - printed on purpose; demo runs only in dev


@dataclass(frozen=True, slots=True)
class DemoLogin:
    agency: str
    username: str
    roles: tuple[str, ...]
    password: str = DEMO_PASSWORD


DEMO_AGENCIES = (
    ("demo-fr", "Unité démo France", "FR", "fr"),
    ("demo-qc", "Unité démo Québec", "CA-QC", "qc"),
)
DEMO_PEOPLE = (
    ("analyste", "Analyste", ("analyst",)),
    ("approbateur", "Approbateur", ("approver",)),
    ("controleur", "Contrôleur", ("controller",)),
    ("liaison", "Agent de liaison", ("liaison",)),
    ("admin", "Administrateur", ("admin",)),
)


def seed_demo(uow: UnitOfWork) -> list[DemoLogin]:
    """Create the demo agencies and people if missing; return every demo login."""
    logins: list[DemoLogin] = []
    for code, name, jurisdiction, suffix in DEMO_AGENCIES:
        try:
            uow.agencies.get_by_code(code)
        except NotFound:
            create_agency(uow, code=code, name=name, jurisdiction=jurisdiction, actor="demo")
        for person, title, roles in DEMO_PEOPLE:
            username = f"{person}.{suffix}"
            if uow.users.find_credentials(username) is None:
                create_user(
                    uow,
                    agency_code=code,
                    username=username,
                    password=DEMO_PASSWORD,
                    roles=roles,
                    display_name=f"{title} ({suffix.upper()})",
                    locale="fr",
                    actor="demo",
                )
            logins.append(DemoLogin(agency=name, username=username, roles=roles))
    return logins
