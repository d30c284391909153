"""In Debian's Chromium, on a demo of its own: after a decision the case page says it was
recorded and offers "Dossier suivant", which opens the next case of the queue as the analyst
last saw it (its order and filters kept)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.servers import running_passerelle


@pytest.fixture(scope="module")
def own_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder: Path = tmp_path_factory.mktemp("next-case-demo")
    env = {"PASSERELLE_ENV": "dev", "PASSERELLE_DATA_DIR": str(folder / "var")}
    with running_passerelle(folder, "demo", env=env) as url:
        yield url


def test_dossier_suivant_follows_the_queue_with_its_order_and_filters(
    page: Page, own_demo: str
) -> None:
    page.goto(own_demo + "/login")
    page.get_by_label("Identifiant").fill("analyste.fr")
    page.get_by_label("Mot de passe").fill("demo-passerelle")
    page.get_by_role("button", name="Se connecter").click()
    page.goto(own_demo + "/queue?sort=opened_asc&source=scan")
    rows = page.locator("tr[data-case-url]")
    expect(rows).to_have_count(3)
    shown = [rows.nth(i).get_attribute("data-case-url") for i in range(3)]
    assert all(shown)

    rows.first.locator("a").click()
    expect(page).to_have_url(re.compile(re.escape(str(shown[0])) + "$"))
    expect(page.get_by_test_id("next-case")).to_have_count(0)  # nothing decided yet
    form = page.get_by_test_id("decision-form")
    form.get_by_label("contenu à caractère terroriste").check()
    form.get_by_label("Catégorie de l’art. 2(7), si contenu terroriste").select_option("a")
    form.get_by_label("Base légale, si contenu terroriste").select_option("fr_code_penal_421_2_5")
    form.get_by_label("J’ai vérifié les exemptions").check()
    form.get_by_label("Motivation").fill("Contenu de remplacement traité comme un appel (démo).")
    form.get_by_role("button", name="Enregistrer la décision").click()

    expect(page.get_by_test_id("decision-saved")).to_contain_text("Décision enregistrée.")
    following = page.get_by_test_id("next-case")
    expect(following).to_have_text("Dossier suivant →")
    expect(following).to_be_focused()  # Enter goes on
    following.click()
    expect(page).to_have_url(re.compile(re.escape(str(shown[1])) + "$"))

    # A decided case offers it too, when the analyst comes back to it later.
    first = str(shown[0])
    page.goto(first if first.startswith("http") else own_demo + first)
    expect(page.get_by_test_id("decision-saved")).to_have_count(0)
    page.get_by_test_id("next-case").click()
    expect(page).to_have_url(re.compile(re.escape(str(shown[1])) + "$"))
