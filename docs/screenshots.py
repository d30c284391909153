"""The README's screenshots, made again: `.venv/bin/python -m docs.screenshots`.

A real server on 127.0.0.1 holding the busy unit of the browser tests (120 open cases, a
public report, a removal order waiting for a second approver), then the demo of `make run`
for the banks, in Debian's Chromium at 1366 px, the French console. Writes
docs/screenshot-dashboard.png, screenshot-queue.png, screenshot-queue-pages.png and
screenshot-banks.png."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright
from tests.e2e.conftest import CHROMIUM_FLAGS
from tests.e2e.test_day_at_volume import SECRET, fill
from tests.factories import DEFAULT_PASSWORD
from tests.servers import running_passerelle

DOCS = Path(__file__).parent


def log_in(page: Page, url: str, username: str, password: str = DEFAULT_PASSWORD) -> None:
    page.context.clear_cookies()
    page.goto(url + "/login")
    page.get_by_label("Identifiant").fill(username)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.locator("h1")).to_have_text("Tableau de bord")


def main() -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("Debian's chromium is needed (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        fill(folder)
        env = {
            "PASSERELLE_ENV": "dev",
            "PASSERELLE_SECRET_KEY": SECRET,
            "PASSERELLE_DATA_DIR": str(folder / "var"),
        }
        with running_passerelle(folder, "serve", env=env) as url, sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=chromium, args=[*CHROMIUM_FLAGS, "--lang=fr-FR"]
            )
            page = browser.new_page(viewport={"width": 1366, "height": 900}, locale="fr-FR")
            log_in(page, url, "approbateur2")
            page.screenshot(path=DOCS / "screenshot-dashboard.png")
            page.goto(url + "/queue")
            page.screenshot(path=DOCS / "screenshot-queue.png")
            page.goto(url + "/queue?tier=promotional&size=25")
            page.get_by_test_id("next-page").first.click()
            page.screenshot(path=DOCS / "screenshot-queue-pages.png")
            browser.close()
        demo = {"PASSERELLE_ENV": "dev", "PASSERELLE_DATA_DIR": str(folder / "demo")}
        (folder / "demo").mkdir()
        with running_passerelle(folder, "demo", env=demo) as url, sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=chromium, args=[*CHROMIUM_FLAGS, "--lang=fr-FR"]
            )
            page = browser.new_page(viewport={"width": 1366, "height": 900}, locale="fr-FR")
            log_in(page, url, "admin.fr", "demo-passerelle")
            page.goto(url + "/banks")
            page.get_by_role("link", name=re.compile("connu", re.IGNORECASE)).first.click()
            page.screenshot(path=DOCS / "screenshot-banks.png")
            browser.close()


if __name__ == "__main__":
    main()
