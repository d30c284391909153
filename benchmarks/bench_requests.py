"""What each request of the load benchmark costs the server, one request at a time: the
server's CPU time per request of each kind (queue page, case page, decision, public report,
referral), read from /proc around requests of that kind sent one after the other, beside
the cheapest request the server answers (`/healthz`, the framework's floor, measured in the
same run). Also the client's own CPU time per request and the wall time, which tell how much
of a request's time under load is the server's.

With `--peer SRC` (a folder holding another version's `passerelle` package, such as
`git archive main src | tar -x -C /tmp/main`), a second server runs that code on its own copy
of the same data, and the requests go to one server then the other in turns of 20: the ratio
of their CPU times holds even when other work on the machine slows both.

The same instance as `bench_load` (its seed, its requests and forms), with no jobs runner,
on SQLite (and PostgreSQL when PASSERELLE_TEST_POSTGRES_URL is set); every address is on
127.0.0.1.

    .venv/bin/python -m benchmarks.bench_requests [REQUESTS] [--peer SRC]   (default 200)
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from benchmarks.bench_load import (
    AGENCY,
    ANALYST,
    PASSWORD,
    SECRET,
    client_for,
    cpu_seconds,
    csrf,
    free_port,
    load,
    nullcontext,
    passerelle,
    postgres_database,
    seed,
    slow_server,
    wait_ready,
)

KINDS = ("healthz", "queue", "case", "decision", "public_report", "referral")
# bench_load's clients per kind: 20 readers (queue and case page in turn), 20 writers (each
# kind in turn by number).
LOAD_MIX = {"queue": 10, "case": 10, "decision": 7, "public_report": 7, "referral": 6}
TURN = 20  # requests of one kind to one server before the other server's turn


@dataclass
class Server:
    """A running server and a way to send each kind of request to it."""

    pid: int
    sends: dict[str, tuple[Callable[[int], httpx.Response], int]]
    cpu: dict[str, float] = field(default_factory=dict)  # seconds, by kind
    client: dict[str, float] = field(default_factory=dict)
    wall: dict[str, float] = field(default_factory=dict)

    def measure(self, kind: str, first: int, count: int) -> None:
        send, expected = self.sends[kind]
        cpu, client, wall = cpu_seconds(self.pid), time.process_time(), time.perf_counter()
        for number in range(first, first + count):
            answer = send(number)
            if answer.status_code != expected:
                raise SystemExit(f"HTTP {answer.status_code} instead of {expected}: {answer.text}")
        self.cpu[kind] = self.cpu.get(kind, 0.0) + cpu_seconds(self.pid) - cpu
        self.client[kind] = self.client.get(kind, 0.0) + time.process_time() - client
        self.wall[kind] = self.wall.get(kind, 0.0) + time.perf_counter() - wall


@contextmanager
def serving(database_url: str, count: int, source: str | None) -> Iterator[Server]:
    """A seeded instance served by the code in `source` (None: this checkout's)."""
    with (
        tempfile.TemporaryDirectory(prefix="bench-requests-") as name,
        slow_server() as slow,
        ExitStack() as stack,
    ):
        folder = Path(name)
        seeded = seed(database_url, slow, count + 30, slow_reports=0)
        port = free_port()
        env = {
            "PASSERELLE_ENV": "dev",
            "PASSERELLE_SECRET_KEY": SECRET,
            "PASSERELLE_DATABASE_URL": database_url,
            "PASSERELLE_DATA_DIR": str(folder / "var"),
            "PASSERELLE_PUBLIC_AGENCY": AGENCY,
            "PASSERELLE_PUBLIC_REPORTS_PER_HOUR": "1000",
            "PASSERELLE_FETCH_ALLOW": "127.0.0.1/32",
        }
        if source is not None:
            env["PYTHONPATH"] = str(Path(source).resolve())
        base = f"http://127.0.0.1:{port}"
        server = stack.enter_context(
            passerelle(folder, "server.log", "serve", "--port", str(port), env=env)
        )
        wait_ready(base, folder)
        analyst = stack.enter_context(client_for(base, 0))
        token = csrf(analyst, "/login")
        analyst.post(
            "/login",
            data={"username": ANALYST, "password": PASSWORD, "csrf_token": token, "next": "/"},
        )
        token = csrf(analyst, "/")
        public = stack.enter_context(client_for(base, 1))
        public_token = csrf(public, "/signaler")
        open_cases, decided = seeded.open_cases[:], seeded.decided_cases[:]
        decision = {
            "csrf_token": token,
            "verdict": "terrorist",
            "category": "a",
            "legal_basis": "fr_code_penal_421_2_5",
            "exemption_checked": "true",
            "rationale": "Appel explicite à commettre des attentats (banc d'essai).",
        }
        report = {"csrf_token": public_token, "category": "", "description": "Banc d'essai."}
        referral = {"csrf_token": token, "kind": "referral", "language": "fr"}
        yield Server(
            server.pid,
            {
                "healthz": (lambda n: analyst.get("/healthz"), 200),
                "queue": (lambda n: analyst.get("/queue"), 200),
                "case": (lambda n: analyst.get(f"/cases/{decided[n % len(decided)]}"), 200),
                "decision": (
                    lambda n: analyst.post(f"/cases/{open_cases.pop()}/decision", data=decision),
                    303,
                ),
                "public_report": (
                    lambda n: public.post("/signaler", data={**report, "url": f"{slow}/new/{n}"}),
                    200,
                ),
                "referral": (
                    lambda n: analyst.post(f"/cases/{decided.pop()}/referrals", data=referral),
                    303,
                ),
            },
        )


def run(servers: list[Server], count: int) -> None:
    """Each kind in turn: first 10 unmeasured (pages compiled, statements cached), then
    `count` measured, `TURN` at a time to each server."""
    for kind in KINDS:
        for server in servers:
            server.measure(kind, count, 10)
            server.cpu[kind] = server.client[kind] = server.wall[kind] = 0.0
        for first in range(0, count, TURN):
            for server in servers:
                server.measure(kind, first, min(TURN, count - first))


def _ratio(ours: float, theirs: float) -> str:
    # /proc counts CPU time in ticks (10 ms): too few requests may read 0.
    return f"{ours / theirs:5.2f}x" if theirs else "  n/a"


def report(label: str, server: Server, count: int, peer: Server | None) -> None:
    def ms(seconds: float) -> float:
        return 1000 * seconds / count

    floor = ms(server.cpu["healthz"])
    print(f"  {label}")
    for kind in KINDS:
        cpu = ms(server.cpu[kind])
        line = (
            f"    {kind:<14} server CPU {cpu:6.2f} ms ({_ratio(cpu, floor)} /healthz)"
            f"   client CPU {ms(server.client[kind]):5.2f} ms   wall {ms(server.wall[kind]):6.2f} ms"
        )
        if peer is not None:
            line += f"   {_ratio(cpu, ms(peer.cpu[kind]))} the peer"
        print(line)
    mix = sum(LOAD_MIX[k] * ms(server.cpu[k]) for k in LOAD_MIX) / sum(LOAD_MIX.values())
    print(f"    in the load's mix (clients per kind): server CPU {mix:.2f} ms/request")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("requests", nargs="?", type=int, default=200)
    parser.add_argument("--peer", default=None, help="A folder with another passerelle package.")
    options = parser.parse_args()
    engines: list[tuple[str, Callable[[str], AbstractContextManager[str]]]] = []
    with tempfile.TemporaryDirectory(prefix="bench-requests-db-") as folder:
        engines.append(("sqlite", lambda name: nullcontext(f"sqlite:///{folder}/{name}.db")))
        postgres = os.environ.get("PASSERELLE_TEST_POSTGRES_URL")
        if postgres:
            engines.append(("postgresql", lambda name: postgres_database(postgres)))
        for engine_name, make in engines:
            with ExitStack() as stack:
                ours = stack.enter_context(
                    serving(stack.enter_context(make("ours")), options.requests, None)
                )
                peer = None
                if options.peer:
                    url = stack.enter_context(make("peer"))
                    peer = stack.enter_context(serving(url, options.requests, options.peer))
                run([ours] + ([peer] if peer else []), options.requests)
                print(f"{engine_name}: {options.requests} requests of each kind, one at a time")
                report("this checkout", ours, options.requests, peer)
                if peer is not None:
                    report(f"the peer ({options.peer})", peer, options.requests, None)
                print(f"  ({load()})")


if __name__ == "__main__":
    main()
