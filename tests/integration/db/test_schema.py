"""Migrations on both engines: the schema comes up, is at head, and the audit table is
append-only in the database itself."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from passerelle.db.migrate import head_revision, is_at_head, upgrade
from passerelle.db.session import Database
from tests.factories import make_agency


def test_upgrade_reaches_head_and_is_idempotent(database: Database) -> None:
    assert is_at_head(database.engine)
    upgrade(database.engine)
    assert is_at_head(database.engine)
    assert head_revision() == "0042"
    tables = set(inspect(database.engine).get_table_names())
    assert {"agencies", "users", "user_roles", "audit_events", "audit_head", "audit_keys"} <= tables


def test_no_table_has_a_column_about_persons_behind_content(database: Database) -> None:
    # Red line 1: content, never persons. People here are only the agency's own staff.
    forbidden = {"author", "account_handle", "profile", "follower", "ip_address", "phone"}
    for table in inspect(database.engine).get_table_names():
        columns = {c["name"] for c in inspect(database.engine).get_columns(table)}
        assert not columns & forbidden, table


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_events SET actor = 'x'", "DELETE FROM audit_events"]
)
def test_the_audit_table_refuses_update_and_delete(database: Database, statement: str) -> None:
    with database.unit_of_work(write=True) as uow:
        make_agency(uow)
        uow.commit()
    with database.engine.connect() as conn, pytest.raises(DBAPIError, match="append-only"):
        conn.execute(text(statement))
    with database.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_events")).scalar_one() == 1


def test_sqlite_runs_in_wal_mode(sqlite_database: Database) -> None:
    with sqlite_database.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
