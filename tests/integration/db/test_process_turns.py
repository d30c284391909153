"""Processes writing to one SQLite file take turns: a process that waits is let in before
one that has just written asks again, a process that dies holding or awaiting the turn
holds nobody up, a wait past the limit is the usual "database is locked", readers take no
turn, and the lock files lie beside the database with its permissions. In-memory SQLite and
PostgreSQL take no turn."""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from passerelle.db.engine import WRITE_OPTION, make_engine
from passerelle.db.write_turns import NEXT_SUFFIX, PASS_ON_LIMIT, TURN_SUFFIX, ProcessTurn
from tests.turns import turns_of, wait_until

# A writer process driven line by line on its standard input, answering on its output.
WRITER = textwrap.dedent(
    """
    import os, signal, sys, time
    from sqlalchemy import text
    from passerelle.db.engine import WRITE_OPTION, make_engine

    engine = make_engine(f"sqlite:///{sys.argv[1]}", busy_timeout=float(sys.argv[2]))
    held = None

    def say(*words):
        print(*words, flush=True)

    def insert(conn, who):
        conn.execute(text("INSERT INTO written (who) VALUES (:who)"), {"who": who})

    def write(who, hold=0.0):
        with engine.connect().execution_options(**{WRITE_OPTION: True}) as conn:
            with conn.begin():
                insert(conn, who)
                time.sleep(hold)  # the work of a transaction, keeping the turn

    say("ready")
    for line in sys.stdin:
        command, _, who = line.strip().partition(" ")
        if command == "begin":  # take the turn and keep it, the transaction open
            say("asking")
            conn = engine.connect().execution_options(**{WRITE_OPTION: True})
            held = (conn, conn.begin())
            insert(conn, who)
            say("holding")
        elif command == "commit-and-write":  # give the turn back and ask again at once
            conn, transaction = held
            transaction.commit()
            conn.close()
            write(who)
            say("written")
        elif command == "write":
            write(who)
            say("written")
        elif command == "loop":  # one transaction after the other, each holding the turn
            for number in range(30):
                write(who, hold=0.02)
            say("looped")
        elif command == "fork":  # a child that lives on without writing
            child = os.fork()
            if child == 0:
                signal.pause()  # until it is killed
                os._exit(0)
            say("forked", child)
    """
)


class Writer:
    """A writer process on the database at `path`."""

    def __init__(self, path: Path, busy_timeout: float = 60.0) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(busy_timeout)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.expect("ready")

    def send(self, command: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def expect(self, word: str) -> str:
        assert self.process.stdout is not None
        said = self.process.stdout.readline().strip()
        assert said.split(" ")[0] == word, f"expected {word!r}, the writer said {said!r}"
        return said

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=60)

    def close(self) -> None:
        if self.process.poll() is None:
            self.kill()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    database = tmp_path / "var" / "turns.db"
    engine = make_engine(f"sqlite:///{database}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE written (who TEXT NOT NULL)"))
    engine.dispose()
    return database


@pytest.fixture
def writers(path: Path) -> Iterator[Callable[..., Writer]]:
    started: list[Writer] = []

    def start(busy_timeout: float = 60.0) -> Writer:
        writer = Writer(path, busy_timeout)
        started.append(writer)
        return writer

    yield start
    for writer in started:
        writer.close()


def _is_locked(lock_file: Path) -> bool:
    """Whether some process holds `lock_file` (never blocks; lets go at once if free)."""
    if not lock_file.exists():
        return False
    descriptor = os.open(lock_file, os.O_RDWR)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(descriptor)  # closing lets go of a lock taken here
    return False


def _someone_waits(path: Path) -> bool:
    """A process waits for the turn: it holds `-writer-next` (see ProcessTurn)."""
    return _is_locked(Path(f"{path}{NEXT_SUFFIX}"))


def _written(path: Path) -> list[str]:
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            return list(conn.execute(text("SELECT who FROM written ORDER BY rowid")).scalars())
    finally:
        engine.dispose()


def _write(engine: Engine, who: str) -> None:
    with engine.connect().execution_options(**{WRITE_OPTION: True}) as conn, conn.begin():
        conn.execute(text("INSERT INTO written (who) VALUES (:who)"), {"who": who})


# --- between processes ------------------------------------------------------------------------


def test_a_process_asking_again_comes_after_the_one_that_waits(
    path: Path, writers: Callable[..., Writer]
) -> None:
    first, second = writers(), writers()
    first.send("begin first 1")
    first.expect("asking")
    first.expect("holding")
    second.send("begin second")
    second.expect("asking")
    wait_until(lambda: _someone_waits(path))
    first.send("commit-and-write first 2")
    second.expect("holding")
    # The first asks again at once, but on a busy machine "at once" can come after the second
    # has written and asked again itself: wait until the first does wait.
    wait_until(lambda: _someone_waits(path))
    second.send("commit-and-write second 2")
    first.expect("written")
    second.expect("written")
    assert _written(path)[:3] == ["first 1", "second", "first 2"]


def test_two_processes_writing_in_a_loop_take_turns(
    path: Path, writers: Callable[..., Writer]
) -> None:
    """Each writes 30 transactions as fast as it can. SQLite alone let one of them write
    all of its transactions while the other slept in its busy handler; with the turns, they
    alternate (a process that lost its processor between two transactions may see the other
    write a few in a row: at most 3 is allowed)."""
    one, other = writers(), writers()
    for writer in (one, other):  # connected, lock files open: both start on an equal foot
        writer.send("write warming up")
        writer.expect("written")
    one.send("loop one")
    other.send("loop other")
    one.expect("looped")
    other.expect("looped")
    written = [who for who in _written(path) if who != "warming up"]
    assert sorted(written) == ["one"] * 30 + ["other"] * 30
    runs: list[int] = []  # how many transactions one process wrote in a row
    for previous, who in zip([None, *written], written, strict=False):
        if who == previous:
            runs[-1] += 1
        else:
            runs.append(1)
    # The last run is written once the other process is done: nobody waits then.
    assert max(runs[:-1]) <= 3, runs


def test_a_process_passes_the_turn_to_its_own_writers_a_few_times_then_lets_go(
    path: Path, writers: Callable[..., Writer]
) -> None:
    """Handing the turn to another process costs its wake-up: a process whose next writer
    already waits passes the turn on to it, up to PASS_ON_LIMIT times in a row; then a
    process that waits gets in."""
    engine = make_engine(f"sqlite:///{path}")
    turns = turns_of(engine)
    holder = engine.connect().execution_options(**{WRITE_OPTION: True})
    transaction = holder.begin()
    holder.execute(text("INSERT INTO written (who) VALUES ('here 0')"))
    local = []
    for number in range(1, PASS_ON_LIMIT + 3):
        thread = threading.Thread(target=_write, args=(engine, f"here {number}"))
        thread.start()
        local.append(thread)
        wait_until(lambda n=number: turns.waiting == n)  # type: ignore[misc]
    other = writers()
    other.send("write there")
    wait_until(lambda: _someone_waits(path))
    transaction.commit()
    holder.close()
    other.expect("written")
    for thread in local:
        thread.join()
    engine.dispose()
    in_a_row = [f"here {n}" for n in range(PASS_ON_LIMIT + 1)]
    assert _written(path) == [
        *in_a_row,
        "there",
        *(f"here {n}" for n in range(PASS_ON_LIMIT + 1, PASS_ON_LIMIT + 3)),
    ]


def test_a_process_killed_while_holding_the_turn_holds_nobody_up(
    path: Path, writers: Callable[..., Writer]
) -> None:
    holder, waiter = writers(), writers()
    holder.send("begin killed")
    holder.expect("asking")
    holder.expect("holding")
    waiter.send("write waiter")
    wait_until(lambda: _someone_waits(path))
    holder.kill()  # SIGKILL: no rollback, no unlock; the kernel lets go of its locks
    waiter.expect("written")
    assert _written(path) == ["waiter"]


def test_a_process_killed_while_waiting_for_the_turn_holds_nobody_up(
    path: Path, writers: Callable[..., Writer]
) -> None:
    holder, killed, last = writers(), writers(), writers()
    holder.send("begin holder")
    holder.expect("asking")
    holder.expect("holding")
    killed.send("write killed")
    wait_until(lambda: _someone_waits(path))  # `killed` is next, `last` waits behind it
    last.send("write last")
    killed.kill()
    holder.send("commit-and-write holder 2")
    holder.expect("written")
    last.expect("written")
    assert "killed" not in _written(path)
    assert sorted(_written(path)) == ["holder", "holder 2", "last"]


def test_a_child_forked_by_the_holder_does_not_keep_the_turn_after_it_dies(
    path: Path, writers: Callable[..., Writer]
) -> None:
    holder = writers()
    holder.send("begin holder")
    holder.expect("asking")
    holder.expect("holding")
    holder.send("fork")
    child = int(holder.expect("forked").split(" ")[1])
    try:
        holder.kill()
        engine = make_engine(f"sqlite:///{path}", busy_timeout=30)
        _write(engine, "after")  # waits its 30 s and fails if the child kept the lock
        engine.dispose()
    finally:
        os.kill(child, signal.SIGKILL)
    assert _written(path) == ["after"]


def test_a_wait_past_the_limit_is_the_busy_error_and_leaves_the_turn_free(
    path: Path, writers: Callable[..., Writer]
) -> None:
    holder = writers()
    holder.send("begin holder")
    holder.expect("asking")
    holder.expect("holding")
    engine = make_engine(f"sqlite:///{path}", busy_timeout=0.3)
    with pytest.raises(OperationalError, match="database is locked"):
        _write(engine, "impatient")
    # Our keeper still waits in the kernel for the turn it no longer wants: when it comes,
    # it lets it go, and the holder writes again.
    holder.send("commit-and-write holder 2")
    holder.expect("written")
    _write(engine, "later")
    engine.dispose()
    assert _written(path) == ["holder", "holder 2", "later"]


def test_readers_take_no_turn(path: Path, writers: Callable[..., Writer]) -> None:
    holder = writers()
    holder.send("begin holder")
    holder.expect("asking")
    holder.expect("holding")
    engine = make_engine(f"sqlite:///{path}", busy_timeout=0.3)
    with engine.connect() as conn, conn.begin():  # would wait past 0.3 s for a turn
        assert conn.execute(text("SELECT count(*) FROM written")).scalar_one() == 0
    engine.dispose()


# --- within one process: two engines are two contenders ---------------------------------------


def test_a_turn_given_back_goes_to_the_one_waiting_and_an_abandoned_wait_frees_it(
    tmp_path: Path,
) -> None:
    database = tmp_path / "turns.db"
    database.touch()
    one, other = ProcessTurn(database), ProcessTurn(database)
    assert one.acquire(1)
    assert not other.acquire(0.05)  # gave up; its keeper waits on
    assert not other.held
    served: list[str] = []

    def ask(turn: ProcessTurn, who: str) -> None:
        assert turn.acquire(60)
        served.append(who)
        turn.release()

    waiting = threading.Thread(target=ask, args=(other, "other"))
    waiting.start()
    wait_until(lambda: _someone_waits(database))
    one.release()
    ask(one, "one")  # asks again at once: after the one that waits
    waiting.join()
    assert served == ["other", "one"]
    assert not one.held and not other.held


# --- where the lock files are, and who may open them --------------------------------------------


def test_the_lock_files_lie_beside_the_database_with_its_owner_and_group_permissions(
    tmp_path: Path,
) -> None:
    database = tmp_path / "var" / "passerelle.db"
    engine = make_engine(f"sqlite:///{database}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE written (who TEXT NOT NULL)"))
    database.chmod(0o664)
    _write(engine, "first")
    engine.dispose()
    for suffix in (TURN_SUFFIX, NEXT_SUFFIX):
        lock_file = tmp_path / "var" / f"passerelle.db{suffix}"
        assert lock_file.is_file() and not lock_file.is_symlink()
        assert lock_file.stat().st_mode & 0o777 == 0o660  # never for others
    assert sorted(p.name for p in (tmp_path / "var").iterdir() if "writer" in p.name) == [
        "passerelle.db-writer",
        "passerelle.db-writer-next",
    ]


def test_a_private_database_has_private_lock_files(tmp_path: Path) -> None:
    database = tmp_path / "private.db"
    engine = make_engine(f"sqlite:///{database}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE written (who TEXT NOT NULL)"))
    database.chmod(0o600)
    _write(engine, "first")
    engine.dispose()
    assert Path(f"{database}{TURN_SUFFIX}").stat().st_mode & 0o777 == 0o600
    assert Path(f"{database}{NEXT_SUFFIX}").stat().st_mode & 0o777 == 0o600


def test_the_lock_files_of_a_linked_database_lie_beside_the_file_it_links_to(
    tmp_path: Path,
) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "link.db").symlink_to(tmp_path / "data" / "real.db")
    engine = make_engine(f"sqlite:///{tmp_path / 'link.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE written (who TEXT NOT NULL)"))
    _write(engine, "first")
    engine.dispose()
    assert (tmp_path / "data" / f"real.db{TURN_SUFFIX}").is_file()
    assert not (tmp_path / f"link.db{TURN_SUFFIX}").exists()


def test_a_lock_file_that_is_a_symbolic_link_is_not_followed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = tmp_path / "turns.db"
    elsewhere = tmp_path / "elsewhere"
    Path(f"{database}{TURN_SUFFIX}").symlink_to(elsewhere)
    engine = make_engine(f"sqlite:///{database}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE written (who TEXT NOT NULL)"))
    with caplog.at_level(logging.WARNING, logger="passerelle.db.write_turns"):
        _write(engine, "written all the same")  # SQLite's own lock keeps writers apart
    engine.dispose()
    assert not elsewhere.exists()
    assert "go on without their turn among processes" in caplog.text
    assert _written(database) == ["written all the same"]


# --- engines that take no turn ------------------------------------------------------------------


def test_an_in_memory_database_takes_no_process_turn(tmp_path: Path) -> None:
    engine = make_engine("sqlite://")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE written (who TEXT NOT NULL)"))
    _write(engine, "in memory")
    connection = engine.raw_connection()
    try:
        assert connection.dbapi_connection.process_turn is None  # type: ignore[union-attr]
    finally:
        connection.close()
    engine.dispose()


@pytest.mark.postgres
def test_postgresql_takes_no_turn(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    connection = engine.raw_connection()
    try:
        assert not hasattr(connection.dbapi_connection, "process_turn")
        assert not hasattr(connection.dbapi_connection, "take_write_turn")
    finally:
        connection.close()
    with engine.connect().execution_options(**{WRITE_OPTION: True}) as conn, conn.begin():
        assert conn.execute(text("SELECT 1")).scalar_one() == 1
    engine.dispose()
