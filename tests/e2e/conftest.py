"""A real server (`passerelle demo`, as `make run` starts it) and Debian's Chromium."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require_or_skip
from tests.servers import running_passerelle
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


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder: Path = tmp_path_factory.mktemp("server")
    # As `make run` starts it: with the seed article as a page reported by the public.
    article = str(next(shared("seed").glob("*.txt")))
    env = {"PASSERELLE_ENV": "dev", "PASSERELLE_DATA_DIR": str(folder / "var")}
    with running_passerelle(folder, "demo", "--article", article, env=env) as url:
        yield url


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
