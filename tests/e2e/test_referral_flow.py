"""In Debian's Chromium: an analyst decides a demo case and prepares a removal order; the
author cannot approve it; an approver does."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect


def log_in(page: Page, server_url: str, username: str) -> None:
    page.context.clear_cookies()
    page.goto(server_url + "/login")
    page.get_by_label("Identifiant").fill(username)
    page.get_by_label("Mot de passe").fill("demo-passerelle")
    page.get_by_role("button", name="Se connecter").click()
    expect(page.locator("h1")).to_have_text("Tableau de bord")


def test_decide_prepare_and_approve_a_removal_order(page: Page, server_url: str) -> None:
    log_in(page, server_url, "analyste.fr")
    page.goto(server_url + "/queue")
    page.locator("tr[data-case-url]").filter(has_text="image/jpeg").last.locator("a").click()
    form = page.get_by_test_id("decision-form")
    form.get_by_label("contenu à caractère terroriste").check()
    form.get_by_label("Catégorie de l’art. 2(7), si contenu terroriste").select_option("a")
    form.get_by_label("Base légale, si contenu terroriste").select_option("fr_code_penal_421_2_5")
    form.get_by_label("J’ai vérifié les exemptions").check()
    form.get_by_label("Motivation").fill(
        "Contenu de remplacement traité comme un appel à la violence (démo)."
    )
    form.get_by_role("button", name="Enregistrer la décision").click()
    expect(page.get_by_test_id("decision")).to_contain_text("Art. 2(7)(a)")

    referral = page.get_by_test_id("referral-form")
    referral.get_by_label("Préparer").select_option("tco_removal_order")
    referral.get_by_role("button", name="Préparer la notification").click()
    expect(page).to_have_url(re.compile(r"/referrals/"))
    expect(page.get_by_test_id("referral-status")).to_have_text("en attente d’approbation")
    expect(page.get_by_test_id("approve")).to_have_count(0)  # the author cannot approve
    expect(page.get_by_test_id("notice")).to_contain_text("Injonction de retrait")
    order_url = page.url

    log_in(page, server_url, "approbateur.fr")
    page.goto(order_url)
    page.get_by_test_id("approve").click()
    expect(page.get_by_test_id("referral-status")).to_have_text("prêt à l’envoi")
    page.get_by_test_id("mark-sent").click()
    expect(page.get_by_test_id("referral-status")).to_have_text("envoyé")
    expect(page.get_by_test_id("referral-facts")).to_contain_text("Échéance")

    # The host opens the signed link of the notice and complains.
    notice = page.request.get(order_url + "/notice.txt").text()
    link = re.search(r"(http\S+/hote/\S+)", notice)
    assert link, notice
    case_url = page.get_by_role("link", name=re.compile("Retour au dossier")).get_attribute("href")
    page.context.clear_cookies()
    page.goto(link.group(1))
    form = page.get_by_test_id("complaint-form")
    form.get_by_label("Contester cette mesure").fill(
        "Reportage de presse sur un attentat, pas une apologie."
    )
    form.get_by_role("button", name="Envoyer la réclamation").click()
    expect(page.get_by_test_id("host-done")).to_be_visible()

    # Someone other than the analyst who decided answers the complaint.
    log_in(page, server_url, "approbateur.fr")
    page.goto(server_url + str(case_url))
    decision = page.get_by_test_id("complaint-decision")
    decision.get_by_label("décision maintenue").check()
    decision.get_by_label("Motivation").fill(
        "Le contenu appelle bien à la violence ; la mesure est maintenue."
    )
    decision.get_by_role("button", name="Statuer sur la réclamation").click()
    expect(page.get_by_test_id("complaint-outcome")).to_contain_text("décision maintenue")

    # The controller sees the figures of the period in the transparency report.
    log_in(page, server_url, "controleur.fr")
    page.get_by_role("link", name="Rapports").click()
    expect(page.locator("h1")).to_have_text("Rapport de transparence")
    # 3 demo images and the reported article; the article was decided in test_queue_flow.
    expect(page.get_by_test_id("figure-cases")).to_have_text("4")
    expect(page.get_by_test_id("figure-decisions")).to_have_text("2")
    expect(page.get_by_test_id("figure-sent")).to_have_text("1")
