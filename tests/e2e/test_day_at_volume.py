"""In Debian's Chromium, on a real server holding 120 cases: the analyst pages through the
whole queue with a filter kept; the header's search finds a case by hash, by address and by
a public report's reference; a second approver finds the removal order on the dashboard and
approves it from there."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from passerelle.db.engine import make_engine
from passerelle.db.migrate import upgrade
from passerelle.db.session import Database
from passerelle.services import refer
from passerelle.services.public import submit_public_report
from tests.factories import (
    DEFAULT_PASSWORD,
    decide_as_terrorist,
    make_agency,
    make_host,
    make_queue,
    make_user,
)
from tests.servers import running_passerelle

SECRET = "e2e-secret-key-that-is-long-enough-0123456789"


def fill(folder: Path) -> dict[str, str]:
    """121 cases (one decided, with a removal order prepared by approbateur1) and a public
    report: 120 open cases in the queue, the public report among them at the end."""
    (folder / "var").mkdir(parents=True)
    database = Database(make_engine(f"sqlite:///{folder / 'var' / 'passerelle.db'}"), secret=SECRET)
    upgrade(database.engine)
    with database.unit_of_work(write=True) as uow:
        make_agency(uow, code="unite", name="Unité de test")
        make_user(uow, agency_code="unite", username="analyste", roles=("analyst",))
        author = make_user(uow, agency_code="unite", username="approbateur1", roles=("approver",))
        make_user(uow, agency_code="unite", username="approbateur2", roles=("approver",))
        cases = make_queue(uow, agency_code="unite", count=121)  # 120 open, one decided
        reference = submit_public_report(
            uow,
            agency_code="unite",
            url="https://exemple.test/page-signalee-par-le-public",
            category="",
            description="",
            source_hash="z" * 32,
            per_hour=10,
        )
        make_host(uow, agency_code="unite")
        decide_as_terrorist(uow, agency_code="unite", case_id=cases[-1], author=author)
        order = refer.prepare_referral(
            uow, viewer=author, case_id=cases[-1], kind="tco_removal_order"
        )
        uow.commit()
    database.dispose()
    return {"reference": reference, "order": order.id, "case": cases[7]}


@pytest.fixture(scope="module")
def busy_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    folder = tmp_path_factory.mktemp("busy")
    facts = fill(folder)
    env = {
        "PASSERELLE_ENV": "dev",
        "PASSERELLE_SECRET_KEY": SECRET,
        "PASSERELLE_DATA_DIR": str(folder / "var"),
    }
    with running_passerelle(folder, "serve", env=env) as url:
        yield url, facts


def log_in(page: Page, url: str, username: str) -> None:
    page.context.clear_cookies()
    page.goto(url + "/login")
    page.get_by_label("Identifiant").fill(username)
    page.get_by_label("Mot de passe").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.locator("h1")).to_have_text("Tableau de bord")


def test_every_case_is_reached_by_paging_with_the_filter_kept(
    page: Page, busy_server: tuple[str, dict[str, str]]
) -> None:
    url, _ = busy_server
    log_in(page, url, "analyste")
    page.get_by_role("link", name="File d’attente", exact=True).or_(
        page.get_by_role("link", name="File d'attente", exact=True)
    ).click()
    page.get_by_label("Niveau").select_option("promotional")
    page.get_by_role("button", name="Filtrer").click()
    seen: list[str] = []
    ranges = []
    while True:
        ranges.append(page.get_by_test_id("page-range").inner_text())
        expect(page.get_by_label("Niveau")).to_have_value("promotional")  # the filter is kept
        seen += page.locator("tr[data-case-url]").evaluate_all(
            "rows => rows.map(r => r.dataset.caseUrl)"
        )
        following = page.get_by_test_id("next-page")
        if not following.count():
            break
        following.first.click()
    assert ranges == ["1–50 sur 120", "51–100 sur 120", "101–120 sur 120"]
    assert len(seen) == 120 and len(set(seen)) == 120
    assert "tier=promotional" in page.url
    page.get_by_test_id("previous-page").first.click()
    expect(page.get_by_test_id("page-range")).to_have_text("51–100 sur 120")


def test_the_header_search_finds_a_case_by_hash_address_and_reference(
    page: Page, busy_server: tuple[str, dict[str, str]]
) -> None:
    url, facts = busy_server
    log_in(page, url, "analyste")
    box = page.get_by_test_id("search-box")
    # make_queue's case 7: https://exemple.test/dossier/7, its SHA-256 that of the address.
    sha256 = hashlib.sha256(b"https://exemple.test/dossier/7").hexdigest()
    for typed in (sha256, "https://EXEMPLE.test/dossier/7?utm_source=x"):
        box.fill(typed)
        box.press("Enter")
        results = page.get_by_test_id("search-results").locator("tr[data-case-url]")
        expect(results).to_have_count(1)
        assert results.first.get_attribute("data-case-url") == f"/cases/{facts['case']}"
        box = page.get_by_test_id("search-box")
    box.fill(facts["reference"])
    box.press("Enter")
    results = page.get_by_test_id("search-results").locator("a")
    expect(results).to_have_count(1)
    results.first.click()
    expect(page).to_have_url(re.compile(r"/cases/"))
    expect(page.locator("body")).to_contain_text("page-signalee-par-le-public")


def test_a_second_approver_approves_the_order_from_the_dashboard(
    page: Page, busy_server: tuple[str, dict[str, str]]
) -> None:
    url, facts = busy_server
    log_in(page, url, "approbateur1")  # who prepared it is not asked
    expect(page.get_by_test_id("work-awaiting_approval-count")).to_have_text("0")
    log_in(page, url, "approbateur2")
    waiting = page.get_by_test_id("work-awaiting_approval")
    expect(page.get_by_test_id("work-awaiting_approval-count")).to_have_text("1")
    expect(waiting).to_contain_text("préparée par approbateur1")
    waiting.get_by_role("button", name="Approuver").click()
    expect(page).to_have_url(re.compile(f"/referrals/{facts['order']}"))
    expect(page.locator("body")).to_contain_text("approbateur2")
    page.goto(url + "/")
    expect(page.get_by_test_id("work-awaiting_approval-count")).to_have_text("0")
