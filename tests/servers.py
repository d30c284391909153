"""Real Passerelle servers for the tests: `passerelle …` in a subprocess on a free loopback
port, ready when `/readyz` says so, stopped (and its log closed) at the end."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A plain HTTP server on a free loopback port answering with `handler`; yields its URL
    (no trailing slash), shut down at the end."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def running_passerelle(folder: Path, *args: str, env: dict[str, str]) -> Iterator[str]:
    """Run `passerelle ARGS --port P` with these PASSERELLE_ variables; yield its URL."""
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PASSERELLE_")}
    environment.update(env)
    with (folder / "server.log").open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "passerelle.cli.main", *args, "--port", str(port)],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=folder,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            # Generous: a loaded CI machine takes long to build the demo (Argon2 for each login).
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline and process.poll() is None:
                try:
                    if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            else:
                pytest.fail("the server did not start: " + (folder / "server.log").read_text())
            yield url
        finally:
            process.terminate()
            process.wait(timeout=20)
