"""In Debian's Chromium: the demo queue, its keyboard shortcuts, and a case page."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect


def test_the_analyst_walks_the_demo_queue_with_the_keyboard(page: Page, server_url: str) -> None:
    page.goto(server_url + "/login")
    page.get_by_label("Identifiant").fill("analyste.fr")
    page.get_by_label("Mot de passe").fill("demo-passerelle")
    page.get_by_role("button", name="Se connecter").click()
    page.get_by_role("link", name="File d'attente", exact=True).click()
    expect(page.get_by_test_id("queue-count")).to_have_text("3 dossiers")
    rows = page.locator("tr[data-case-url]")
    expect(rows).to_have_count(3)

    page.keyboard.press("?")
    expect(page.get_by_role("dialog", name="Raccourcis clavier")).to_be_visible()
    page.keyboard.press("?")
    expect(page.get_by_role("dialog", name="Raccourcis clavier")).to_be_hidden()

    page.keyboard.press("j")
    page.keyboard.press("j")
    expect(rows.nth(1)).to_have_class(re.compile("selected"))
    page.keyboard.press("k")
    expect(rows.nth(0)).to_have_class(re.compile("selected"))
    page.keyboard.press("o")
    expect(page).to_have_url(re.compile(r"/cases/"))
    expect(page.get_by_test_id("reasons")).to_contain_text("niveau : promotionnel")
    expect(page.get_by_test_id("matches")).to_contain_text("demo-contenu-connu")
    expect(page.get_by_test_id("history")).to_contain_text("case.opened")


def test_a_preserved_image_is_blurred_until_clicked(page: Page, server_url: str) -> None:
    page.goto(server_url + "/login")
    page.get_by_label("Identifiant").fill("approbateur.fr")
    page.get_by_label("Mot de passe").fill("demo-passerelle")
    page.get_by_role("button", name="Se connecter").click()
    page.goto(server_url + "/queue")
    page.locator("tr[data-case-url] a").first.click()
    image = page.get_by_test_id("protected-media").locator("img")
    expect(image).to_be_visible()
    assert image.evaluate("img => img.naturalWidth") > 0  # the preserved bytes decode
    blurred = image.evaluate("img => getComputedStyle(img).filter")
    assert "blur" in blurred and "grayscale" in blurred
    page.get_by_test_id("protected-media").click()
    expect(image).to_have_css("filter", "none")
    page.get_by_test_id("protected-media").click()
    assert "blur" in image.evaluate("img => getComputedStyle(img).filter")
