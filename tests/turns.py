"""What the tests of SQLite's write turns share: the turns of an engine's process, and a
wait for something another thread or process does."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import Engine

from passerelle.db.write_turns import FairLock


def turns_of(engine: Engine) -> FairLock:
    """The queue of this process's writers on the engine's database."""
    connection = engine.raw_connection()
    try:
        turns: FairLock = connection.dbapi_connection.turns  # type: ignore[union-attr]
    finally:
        connection.close()
    return turns


def wait_until(condition: Callable[[], bool], *, every: float = 0.002) -> None:
    """Return once `condition()` is true; fail after a minute."""
    deadline = time.monotonic() + 60
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the condition never came true")
        time.sleep(every)
