"""Québec people read Québec usage where it differs from France's (« entente », « courriel »,
« Fermer la session »); French people read France's (« accord »); the rest is the same."""

from __future__ import annotations

from fastapi.testclient import TestClient

from passerelle.db.session import Database
from passerelle.exchange.signing import new_key_pair
from passerelle.services.exchange import add_partner
from tests.conftest import log_in
from tests.factories import make_agency, make_user


def _people(database: Database) -> None:
    with database.unit_of_work(write=True) as uow:
        make_agency(uow, code="unite-fr", jurisdiction="FR")
        make_agency(uow, code="unite-qc", jurisdiction="CA-QC")
        for code, name in (("unite-fr", "liaison.fr"), ("unite-qc", "liaison.qc")):
            make_user(uow, agency_code=code, username=name, roles=("liaison",))
            add_partner(
                uow,
                agency_id=uow.agencies.get_by_code(code).id,
                actor="test",
                code="partenaire",
                name="Partenaire",
                base_url="",
                public_key=new_key_pair("partenaire")[0],
                contact="",
            )
        make_user(uow, agency_code="unite-qc", username="english.qc", locale="en")
        uow.commit()


def test_a_quebec_person_reads_quebec_terms_and_a_french_person_french_ones(
    client: TestClient, sqlite_database: Database
) -> None:
    _people(sqlite_database)

    log_in(client, "liaison.qc")
    quebec = client.get("/partners").text
    assert '<html lang="fr-CA">' in quebec
    assert "Ententes" in quebec and "Aucune entente pour l’instant." in quebec
    assert "Fermer la session" in quebec
    assert "accord" not in quebec.lower()
    assert "Partenaires" in client.get("/partners").text  # the rest comes from French

    client.cookies.clear()
    log_in(client, "liaison.fr")
    french = client.get("/partners").text
    assert '<html lang="fr">' in french
    assert "Accords" in french and "Aucun accord pour l’instant." in french
    assert "Se déconnecter" in french
    assert "entente" not in french.lower()


def test_a_quebec_person_who_chose_english_reads_english(
    client: TestClient, sqlite_database: Database
) -> None:
    _people(sqlite_database)
    log_in(client, "english.qc")
    page = client.get("/").text
    assert '<html lang="en">' in page and "Log out" in page


def test_a_visitor_whose_browser_asks_for_quebec_french_reads_it(client: TestClient) -> None:
    quebec = client.get("/login", headers={"Accept-Language": "fr-CA,fr;q=0.8,en;q=0.5"}).text
    assert "Ouvrir une session" in quebec
    france = client.get("/login", headers={"Accept-Language": "fr-FR,fr;q=0.8"}).text
    assert "Se connecter" in france and "Ouvrir une session" not in france
