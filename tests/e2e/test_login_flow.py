"""In Debian's Chromium: log in with a demo login, switch to English and back, log out."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect


def test_login_language_switch_and_logout(page: Page, server_url: str) -> None:
    page.goto(server_url + "/")
    expect(page).to_have_url(re.compile(r"/login\?next=/$"))
    expect(page.locator("h1")).to_have_text("Se connecter")

    page.get_by_label("Identifiant").fill("analyste.fr")
    page.get_by_label("Mot de passe").fill("wrong password")
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_test_id("login-error")).to_have_text(
        "Identifiant inconnu ou mot de passe erroné."
    )

    page.get_by_label("Mot de passe").fill("demo-passerelle")
    page.get_by_role("button", name="Se connecter").click()
    expect(page.locator("h1")).to_have_text("Tableau de bord")
    expect(page.get_by_test_id("agency-name")).to_contain_text("Unité démo France")

    page.get_by_test_id("switch-en").click()
    expect(page.locator("h1")).to_have_text("Dashboard")
    expect(page.locator("html")).to_have_attribute("lang", "en")

    page.reload()
    expect(page.locator("h1")).to_have_text("Dashboard")

    page.get_by_test_id("switch-fr").click()
    expect(page.locator("h1")).to_have_text("Tableau de bord")

    page.get_by_test_id("logout").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator("h1")).to_have_text("Se connecter")
    page.goto(server_url + "/")
    expect(page).to_have_url(re.compile(r"/login"))


def test_a_controller_reads_the_audit_log(page: Page, server_url: str) -> None:
    page.goto(server_url + "/login")
    page.get_by_label("Identifiant").fill("controleur.qc")
    page.get_by_label("Mot de passe").fill("demo-passerelle")
    page.get_by_role("button", name="Se connecter").click()
    page.get_by_role("link", name="Journal d’audit").click()
    table = page.get_by_test_id("audit-table")
    expect(table).to_contain_text("Agence créée")
    expect(table).to_contain_text("Personne ajoutée")
