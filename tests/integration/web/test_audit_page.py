"""The audit log page reads in words: who did what, on what, when, with the details as
labelled fields; no action code and no JSON (those stay in the event's technical record)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from passerelle.db.session import Database
from passerelle.web.history import SENTENCES
from tests.conftest import log_in
from tests.factories import make_cases
from tests.shared import shared


def test_the_audit_log_shows_sentences_and_fields_not_codes_or_json(
    client: TestClient, sqlite_database: Database, agencies: dict[str, str]
) -> None:
    image = shared("pdq", "images", "aaa-orig.jpg").read_bytes()
    with sqlite_database.unit_of_work(write=True) as uow:
        (case,) = make_cases(uow, agency_code="agency-a", images=[image])
        uow.commit()
    log_in(client, "controller.a")
    page = client.get("/audit")
    assert page.status_code == 200
    table = page.text.split('data-testid="audit-table"')[1].split("</table>")[0]
    assert "Dossier ouvert" in table and "Personne ajoutée" in table and "Connexion" in table
    assert f'href="/cases/{case}"' in table  # the case the event is about, one click away
    assert "<dt>Rôles</dt>" in table  # details as labelled fields
    assert not [code for code in SENTENCES if code in table]
    assert not re.search(r"\{\s*&#34;|\{\"|&#34;:", table)

    event = re.search(r'href="(/audit/\d+)"', table)
    assert event
    record = client.get(event.group(1)).text
    assert 'data-testid="audit-sentence"' in record
    # The code and the JSON stay in the technical record only, for verifying the chain.
    before, technical = record.split('data-testid="audit-record"')
    assert not [code for code in SENTENCES if code in before]
    assert "<code>" in technical
