"""Parsing of the identity values people type: codes, usernames, roles, passwords."""

from __future__ import annotations

import pytest

from passerelle.core.errors import InvalidInput
from passerelle.core.identity import (
    Permission,
    Role,
    check_password_policy,
    parse_agency_code,
    parse_roles,
    parse_username,
)


def test_valid_values_are_normalised() -> None:
    assert parse_agency_code(" Unite-FR ") == "unite-fr"
    assert parse_username("Analyste.FR") == "analyste.fr"
    assert parse_roles(["Analyst", "admin"]) == frozenset({Role.ANALYST, Role.ADMIN})


@pytest.mark.parametrize("bad", ["", "x", "1abc", "a b", "é-unit", "a" * 33, "unit_fr"])
def test_bad_agency_codes_are_refused(bad: str) -> None:
    with pytest.raises(InvalidInput, match="agency code"):
        parse_agency_code(bad)


@pytest.mark.parametrize("bad", ["", "a", "9lives", "jean dupont", "x" * 65, "nom@domaine"])
def test_bad_usernames_are_refused(bad: str) -> None:
    with pytest.raises(InvalidInput, match="username"):
        parse_username(bad)


def test_unknown_roles_are_named() -> None:
    with pytest.raises(InvalidInput, match="unknown role 'superuser'"):
        parse_roles(["analyst", "superuser"])
    with pytest.raises(InvalidInput, match="at least one role"):
        parse_roles([])


def test_short_passwords_are_refused() -> None:
    with pytest.raises(InvalidInput, match="at least 12"):
        check_password_policy("short")


def test_only_approvers_approve_orders_and_controllers_do_not_review() -> None:
    from datetime import UTC, datetime

    from passerelle.core.identity import Locale, User

    def user(*roles: Role) -> User:
        return User("u", "a", "n", "n", frozenset(roles), Locale.FR, True, datetime.now(UTC))

    assert user(Role.APPROVER).can(Permission.APPROVE_ORDER)
    assert not user(Role.ANALYST).can(Permission.APPROVE_ORDER)
    assert user(Role.CONTROLLER).can(Permission.READ_AUDIT)
    assert not user(Role.CONTROLLER).can(Permission.REVIEW)
