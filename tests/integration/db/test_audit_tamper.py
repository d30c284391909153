"""Someone with write access to the database changes, deletes or inserts audit rows behind
Passerelle's back (after dropping the append-only triggers); `passerelle audit verify` names the
first broken event each time. Recomputing the chain needs the key, which the database does not
give; someone holding it is still caught by a head kept outside (`audit verify --head`)."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Callable

import pytest
from sqlalchemy import Connection, text

from passerelle.core.audit import (
    GENESIS_HASH,
    MAC_PLAIN,
    AuditEvent,
    compute_event_mac,
    hash_of,
)
from passerelle.db.session import Database
from tests.factories import make_agency, make_user


def drop_append_only_guard(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        conn.execute(text("DROP TRIGGER audit_events_no_update"))
        conn.execute(text("DROP TRIGGER audit_events_no_delete"))
    else:
        conn.execute(text("DROP TRIGGER audit_events_no_change ON audit_events"))


def run_cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(
        os.environ,
        PASSERELLE_ENV="dev",  # the key the fixture's database seals the audit keys with
        PASSERELLE_DATABASE_URL=url,
    )
    return subprocess.run(
        [sys.executable, "-m", "passerelle.cli.main", "audit", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,  # a hang guard only: the shared test machine can be slow to start Python
        check=False,
    )


def run_verify(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(url, "verify", *args)


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
        (alter_row, "audit log broken at event #3: event #3 was altered (its MAC does not match)"),
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


def _seed(database: Database) -> str:
    with database.unit_of_work(write=True) as uow:
        make_agency(uow)
        for i in range(5):
            make_user(uow, username=f"personne{i}")
        uow.commit()
    return database.engine.url.render_as_string(hide_password=False)


def _events(database: Database) -> list[AuditEvent]:
    with database.unit_of_work() as uow:
        return list(uow.audit.iter_all())


def _rewrite_from(conn: Connection, events: list[AuditEvent], seq: int, seal) -> None:  # type: ignore[no-untyped-def]
    """Change event `seq` and recompute its link and every later one, then the head."""
    prev = events[seq - 2].hash if seq > 1 else GENESIS_HASH
    for event in events[seq - 1 :]:
        changed = dataclasses.replace(event, prev_hash=prev)
        if event.seq == seq:
            changed = dataclasses.replace(changed, actor="quelqu-un")
        changed = seal(changed)
        conn.execute(
            text(
                "UPDATE audit_events SET actor = :actor, prev_hash = :prev, hash = :hash,"
                " mac_version = :version WHERE seq = :seq"
            ),
            {
                "actor": changed.actor,
                "prev": changed.prev_hash,
                "hash": changed.hash,
                "version": changed.mac_version,
                "seq": changed.seq,
            },
        )
        prev = changed.hash
    conn.execute(text("UPDATE audit_head SET hash = :hash"), {"hash": prev})


def test_a_chain_recomputed_without_the_key_is_refused(database: Database) -> None:
    url = _seed(database)
    events = _events(database)
    with database.engine.begin() as conn:
        drop_append_only_guard(conn)
        _rewrite_from(
            conn,
            events,
            3,
            lambda e: dataclasses.replace(e, mac_version=MAC_PLAIN, hash=hash_of(e)),
        )
    broken = run_verify(url)
    assert broken.returncode == 1
    assert broken.stderr == (
        "passerelle: error: audit log broken at event #3: event #3 is not keyed although"
        " keyed chaining started before it\n"
    )
    # Deleting the key rows as well does not help: nothing seals an unkeyed prefix.
    with database.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_keys"))
    again = run_verify(url)
    assert again.returncode == 1
    assert again.stderr == (
        "passerelle: error: audit log broken at event #1: event #1 is not keyed and no sealed"
        " unkeyed prefix covers it (rewritten without the key?)\n"
    )


def test_the_head_of_a_broken_log_is_never_printed(database: Database) -> None:
    """An operator files the head `audit head` prints: it verifies the chain first and
    refuses, with the reason and `audit verify`'s exit code, to print a forged head."""
    url = _seed(database)
    printed = run_cli(url, "head")
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.startswith("6:")
    with database.engine.begin() as conn:
        drop_append_only_guard(conn)
        alter_row(conn)
    for args in (("head",), ("head", "--json")):
        refused = run_cli(url, *args)
        assert (refused.returncode, refused.stdout, refused.stderr) == (
            1,
            "",
            "passerelle: error: audit log broken at event #3: event #3 was altered (its MAC"
            " does not match)\n",
        )


def test_a_chain_rewritten_with_the_key_is_caught_only_by_a_head_kept_outside(
    database: Database,
) -> None:
    url = _seed(database)
    printed = run_cli(url, "head")
    assert printed.returncode == 0, printed.stderr
    kept = printed.stdout.strip()
    events = _events(database)
    assert kept == f"6:{events[-1].hash}"
    with database.unit_of_work() as uow:
        key = uow.audit.keyring().epochs[0].key  # an insider who also holds the secret
    with database.engine.begin() as conn:
        drop_append_only_guard(conn)
        _rewrite_from(
            conn, events, 3, lambda e: dataclasses.replace(e, hash=compute_event_mac(e, key))
        )

    alone = run_verify(url)
    assert alone.returncode == 0, alone.stderr
    against = run_verify(url, "--head", kept)
    assert against.returncode == 1
    assert against.stderr == (
        "passerelle: error: audit log broken at event #6: event #6 differs from the head kept"
        " outside (rewritten)\n"
    )


def test_a_truncated_log_is_caught_by_a_head_kept_outside(database: Database) -> None:
    url = _seed(database)
    kept = run_cli(url, "head").stdout.strip()
    assert run_verify(url, "--head", kept).stdout.startswith(
        f"audit log intact: 6 events, head {kept}, holds the head kept outside (#6)"
    )
    events = _events(database)
    with database.engine.begin() as conn:
        drop_append_only_guard(conn)
        conn.execute(text("DELETE FROM audit_events WHERE seq > 4"))
        conn.execute(text("UPDATE audit_head SET seq = 4, hash = :h"), {"h": events[3].hash})

    assert run_verify(url).returncode == 0  # the database alone cannot tell
    truncated = run_verify(url, "--head", kept)
    assert truncated.returncode == 1
    assert truncated.stderr == (
        "passerelle: error: audit log broken at event #5: the log ends at #4, before the head"
        " kept outside (#6): truncated\n"
    )
    bad = run_verify(url, "--head", "six")
    assert bad.returncode == 2
    assert "an audit head is <event number>:<64 hexadecimal characters>" in bad.stderr
