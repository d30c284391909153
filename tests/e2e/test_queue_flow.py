"""In Debian's Chromium: the demo queue, its keyboard shortcuts, and a case page."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect


def test_the_analyst_walks_the_demo_queue_with_the_keyboard(page: Page, server_url: str) -> None:
    page.goto(server_url + "/login")
    page.get_by_label("Identifiant").fill("analyste.fr")
    page.get_by_label("Mot de passe").fill("demo-passerelle")
    page.get_by_role("button", name="Se connecter").click()
    page.get_by_role("link", name="File d’attente", exact=True).click()
    expect(page.get_by_test_id("queue-count")).to_have_text("4 dossiers")
    rows = page.locator("tr[data-case-url]")
    expect(rows).to_have_count(4)

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
    expect(page.get_by_test_id("history")).to_contain_text("Dossier ouvert")  # in words

    # "d" opens the selected case at its decision form, its first field focused.
    page.goto(server_url + "/queue")
    page.keyboard.press("j")
    page.keyboard.press("d")
    expect(page).to_have_url(re.compile(r"/cases/.*#decide$"))
    expect(page.locator("#decide input[name=verdict]").first).to_be_focused()

    # Taking a case puts it in "assigned to me".
    page.get_by_test_id("take").click()
    expect(page.get_by_test_id("assigned-to")).to_have_text("analyste.fr")
    page.goto(server_url + "/queue")
    page.get_by_test_id("mine").check()
    page.get_by_role("button", name="Filtrer").click()
    expect(page.locator("tr[data-case-url]")).to_have_count(1)


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


def test_the_reported_article_is_read_and_decided_as_journalism(
    page: Page, server_url: str
) -> None:
    page.goto(server_url + "/login")
    page.get_by_label("Identifiant").fill("analyste.fr")
    page.get_by_label("Mot de passe").fill("demo-passerelle")
    page.get_by_role("button", name="Se connecter").click()
    page.goto(server_url + "/queue?source=public")
    rows = page.locator("tr[data-case-url]")
    expect(rows).to_have_count(1)
    expect(rows.first.locator("td.score")).to_have_text("0")
    rows.first.locator("a").click()
    text = page.get_by_test_id("case-text")
    expect(text).to_contain_text("La France et le Québec")
    expect(text.locator("mark")).to_have_count(0)  # nothing in it matches a bank
    expect(page.get_by_test_id("matches").locator("tbody tr")).to_have_count(0)
    form = page.get_by_test_id("decision-form")
    form.get_by_role("radio", name="contenu non terroriste").check()
    form.get_by_label("Motif, si contenu non terroriste").select_option("journalism")
    form.get_by_label("J’ai vérifié les exemptions").check()
    form.get_by_label("Motivation").fill(
        "Article de presse qui rend compte d'une coopération entre gouvernements."
    )
    form.get_by_role("button", name="Enregistrer la décision").click()
    expect(page.get_by_test_id("decision")).to_contain_text("journalisme")
