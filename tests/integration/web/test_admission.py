"""The server works on a few requests at once; the others wait their turn in order of arrival,
and a request gives its place up when its answer starts or when it fails."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from starlette.types import Message, Receive, Scope, Send

from passerelle.web.admission import Admission


class Gate:
    """An app whose requests stay inside until the test lets each one go."""

    def __init__(self) -> None:
        self.inside: list[str] = []
        self.entered: list[str] = []
        self.release: dict[str, asyncio.Event] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        name = scope["path"].strip("/")
        self.inside.append(name)
        self.entered.append(name)
        event = self.release.setdefault(name, asyncio.Event())
        try:
            if name.startswith("fail"):
                await event.wait()
                raise RuntimeError("the route failed")
            if name.startswith("stream"):
                await send({"type": "http.response.start", "status": 200, "headers": []})
                await event.wait()  # the body is still being sent
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            await event.wait()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok", "more_body": False})
        finally:
            self.inside.remove(name)


def _scope(path: str) -> Scope:
    return {"type": "http", "path": path, "method": "GET", "headers": []}


async def _receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: Message) -> None:
    return None


async def _settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def _request(app: Admission, name: str) -> None:
    with contextlib.suppress(RuntimeError):  # the failing route's error, as the server sees it
        await app(_scope(f"/{name}"), _receive, _send)


def test_at_most_the_limit_inside_and_the_others_in_order_of_arrival() -> None:
    async def scenario() -> list[str]:
        gate = Gate()
        app = Admission(gate, limit=2)
        names = [f"r{number}" for number in range(8)]
        tasks = []
        for name in names:
            tasks.append(asyncio.create_task(_request(app, name)))
            await _settle()  # arrives after the previous one
        assert gate.entered == ["r0", "r1"]
        for name in names:
            await _settle()
            assert len(gate.inside) <= 2
            gate.release.setdefault(name, asyncio.Event()).set()
            await _settle()
        await asyncio.gather(*tasks)
        return gate.entered

    assert asyncio.run(scenario()) == [f"r{number}" for number in range(8)]


def test_a_request_that_fails_gives_its_place_up() -> None:
    async def scenario() -> list[str]:
        gate = Gate()
        app = Admission(gate, limit=1)
        failing = asyncio.create_task(_request(app, "fail"))
        await _settle()
        waiting = asyncio.create_task(_request(app, "next"))
        await _settle()
        assert gate.entered == ["fail"]
        gate.release["fail"].set()
        await _settle()
        gate.release.setdefault("next", asyncio.Event()).set()
        await asyncio.gather(failing, waiting)
        return gate.entered

    assert asyncio.run(scenario()) == ["fail", "next"]


def test_an_answer_being_sent_does_not_hold_a_place() -> None:
    """A slow download (its answer started) lets the next request in."""

    async def scenario() -> list[str]:
        gate = Gate()
        app = Admission(gate, limit=1)
        download = asyncio.create_task(_request(app, "stream"))
        await _settle()
        page = asyncio.create_task(_request(app, "page"))
        await _settle()
        entered = list(gate.entered)
        gate.release.setdefault("page", asyncio.Event()).set()
        gate.release["stream"].set()
        await asyncio.gather(download, page)
        return entered

    assert asyncio.run(scenario()) == ["stream", "page"]


def test_static_files_do_not_wait() -> None:
    async def scenario() -> list[str]:
        gate = Gate()
        app = Admission(gate, limit=1)
        busy = asyncio.create_task(_request(app, "busy"))
        await _settle()
        css = asyncio.create_task(app(_scope("/static/app.css"), _receive, _send))
        await _settle()
        entered = list(gate.entered)
        gate.release["busy"].set()
        gate.release["static/app.css"].set()
        await asyncio.gather(busy, css)
        return entered

    assert asyncio.run(scenario()) == ["busy", "static/app.css"]


def test_the_limit_is_at_least_one() -> None:
    with pytest.raises(ValueError):
        Admission(Gate(), limit=0)
