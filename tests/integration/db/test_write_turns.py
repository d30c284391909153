"""SQLite writers of one process take the write lock in the order they asked, a writer that
fails gives its turn back, and writers of another process are still kept out by SQLite
itself (in both directions)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from passerelle.db.engine import WRITE_OPTION, make_engine
from passerelle.db.session import Database
from tests.turns import turns_of, wait_until


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'turns.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE written (who TEXT NOT NULL)"))
    yield engine
    engine.dispose()


def _write(engine: Engine, who: str) -> None:
    with engine.connect().execution_options(**{WRITE_OPTION: True}) as conn, conn.begin():
        conn.execute(text("INSERT INTO written (who) VALUES (:who)"), {"who": who})


def _written(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT who FROM written ORDER BY rowid")).scalars())


def test_writers_of_a_process_write_in_the_order_they_asked(engine: Engine) -> None:
    turns = turns_of(engine)
    holder = engine.connect().execution_options(**{WRITE_OPTION: True})
    transaction = holder.begin()
    holder.execute(text("INSERT INTO written (who) VALUES ('first')"))
    threads = []
    for number in range(10):
        thread = threading.Thread(target=_write, args=(engine, f"writer {number}"))
        thread.start()
        threads.append(thread)
        wait_until(lambda n=number: turns.waiting == n + 1)  # type: ignore[misc]
    transaction.commit()
    holder.close()
    for thread in threads:
        thread.join()
    assert _written(engine) == ["first"] + [f"writer {n}" for n in range(10)]
    assert not turns.held


def test_a_writer_that_fails_gives_its_turn_back(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'turns.db'}", busy_timeout=1.0)
    database = Database(engine)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE written (who TEXT NOT NULL)"))
    with (
        pytest.raises(ValueError, match="the request failed"),
        database.unit_of_work(write=True) as uow,
    ):
        uow.session.execute(text("INSERT INTO written (who) VALUES ('failed')"))
        raise ValueError("the request failed")
    assert not turns_of(engine).held
    _write(engine, "next")  # would wait its second out and fail if the turn were kept
    assert _written(engine) == ["next"]
    engine.dispose()


def test_a_writer_that_waits_too_long_is_refused_and_leaves_no_turn_behind(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'turns.db'}", busy_timeout=0.2)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE written (who TEXT NOT NULL)"))
    holder = engine.connect().execution_options(**{WRITE_OPTION: True})
    transaction = holder.begin()
    holder.execute(text("INSERT INTO written (who) VALUES ('holder')"))
    with pytest.raises(OperationalError, match="database is locked"):
        _write(engine, "impatient")
    assert turns_of(engine).waiting == 0
    transaction.commit()
    holder.close()
    _write(engine, "later")
    assert _written(engine) == ["holder", "later"]
    assert not turns_of(engine).held
    engine.dispose()


OTHER_PROCESS = textwrap.dedent(
    """
    import sqlite3, sys
    conn = sqlite3.connect(sys.argv[1], timeout=60, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO written (who) VALUES ('other process')")
    print("holding", flush=True)
    sys.stdin.readline()
    conn.execute("COMMIT")
    print("committed", flush=True)
    """
)

WAITING_PROCESS = textwrap.dedent(
    """
    import sqlite3, sys
    conn = sqlite3.connect(sys.argv[1], timeout=60, isolation_level=None)
    print("asking", flush=True)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO written (who) VALUES ('other process')")
    conn.execute("COMMIT")
    print("committed", flush=True)
    """
)


def test_a_writer_of_another_process_keeps_this_process_out(engine: Engine) -> None:
    path = engine.url.database
    with subprocess.Popen(
        [sys.executable, "-c", OTHER_PROCESS, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as other:
        assert other.stdout is not None and other.stdin is not None
        assert other.stdout.readline().strip() == "holding"
        ours = threading.Thread(target=_write, args=(engine, "this process"))
        ours.start()
        wait_until(lambda: turns_of(engine).held)  # ours has the turn, and waits for SQLite
        assert _written(engine) == []
        other.stdin.write("go\n")
        other.stdin.flush()
        assert other.stdout.readline().strip() == "committed"
        ours.join()
        assert other.wait(timeout=60) == 0
    assert _written(engine) == ["other process", "this process"]


def test_this_process_keeps_a_writer_of_another_process_out(engine: Engine) -> None:
    path = engine.url.database
    holder = engine.connect().execution_options(**{WRITE_OPTION: True})
    transaction = holder.begin()
    holder.execute(text("INSERT INTO written (who) VALUES ('this process')"))
    with subprocess.Popen(
        [sys.executable, "-c", WAITING_PROCESS, str(path)], stdout=subprocess.PIPE, text=True
    ) as other:
        assert other.stdout is not None
        assert other.stdout.readline().strip() == "asking"
        time.sleep(0.3)  # lets it reach SQLite's lock; the order holds however long it waits
        transaction.commit()
        holder.close()
        assert other.stdout.readline().strip() == "committed"
        assert other.wait(timeout=60) == 0
    assert _written(engine) == ["this process", "other process"]
