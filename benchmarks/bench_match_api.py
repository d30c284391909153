"""`POST /api/v1/match` through the real HTTP server (uvicorn on 127.0.0.1), a bank of N PDQ
hashes in a fresh SQLite instance: latency percentiles for one hash and for 100 hashes per
request, from 4 concurrent clients. Beside it, measured in the same run, the peer's own
lookup with no HTTP at all: python-threatexchange's PDQIndex queried in-process for the
same hashes (what a pytx-based service pays before any network or JSON).

    .venv/bin/python -m benchmarks.bench_match_api [N]   # default 20000; the issue's size: 1000000
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import httpx
from tests.servers import running_passerelle

CLIENTS = 4
REQUESTS = 50  # per client and per kind of request


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def passerelle(command: list[str], env: dict[str, str], stdin: str | None = None) -> str:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "passerelle"), *command],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"passerelle {' '.join(command)} failed: {done.stderr[-2000:]}")
    return done.stdout


def clients(url: str, token: str, batches: list[list[str]]) -> list[float]:
    """Latencies (seconds) of every request, CLIENTS threads each sending REQUESTS."""
    latencies: list[float] = []
    lock = threading.Lock()

    def client(number: int) -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as http:
            for i in range(REQUESTS):
                hashes = batches[(number * REQUESTS + i) % len(batches)]
                body = {"signals": [{"type": "pdq", "value": h} for h in hashes]}
                start = time.perf_counter()
                response = http.post("/api/v1/match", json=body, timeout=60)
                elapsed = time.perf_counter() - start
                assert response.status_code == 200, response.text
                with lock:
                    latencies.append(elapsed)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies


def peer_latencies(stored: list[str], batches: list[list[str]]) -> list[float]:
    from threatexchange.signal_type.pdq.pdq_index import PDQIndex

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        index = PDQIndex(entries=((h, i) for i, h in enumerate(stored)))
        found = []
        for hashes in batches[: CLIENTS * REQUESTS]:
            start = time.perf_counter()
            for value in hashes:
                index.query(value)
            found.append(time.perf_counter() - start)
    return found


def load() -> str:
    return "{:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def main() -> None:
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    rng = random.Random(5)
    stored = [f"{rng.getrandbits(256):064x}" for _ in range(size)]
    asked = [f"{rng.getrandbits(256):064x}" if i % 2 else stored[i % size] for i in range(2000)]
    singles = [[h] for h in asked]
    hundreds = [asked[i : i + 100] for i in range(0, len(asked), 100)]
    with tempfile.TemporaryDirectory(prefix="bench-api-") as folder:
        root = Path(folder)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PASSERELLE_")}
        env |= {"PASSERELLE_ENV": "dev", "PASSERELLE_DATA_DIR": str(root / "var")}
        passerelle(["db", "upgrade"], env)
        passerelle(["agency", "add", "unite", "--name", "U", "--jurisdiction", "FR"], env)
        passerelle(
            ["user", "add", "analyste", "--agency", "unite", "--role", "analyst",
             "--password-stdin"],
            env,
            stdin="correct horse battery staple\n",
        )  # fmt: skip
        token = passerelle(["user", "token", "analyste", "--name", "bench"], env).strip()
        passerelle(["bank", "create", "connu"], env)
        hashes = root / "bank.txt"
        hashes.write_text("".join(f"pdq {h}\n" for h in stored))
        passerelle(["bank", "import", "connu", str(hashes)], env)
        with running_passerelle(root, "serve", env=env) as url:
            started = load()
            start = time.perf_counter()
            clients(url, token, singles[:1])  # the first request opens (or builds) the index
            first = time.perf_counter() - start
            one = clients(url, token, singles)
            hundred = clients(url, token, hundreds)
            ended = load()
    peer_one = peer_latencies(stored, singles)
    peer_hundred = peer_latencies(stored, hundreds)
    print(f"POST /api/v1/match, bank of {size:,} PDQ hashes, {CLIENTS} concurrent clients:")
    print(f"  load average while serving: {started} at the start, {ended} at the end")
    print(f"  first request (index opened or built): {first:.2f} s")
    for label, ours, peer in (
        ("1 hash per request", one, peer_one),
        ("100 hashes per request", hundred, peer_hundred),
    ):
        print(
            f"  {label:<24} passerelle over HTTP p50 {1000 * statistics.median(ours):7.1f} ms"
            f"  p95 {1000 * percentile(ours, 0.95):7.1f} ms   |   pytx PDQIndex in-process"
            f" p50 {1000 * statistics.median(peer):7.1f} ms  p95 {1000 * percentile(peer, 0.95):7.1f} ms"
        )
    print(
        f"match_api_100_per_hash: {statistics.median(peer_hundred) / statistics.median(hundred):.2f}x"
        " vs pytx PDQIndex in-process"
    )
    print(f"match_api_p95_1: {1000 * percentile(one, 0.95):.1f} ms (aim: under 20 ms)")


if __name__ == "__main__":
    main()
