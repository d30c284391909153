"""A real server (`passerelle demo`, as `make run` starts it) and Debian's Chromium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import require_or_skip
from tests.shared import shared

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder: Path = tmp_path_factory.mktemp("server")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PASSERELLE_")}
    env.update(PASSERELLE_ENV="dev", PASSERELLE_DATA_DIR=str(folder / "var"))
    log = (folder / "server.log").open("w")
    process = subprocess.Popen(
        # As `make run` starts it: with the seed article as a page reported by the public.
        [
            sys.executable,
            "-m",
            "passerelle.cli.main",
            "demo",
            "--port",
            str(port),
            "--article",
            str(next(shared("seed").glob("*.txt"))),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=folder,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
        if process.poll() is not None:
            break
    else:
        process.kill()
        pytest.fail("the server did not become ready: " + (folder / "server.log").read_text())
    if process.poll() is not None:
        pytest.fail("the server stopped: " + (folder / "server.log").read_text())
    yield url
    process.terminate()
    process.wait(timeout=20)
    log.close()


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        require_or_skip("Debian's chromium is not installed (bash .ci/run installs it)")
    return str(path)


@pytest.fixture
def page(chromium_path: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_FLAGS)
        context = browser.new_context(locale="fr-FR")
        yield context.new_page()
        context.close()
        browser.close()
