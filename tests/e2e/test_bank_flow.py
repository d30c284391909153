"""In Debian's Chromium, against the demo server: an administrator adds a signal to a bank,
finds it by searching, exports the bank, withdraws the entry with a reason; an analyst may
add but not withdraw or import; the controller reads the bank only. The entries wrap at
1366 px and stack at 375 px."""

from __future__ import annotations

import hashlib
import re

from playwright.sync_api import Page, expect

from passerelle.services.demo import DEMO_BANK

VALUE = hashlib.md5(b"passerelle e2e bank entry", usedforsecurity=False).hexdigest()


def _log_in(page: Page, server_url: str, username: str) -> None:
    page.goto(server_url + "/login")
    page.get_by_label("Identifiant").fill(username)
    page.get_by_label("Mot de passe").fill("demo-passerelle")
    page.get_by_role("button", name="Se connecter").click()
    expect(page.locator("h1")).to_have_text("Tableau de bord")


def _open_bank(page: Page) -> None:
    page.get_by_role("navigation", name="Navigation principale").get_by_role(
        "link", name="Banques"
    ).click()
    expect(page.locator("h1")).to_have_text("Banques")
    page.get_by_test_id("banks-table").get_by_role("link", name=DEMO_BANK).click()
    expect(page.get_by_test_id("bank-name")).to_have_text(DEMO_BANK)


def _fits(page: Page) -> bool:
    return bool(
        page.evaluate(
            "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        )
    )


def test_an_administrator_adds_finds_exports_and_withdraws(page: Page, server_url: str) -> None:
    page.set_viewport_size({"width": 1366, "height": 900})
    _log_in(page, server_url, "admin.fr")
    _open_bank(page)

    form = page.get_by_test_id("add-value")
    form.get_by_label("Type d’empreinte").select_option("md5")
    form.get_by_label("Valeur (pour text").fill(VALUE)
    form.get_by_label("Étiquettes (séparées par des virgules)").fill("essai-e2e")
    form.get_by_label("Note").fill("entrée de test neutre")
    page.get_by_test_id("add-value-go").click()
    expect(page.get_by_test_id("bank-name")).to_have_text(DEMO_BANK)

    page.get_by_test_id("bank-q").fill(VALUE[:8])
    page.get_by_test_id("bank-search-go").click()
    rows = page.get_by_test_id("entry-row")
    expect(rows).to_have_count(1)
    expect(rows.first.get_by_test_id("entry-value")).to_have_text(VALUE)
    expect(rows.first).to_contain_text("essai-e2e")
    assert _fits(page)  # long values wrap at 1366 px

    page.get_by_label("Format").last.select_option("csv")
    with page.expect_download() as download:
        page.get_by_test_id("export-go").click()
    exported = download.value.path().read_text(encoding="utf-8")
    assert f"md5,{VALUE}," in exported
    assert re.search(rf"md5,{VALUE},.*,amber,", exported)  # unmarked leaves as AMBER

    page.get_by_test_id("bank-q").fill(VALUE)
    page.get_by_test_id("bank-search-go").click()
    row = page.get_by_test_id("entry-row").first
    row.get_by_test_id("withdraw-open").click()
    row.get_by_label("Raison du retrait").fill("Ajoutée pour un essai, à retirer.")
    row.get_by_test_id("withdraw").click()
    expect(page.get_by_test_id("bank-name")).to_have_text(DEMO_BANK)

    page.get_by_test_id("bank-q").fill(VALUE)
    page.get_by_test_id("bank-search-go").click()
    expect(page.get_by_test_id("entry-row")).to_have_count(0)
    page.get_by_test_id("bank-state").select_option("withdrawn")
    page.get_by_test_id("bank-search-go").click()
    withdrawn = page.get_by_test_id("entry-row")
    expect(withdrawn).to_have_count(1)
    expect(withdrawn.first.get_by_test_id("withdrawal-reason")).to_have_text(
        "Ajoutée pour un essai, à retirer."
    )


def test_an_analyst_adds_but_does_not_withdraw_and_the_controller_reads(
    page: Page, server_url: str
) -> None:
    page.set_viewport_size({"width": 375, "height": 800})
    _log_in(page, server_url, "analyste.fr")
    _open_bank(page)
    expect(page.get_by_test_id("add-value")).to_be_visible()
    expect(page.get_by_test_id("add-file")).to_be_visible()
    expect(page.get_by_test_id("import")).to_have_count(0)
    expect(page.get_by_test_id("withdraw-form")).to_have_count(0)
    expect(page.get_by_test_id("entry-row").first).to_be_visible()
    assert _fits(page)  # the entries stack on a phone's width
    page.get_by_test_id("logout").click()

    _log_in(page, server_url, "controleur.fr")
    _open_bank(page)
    expect(page.get_by_test_id("read-only")).to_be_visible()
    expect(page.get_by_test_id("add-value")).to_have_count(0)
    expect(page.get_by_test_id("export")).to_be_visible()
