"""Writers take SQLite's write lock in the order they asked for it, within a process and
across the processes writing to one database file.

SQLite lets one writer at a time in, and the others wait in its busy handler: each sleeps,
wakes and tries again, so that under load a writer can lose its turn again and again while
later ones get in (p95 of 2 s for a hold of 34 ms, measured with 20 writers; with two server
processes, one of them wrote while the other's writers slept). The writers of a process
therefore first queue here, in order (`FairLock`), and only the head of that queue asks for
its process's turn among the processes (`ProcessTurn`: kernel file locks beside the database,
which wake a waiting process at once and are dropped by the kernel when a process dies); only
the holder of both asks SQLite. Correctness never rests on these turns: SQLite's own lock and
busy timeout still decide, also against a process that does not take them (the `sqlite3`
shell)."""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
import time
import weakref
from collections import deque
from pathlib import Path

LOG = logging.getLogger(__name__)


class FairLock:
    """A lock handed to its waiters in the order they came (`threading.Lock` wakes any of
    them). Not reentrant: a thread asking twice waits for itself until its timeout."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._queue: deque[threading.Lock] = deque()
        self._held = False

    def acquire(self, timeout: float) -> bool:
        """Wait at most `timeout` seconds for the lock; False if it did not come."""
        with self._mutex:
            if not self._held:
                self._held = True
                return True
            turn = threading.Lock()
            turn.acquire()
            self._queue.append(turn)
        if turn.acquire(timeout=max(timeout, 0.0)):
            return True  # handed over by release(): the lock stayed held, now ours
        with self._mutex:
            if turn in self._queue:
                self._queue.remove(turn)
                return False
        return True  # handed over between the timeout and the removal: ours all the same

    def release(self) -> bool:
        """Let go of the lock; True when it went straight to a waiter."""
        with self._mutex:
            if not self._held:
                raise RuntimeError("release of a FairLock that is not held")
            if self._queue:
                self._queue.popleft().release()  # straight to the next, never up for grabs
                return True
            self._held = False
            return False

    @property
    def waiting(self) -> int:
        """How many wait for the lock now."""
        with self._mutex:
            return len(self._queue)

    @property
    def held(self) -> bool:
        with self._mutex:
            return self._held


# The lock files beside the database `x.db`: `x.db-writer` is held by the process whose writer
# is in (from BEGIN IMMEDIATE to COMMIT or ROLLBACK), `x.db-writer-next` by the process that
# waits next, for as long as it waits.
TURN_SUFFIX = "-writer"
NEXT_SUFFIX = "-writer-next"

_IDLE, _ASKING, _HELD, _PASSED = "idle", "asking", "held", "passed"
# How many times in a row a process may pass the turn to its own next writer, already
# waiting, instead of letting it go: each hand-over to another process costs that process's
# wake-up and its threads' turns at the interpreter lock, time in which nobody writes. A
# process waiting for the turn waits for at most PASS_ON_LIMIT + 1 transactions of another.
PASS_ON_LIMIT = 2
KEEPER_IDLE = 30.0  # seconds a keeper thread waits for the next writer before it ends


class _Request:
    """One writer's wait for the process turn; `granted` is set under the turn's mutex."""

    __slots__ = ("event", "granted")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.granted = False


class ProcessTurn:
    """This process's write turn among the processes writing to one SQLite file.

    The turn is an exclusive `flock` of the `-writer` file; the process asking for it first
    locks `-writer-next`, then waits for `-writer`, and lets `-writer-next` go once it is in.
    So at most one process waits on the turn itself, and a process that has just given the
    turn back and asks again waits behind the one that was waiting (with two processes, they
    alternate; a process may first pass the turn to its own writers already waiting, up to
    `PASS_ON_LIMIT` times). Waiting processes sleep in the kernel, which wakes them when the
    lock is let go, and drops the locks of a process that dies, however it dies.

    A wait has a time limit, which `flock` has not: when the turn is not free at once, a
    thread of this object (the keeper) waits for it and hands it to the writer, who waits at
    most its time limit; a turn that comes after the writer gave up is let go at once, or
    handed to the writer asking next. One writer at a time asks (the head of the process's
    `FairLock`). If the lock files cannot be opened or locked, writers go on without the turn
    (logged once): SQLite's lock still keeps them apart."""

    def __init__(self, database: Path) -> None:
        """`database`: the path of the SQLite file (the lock files go beside the file that a
        symbolic link points to, as SQLite's own `-wal` and `-shm` do)."""
        real = Path(os.path.realpath(database))
        self.database = real
        self.turn_path = real.with_name(real.name + TURN_SUFFIX)
        self.next_path = real.with_name(real.name + NEXT_SUFFIX)
        self._descriptors: list[int] = []  # `-writer`, `-writer-next` once open
        weakref.finalize(self, _close_all, self._descriptors)
        self._reset()
        _TURNS.add(self)

    def _reset(self) -> None:
        self._mutex = threading.Lock()
        self._changed = threading.Condition(self._mutex)
        self._state = _IDLE
        self._pending: _Request | None = None
        self._waiting_next = False  # the keeper must lock `-writer-next` first
        self._passed = 0  # transactions written in a row since the turn was last let go
        self._disabled = False
        self._keeper: threading.Thread | None = None

    def acquire(self, timeout: float) -> bool:
        """Wait at most `timeout` seconds for the turn; False if it did not come."""
        with self._mutex:
            if self._state == _PASSED:
                self._state = _HELD  # passed on by the writer before, still locked
                return True
            if self._state == _HELD:
                raise RuntimeError("the write turn of this process is already held")
            files = self._open()
            if files is None:
                self._state = _HELD  # without lock files: SQLite alone decides
                return True
            request = _Request()
            if self._state == _IDLE:
                if self._take_at_once(files):
                    return True
                self._state = _ASKING
                self._start_keeper()
            # else the keeper still waits for a writer that gave up: it serves this one
            self._pending = request
            self._changed.notify_all()
        request.event.wait(max(timeout, 0.0))
        with self._mutex:
            if request.granted:
                return True  # handed over, perhaps as the time ran out: ours all the same
            if self._pending is request:
                self._pending = None
            return False

    def release(self) -> None:
        with self._mutex:
            if self._state != _HELD:
                raise RuntimeError("release of a write turn that is not held")
            self._let_go()

    def pass_on(self) -> None:
        """Keep the turn locked for the writer of this process that comes next (the caller
        hands it over at once, or calls `withdraw()`), unless this process has kept it for
        `PASS_ON_LIMIT` transactions in a row: then let go, so that a waiting process gets
        in."""
        with self._mutex:
            if self._state != _HELD:
                raise RuntimeError("release of a write turn that is not held")
            if self._passed >= PASS_ON_LIMIT or not self._descriptors:
                self._let_go()
                return
            self._passed += 1
            self._state = _PASSED

    def withdraw(self) -> None:
        """Let go of a turn passed on that nobody took."""
        with self._mutex:
            if self._state == _PASSED:
                self._let_go()

    def _let_go(self) -> None:
        if self._descriptors:
            fcntl.flock(self._descriptors[0], fcntl.LOCK_UN)
        self._state = _IDLE
        self._passed = 0

    @property
    def held(self) -> bool:
        with self._mutex:
            return self._state == _HELD

    def _take_at_once(self, files: list[int]) -> bool:
        """Take the turn without waiting when nobody holds it and no process waits for it.
        Otherwise leave it to the keeper (holding `-writer-next` already, if it was free)."""
        turn, following = files
        try:
            if not _try_lock(following):
                self._waiting_next = False
                return False
            if _try_lock(turn):
                fcntl.flock(following, fcntl.LOCK_UN)
                self._state = _HELD
                return True
        except OSError as exc:
            self._give_up(exc)
            self._state = _HELD
            return True
        self._waiting_next = True
        return False

    def _start_keeper(self) -> None:
        if self._keeper is None or not self._keeper.is_alive():
            self._keeper = threading.Thread(
                target=self._keep, name=f"write turn of {self.database.name}", daemon=True
            )
            self._keeper.start()

    def _keep(self) -> None:
        """The keeper: wait in the kernel for the turn whenever a writer asks for it; ends
        after a while without (the next wait starts another)."""
        while True:
            with self._mutex:
                if not self._changed.wait_for(lambda: self._state == _ASKING, KEEPER_IDLE):
                    self._keeper = None
                    return
                files, waiting_next = list(self._descriptors), self._waiting_next
            failure: OSError | None = None
            if files:
                turn, following = files
                try:
                    if not waiting_next:
                        fcntl.flock(following, fcntl.LOCK_EX)
                    fcntl.flock(turn, fcntl.LOCK_EX)
                    fcntl.flock(following, fcntl.LOCK_UN)
                except OSError as exc:
                    failure = exc
            with self._mutex:
                if failure is not None:
                    self._give_up(failure)
                request, self._pending = self._pending, None
                if request is None:  # the writer gave up meanwhile, and nobody asks since
                    self._let_go()
                    continue
                self._state = _HELD
                request.granted = True
                request.event.set()

    def _open(self) -> list[int] | None:
        """The lock files, opened (and made) the first time a writer asks; None without."""
        if not self._descriptors and not self._disabled:
            try:
                mode = lock_file_mode(self.database)
                self._descriptors.append(_open_lock_file(self.turn_path, mode))
                self._descriptors.append(_open_lock_file(self.next_path, mode))
            except OSError as exc:
                self._give_up(exc)
        return self._descriptors or None

    def _give_up(self, exc: OSError) -> None:
        """Go on without the lock files (SQLite's own lock still keeps writers apart)."""
        LOG.warning(
            "writers of %s go on without their turn among processes (%s: %s);"
            " SQLite's lock still keeps them apart",
            self.database,
            exc.filename or self.turn_path,
            exc.strerror or exc,
        )
        self._disabled = True
        _close_all(self._descriptors)  # closing lets go of the locks

    def _forget_after_fork(self) -> None:
        """In a child made by `fork`: the locks belong to the parent. Closing the child's
        copies keeps them from outliving the parent; unlocking them would free the parent's."""
        _close_all(self._descriptors)
        self._reset()


_TURNS: weakref.WeakSet[ProcessTurn] = weakref.WeakSet()


def _forget_turns_after_fork() -> None:
    for turn in list(_TURNS):
        turn._forget_after_fork()


os.register_at_fork(after_in_child=_forget_turns_after_fork)


def _close_all(descriptors: list[int]) -> None:
    while descriptors:
        os.close(descriptors.pop())


def lock_file_mode(database: Path) -> int:
    """The lock files' permissions: the database's for its owner and group, never for others
    (anyone who may open a lock file may hold the writers up); 0600 before the database
    exists."""
    try:
        return os.stat(database).st_mode & 0o660
    except FileNotFoundError:
        return 0o600


def _open_lock_file(path: Path, mode: int) -> int:
    flags = os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW
    try:
        descriptor = os.open(path, flags | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        return os.open(path, flags)
    try:
        os.fchmod(descriptor, mode)  # the umask may have taken more away
    except OSError:
        os.close(descriptor)
        raise
    return descriptor


def _try_lock(descriptor: int) -> bool:
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class TurnTakingConnection(sqlite3.Connection):
    """A SQLite connection that holds its process's write turn, and its process's turn among
    the processes, from `take_write_turn()` to the end of its transaction (commit, rollback or
    close), whatever ends it."""

    turns: FairLock | None = None
    process_turn: ProcessTurn | None = None
    _holding = False

    def take_write_turn(self, timeout: float) -> bool:
        """Queue for the turn; False when it did not come within `timeout` seconds."""
        if self.turns is None or self._holding:
            return True
        deadline = time.monotonic() + timeout
        if not self.turns.acquire(timeout):
            return False
        if self.process_turn is not None:
            try:
                taken = self.process_turn.acquire(deadline - time.monotonic())
            except BaseException:
                self.turns.release()
                raise
            if not taken:
                self.turns.release()
                return False
        self._holding = True
        return True

    def give_write_turn_back(self) -> None:
        if self._holding and self.turns is not None:
            self._holding = False
            process_turn = self.process_turn
            if process_turn is None:
                self.turns.release()
                return
            try:
                if self.turns.waiting:
                    process_turn.pass_on()
                else:
                    process_turn.release()
            finally:
                if not self.turns.release():
                    process_turn.withdraw()  # the writer that waited gave up meanwhile

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.give_write_turn_back()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.give_write_turn_back()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.give_write_turn_back()
