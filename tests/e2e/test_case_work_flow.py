"""In Debian's Chromium, on a demo of their own: a hold set after a removal order was prepared
blocks its approval; the host acknowledges through its link and the referral page shows it;
a liaison syncs now and the partner's entries arrive over HTTP between two real instances."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from passerelle.core.signals.pdq import PDQ
from tests.instances import (
    close_clients,
    decide_image,
    ensure_agreement,
    partner_bank,
    start,
    wire_partners,
)
from tests.servers import running_passerelle
from tests.shared import shared

DEMO_PASSWORD = "demo-passerelle"
RATIONALE = "Contenu de remplacement traité comme un appel à la violence (démo)."


@pytest.fixture(scope="module")
def own_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder: Path = tmp_path_factory.mktemp("own-demo")
    env = {"PASSERELLE_ENV": "dev", "PASSERELLE_DATA_DIR": str(folder / "var")}
    with running_passerelle(folder, "demo", env=env) as url:
        yield url


def log_in(page: Page, url: str, username: str, password: str = DEMO_PASSWORD) -> None:
    page.context.clear_cookies()
    page.goto(url + "/login")
    page.get_by_label("Identifiant").fill(username)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.locator("h1")).to_have_text("Tableau de bord")


def decide_first_image(page: Page, url: str, legal_basis: str) -> str:
    """Decide the first image case of the queue as terrorist content; the case's address."""
    page.goto(url + "/queue")
    page.locator("tr[data-case-url]").filter(has_text="image/jpeg").first.locator("a").click()
    case_url = page.url
    form = page.get_by_test_id("decision-form")
    form.get_by_label("contenu à caractère terroriste").check()
    form.get_by_label("Catégorie de l’art. 2(7), si contenu terroriste").select_option("a")
    form.get_by_label("Base légale, si contenu terroriste").select_option(legal_basis)
    form.get_by_label("J’ai vérifié les exemptions").check()
    form.get_by_label("Motivation").fill(RATIONALE)
    form.get_by_role("button", name="Enregistrer la décision").click()
    expect(page.get_by_test_id("verdict")).to_contain_text("contenu à caractère terroriste")
    return case_url


def test_a_hold_set_after_preparation_blocks_the_approval(page: Page, own_demo: str) -> None:
    log_in(page, own_demo, "analyste.fr")
    case_url = decide_first_image(page, own_demo, "fr_code_penal_421_2_5")
    referral = page.get_by_test_id("referral-form")
    referral.get_by_label("Préparer").select_option("tco_removal_order")
    referral.get_by_role("button", name="Préparer la notification").click()
    expect(page.get_by_test_id("referral-status")).to_have_text("en attente d’approbation")
    order_url = page.url

    log_in(page, own_demo, "approbateur.fr")
    page.goto(case_url)
    page.get_by_label("Laisser en ligne, sous observation — motif").fill(
        "Enquête en cours chez le partenaire : laisser en ligne (démo)."
    )
    page.get_by_test_id("observe").click()
    expect(page.get_by_test_id("own-hold")).to_be_visible()

    page.goto(order_url)
    with page.expect_response(lambda r: r.url.endswith("/approve")) as answer:
        page.get_by_test_id("approve").click()
    assert answer.value.status == 409
    expect(page.get_by_test_id("referral-problem")).to_contain_text("approbateur.fr")
    expect(page.get_by_test_id("referral-status")).to_have_text("en attente d’approbation")
    page.get_by_label("Passer outre la mise sous observation (approbateurs\u00a0; motif)").fill(
        "Retrait urgent décidé avec l’unité partenaire (démo)."
    )
    page.get_by_test_id("approve").click()
    expect(page.get_by_test_id("referral-status")).to_have_text("prêt à l’envoi")


def test_the_host_acknowledges_and_the_referral_page_shows_it(page: Page, own_demo: str) -> None:
    log_in(page, own_demo, "analyste.qc")  # the Québec unit has its own demo cases
    decide_first_image(page, own_demo, "ca_criminal_code_83_221")
    page.get_by_test_id("referral-form").get_by_role(
        "button", name="Préparer la notification"
    ).click()
    referral_url = page.url
    expect(page.get_by_test_id("acknowledged")).to_have_text("pas encore")
    link = re.search(r"(http\S+/hote/\S+)", page.get_by_test_id("notice").inner_text())
    assert link

    page.context.clear_cookies()
    page.goto(link.group(1))
    page.get_by_role("button", name=re.compile("Accuser réception")).click()
    expect(page.get_by_test_id("host-done")).to_be_visible()

    log_in(page, own_demo, "analyste.qc")
    page.goto(referral_url)
    expect(page.get_by_test_id("acknowledged")).to_have_text(
        re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC")
    )
    expect(page.get_by_test_id("referral-history")).to_contain_text(
        "L’hébergeur a accusé réception de la notification"
    )


def test_a_liaison_syncs_now_between_two_instances(
    page: Page, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from tests.factories import DEFAULT_PASSWORD

    tmp = tmp_path_factory.mktemp("sync-pair")
    with ExitStack() as stack:
        fr, qc = start(stack, tmp, "unite-fr", "FR"), start(stack, tmp, "unite-qc", "CA-QC")
        wire_partners(fr, qc)
        ensure_agreement(fr, qc)
        decide_image(fr, "aaa-orig.jpg", "a", "decisions")
        value = PDQ.compute(shared("pdq", "images", "aaa-orig.jpg").read_bytes()).value
        assert ("pdq", value) not in partner_bank(qc, fr.code)

        log_in(page, qc.url, "liaison.unite-qc", DEFAULT_PASSWORD)
        page.get_by_role("link", name="Partenaires").click()
        partner = page.get_by_test_id("partner-unite-fr")
        partner.get_by_test_id("sync-now").click()
        expect(page.get_by_test_id("sync-outcome")).to_contain_text("Synchronisé")
        expect(page.get_by_test_id("partner-unite-fr").get_by_test_id("sync-log")).to_contain_text(
            "entrées reçues"
        )
        assert partner_bank(qc, fr.code)[("pdq", value)] == "a"
        close_clients(fr, qc)
