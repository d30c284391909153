"""Someone with write access to the database changes, deletes or inserts audit rows behind
Passerelle's back (after dropping the append-only triggers); `passerelle audit verify` names the
first broken event each time."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

import pytest
from sqlalchemy import Connection, text

from passerelle.db.session import Database
from tests.factories import make_agency, make_user


def drop_append_only_guard(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        conn.execute(text("DROP TRIGGER audit_events_no_update"))
        conn.execute(text("DROP TRIGGER audit_events_no_delete"))
    else:
        conn.execute(text("DROP TRIGGER audit_events_no_change ON audit_events"))


def run_verify(url: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PASSERELLE_ENV="dev", PASSERELLE_DATABASE_URL=url)
    return subprocess.run(
        [sys.executable, "-m", "passerelle.cli.main", "audit", "verify"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def alter_row(conn: Connection) -> None:
    conn.execute(text("UPDATE audit_events SET actor = 'quelqu-un' WHERE seq = 3"))


def delete_row(conn: Connection) -> None:
    conn.execute(text("DELETE FROM audit_events WHERE seq = 3"))


def delete_last_row(conn: Connection) -> None:
    conn.execute(text("DELETE FROM audit_events WHERE seq = 6"))


def insert_row(conn: Connection) -> None:
    # A forged event slipped in after #6, without going through Passerelle.
    conn.execute(
        text(
            "INSERT INTO audit_events (seq, occurred_at, action, actor, agency_id, object_type,"
            " object_id, details_json, prev_hash, hash) SELECT 7, occurred_at, 'case.closed',"
            " 'intrus', agency_id, 'case', 'x', '{}', hash, :fake FROM audit_events WHERE seq = 6"
        ),
        {"fake": "ab" * 32},
    )


def insert_row_in_the_middle(conn: Connection) -> None:
    # Shift events 4..6 up and put a forged #4 in the gap.
    for seq in (6, 5, 4):
        conn.execute(text("UPDATE audit_events SET seq = seq + 1 WHERE seq = :s"), {"s": seq})
    conn.execute(
        text(
            "INSERT INTO audit_events (seq, occurred_at, action, actor, agency_id, object_type,"
            " object_id, details_json, prev_hash, hash) VALUES (4, '2026-01-01T00:00:00.000000Z',"
            " 'case.closed', 'intrus', NULL, 'case', 'x', '{}', :prev, :fake)"
        ),
        {"prev": "cd" * 32, "fake": "ef" * 32},
    )
    conn.execute(text("UPDATE audit_head SET seq = 7"))


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (alter_row, "audit log broken at event #3: event #3 was altered (its hash does not match)"),
        (delete_row, "audit log broken at event #3: event #3 is missing (deleted)"),
        (
            delete_last_row,
            "audit log broken at event #6: event #6 is missing (the log ends at #5 but its head"
            " says #6)",
        ),
        (
            insert_row,
            "audit log broken at event #7: event #7 was added outside Passerelle (the head says"
            " the log ends at #6)",
        ),
        (
            insert_row_in_the_middle,
            "audit log broken at event #4: event #4 does not follow event #3 (a row was inserted,"
            " deleted or rewritten before it)",
        ),
    ],
)
def test_verify_names_the_first_broken_event(
    database: Database, tamper: Callable[[Connection], None], expected: str
) -> None:
    with database.unit_of_work(write=True) as uow:
        make_agency(uow)
        for i in range(5):
            make_user(uow, username=f"personne{i}")
        uow.commit()
    url = database.engine.url.render_as_string(hide_password=False)

    intact = run_verify(url)
    assert intact.returncode == 0, intact.stderr
    assert intact.stdout.startswith("audit log intact: 6 events, head ")

    with database.engine.begin() as conn:
        drop_append_only_guard(conn)
        tamper(conn)

    broken = run_verify(url)
    assert broken.returncode == 1
    assert broken.stdout == ""
    assert broken.stderr == f"passerelle: error: {expected}\n"
