"""The fair lock of SQLite writers: handed over in the order of arrival, never lost."""

from __future__ import annotations

import threading
import time

import pytest

from passerelle.db.write_turns import FairLock


def _wait_until(condition: object) -> None:
    """Poll (a state, never a duration, is what the test asserts)."""
    deadline = time.monotonic() + 30
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("the condition never came true")
        time.sleep(0.001)


def test_waiters_get_the_lock_in_the_order_they_came() -> None:
    lock = FairLock()
    assert lock.acquire(1)
    served: list[int] = []

    def writer(number: int) -> None:
        assert lock.acquire(30)
        served.append(number)
        lock.release()

    threads = []
    for number in range(12):
        thread = threading.Thread(target=writer, args=(number,))
        thread.start()
        threads.append(thread)
        _wait_until(lambda n=number: lock.waiting == n + 1)  # queued before the next comes
    lock.release()
    for thread in threads:
        thread.join()
    assert served == list(range(12))
    assert not lock.held and lock.waiting == 0


def test_a_newcomer_does_not_overtake_the_queue() -> None:
    """When the holder releases, the lock goes to the head of the queue, not to whichever
    thread asks at that moment."""
    lock = FairLock()
    assert lock.acquire(1)
    served: list[str] = []

    def waiter() -> None:
        assert lock.acquire(30)
        served.append("queued")
        lock.release()

    thread = threading.Thread(target=waiter)
    thread.start()
    _wait_until(lambda: lock.waiting == 1)
    lock.release()
    assert lock.acquire(30)  # asks right after the release: gets it only after the waiter
    served.append("newcomer")
    lock.release()
    thread.join()
    assert served == ["queued", "newcomer"]


def test_a_waiter_that_gives_up_leaves_the_queue() -> None:
    lock = FairLock()
    assert lock.acquire(1)
    assert not lock.acquire(0.01)
    assert lock.waiting == 0
    lock.release()
    assert not lock.held
    assert lock.acquire(0)
    lock.release()


def test_releasing_a_lock_nobody_holds_is_an_error() -> None:
    with pytest.raises(RuntimeError):
        FairLock().release()
