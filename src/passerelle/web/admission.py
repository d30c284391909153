"""How many requests the server works on at once; the others wait their turn, in order.

Every request of the console runs Python in worker threads of one process. Forty of them at
once mostly take turns at the interpreter lock: each goes slower, and a writer holding the
database's write lock is held up by every reader (its 34 ms became 93 ms at p95, and the
writers behind it waited seconds). A few at a time, taken in order of arrival, finish each
sooner, and the waiting is done here, where it costs nothing. Only the work is counted: a
request gives its place up when its answer starts, however long its body takes to send."""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class Admission:
    """ASGI middleware: at most `limit` requests inside the app at once (static files and
    other scopes pass)."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        if limit < 1:
            raise ValueError("the admission limit is at least 1")
        self.app = app
        self.limit = limit
        self._loop: asyncio.AbstractEventLoop | None = None
        self._places: asyncio.Semaphore | None = None

    def _semaphore(self) -> asyncio.Semaphore:
        # One per event loop: a test client may run the app on several loops, one at a time.
        loop = asyncio.get_running_loop()
        if self._places is None or self._loop is not loop:
            self._loop, self._places = loop, asyncio.Semaphore(self.limit)
        return self._places

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/static/"):
            await self.app(scope, receive, send)
            return
        places = self._semaphore()
        await places.acquire()
        held = True

        def give_up() -> None:
            nonlocal held
            if held:
                held = False
                places.release()

        async def send_then_give_up(message: Message) -> None:
            if message["type"] == "http.response.start":
                give_up()
            await send(message)

        try:
            await self.app(scope, receive, send_then_give_up)
        finally:
            give_up()
