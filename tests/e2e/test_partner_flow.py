"""In Debian's Chromium: the French liaison proposes an agreement to the Québec unit, whose
liaison accepts it; both see it in force."""

from __future__ import annotations

from playwright.sync_api import Page, expect


def log_in(page: Page, server_url: str, username: str) -> None:
    page.context.clear_cookies()
    page.goto(server_url + "/login")
    page.get_by_label("Identifiant").fill(username)
    page.get_by_label("Mot de passe").fill("demo-passerelle")
    page.get_by_role("button", name="Se connecter").click()
    expect(page.locator("h1")).to_have_text("Tableau de bord")


def test_a_liaison_proposes_and_the_other_accepts(page: Page, server_url: str) -> None:
    log_in(page, server_url, "liaison.fr")
    page.get_by_role("link", name="Partenaires").click()
    partner = page.get_by_test_id("partner-demo-qc")
    expect(partner.get_by_test_id("agreements")).to_contain_text("Aucun accord pour l’instant.")
    partner.get_by_text("Proposer un accord").click()
    form = page.get_by_test_id("propose-demo-qc")
    form.get_by_label("Finalité").fill("Retrait coordonné des contenus d'incitation (démo).")
    form.get_by_label("Valable jusqu’au").fill("2027-12-31")
    form.get_by_role("button", name="Proposer").click()
    expect(page.get_by_test_id("exchange-notice")).to_have_count(0)  # delivered
    expect(page.get_by_test_id("agreement-status")).to_have_text("proposé")

    log_in(page, server_url, "liaison.qc")
    page.goto(server_url + "/partners")
    row = page.get_by_test_id("partner-demo-fr").get_by_test_id("agreements")
    expect(row).to_contain_text("en attente de votre réponse")
    row.get_by_test_id("accept").click()
    expect(page.get_by_test_id("agreement-status")).to_have_text("actif")

    log_in(page, server_url, "liaison.fr")
    page.goto(server_url + "/partners")
    expect(page.get_by_test_id("agreement-status")).to_have_text("actif")
    expect(page.get_by_test_id("partner-demo-qc").get_by_test_id("suspend")).to_be_visible()
