"""`passerelle agency key`, `partner add|list|remove|receive`: keys, partners, file drop."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from passerelle.core.bank import EntryInput
from passerelle.core.taxonomy import Category, Labels
from passerelle.db.engine import make_engine
from passerelle.db.session import Database
from passerelle.exchange.signing import agency_key, seal
from passerelle.services.banks import add_entries, create_bank
from passerelle.services.exchange import answer_agreement, propose_agreement
from passerelle.settings import load_settings
from tests.cli_runner import Cli
from tests.factories import make_user

TERMS = {
    "purpose": "Échange par fichier entre unités",
    "categories": ["a"],
    "signal_types": ["pdq"],
    "retention_days": "30",
    "valid_from": "2026-01-01",
    "valid_until": "2027-12-31",
}


@pytest.fixture
def run(tmp_path: Path) -> Cli:
    runner = Cli({"PASSERELLE_ENV": "dev", "PASSERELLE_DATA_DIR": str(tmp_path / "var")})
    assert runner("db", "upgrade").exit_code == 0
    for code, jurisdiction in (("unite-fr", "FR"), ("unite-qc", "CA-QC")):
        assert (
            runner("agency", "add", code, "--name", code, "--jurisdiction", jurisdiction).exit_code
            == 0
        )
    return runner


def key_of(run: Cli, code: str) -> str:
    result = run("agency", "key", "--agency", code)
    assert result.exit_code == 0
    return result.output.strip()


def test_keys_partners_and_a_proposal_by_file_drop(run: Cli, tmp_path: Path) -> None:
    fr_key, qc_key = key_of(run, "unite-fr"), key_of(run, "unite-qc")
    assert len(fr_key) == 44 and fr_key != qc_key
    assert key_of(run, "unite-fr") == fr_key  # made once, at set-up
    added = run("partner", "add", "unite-qc", "--agency", "unite-fr", "--key", qc_key)
    assert added.output == "partner unite-qc added (file drop)\n"
    assert run("partner", "add", "unite-fr", "--agency", "unite-qc", "--key", fr_key).exit_code == 0
    again = run("partner", "add", "unite-qc", "--agency", "unite-fr", "--key", qc_key)
    assert again.exit_code == 2 and "already a partner" in again.output
    bad_key = run("partner", "add", "autre", "--agency", "unite-fr", "--key", "abc")
    assert bad_key.exit_code == 2 and "Ed25519 public key" in bad_key.output

    database = Database(make_engine(f"sqlite:///{tmp_path / 'var' / 'passerelle.db'}"))
    try:
        with database.unit_of_work(write=True) as uow:
            liaison = make_user(
                uow, agency_code="unite-fr", username="liaison.fr", roles=("liaison",)
            )
            partner = uow.exchange.partner_by_code(liaison.agency_id, "unite-qc")
            assert partner is not None
            _, document = propose_agreement(uow, viewer=liaison, partner_id=partner.id, terms=TERMS)
            key = agency_key(uow, liaison.agency_id, load_settings(env="dev").secret_key)[1]
            uow.commit()
    finally:
        database.dispose()
    signed = tmp_path / "accord.json"
    signed.write_bytes(seal(document, key))
    received = run("partner", "receive", str(signed))
    assert received.exit_code == 0, received.output
    assert received.output.endswith("from unite-fr: proposed\n")
    assert "unite-fr\tfile drop\tproposed" in run("partner", "list", "--agency", "unite-qc").output

    tampered = json.loads(signed.read_bytes())
    tampered["payload"] = tampered["payload"].replace("30", "99")
    forged = tmp_path / "faux.json"
    forged.write_text(json.dumps(tampered))
    refused = run("partner", "receive", str(forged))
    assert refused.exit_code == 2 and "does not verify" in refused.output
    garbage = tmp_path / "bonjour.json"
    garbage.write_text("bonjour")
    unreadable = run("partner", "receive", str(garbage))
    assert unreadable.exit_code == 2
    assert f"{garbage} is not a signed Passerelle document" in unreadable.output
    not_a_feed = run("partner", "import-feed", str(signed), "--agency", "unite-qc")
    assert not_a_feed.exit_code == 2 and "is not a signed Passerelle feed" in not_a_feed.output

    ended = run("partner", "remove", "unite-fr", "--agency", "unite-qc")
    assert ended.exit_code == 2 and "terminate the agreements" in ended.output

    # Québec accepts; the answer goes back by file too; then a feed, by file.
    database = Database(make_engine(f"sqlite:///{tmp_path / 'var' / 'passerelle.db'}"))
    secret = load_settings(env="dev").secret_key
    try:
        with database.unit_of_work(write=True) as uow:
            liaison_qc = make_user(
                uow, agency_code="unite-qc", username="liaison.qc", roles=("liaison",)
            )
            (agreement,) = uow.exchange.agreements(liaison_qc.agency_id)
            _, _, answer = answer_agreement(
                uow, viewer=liaison_qc, agreement_id=agreement.id, action="accept"
            )
            qc_key = agency_key(uow, liaison_qc.agency_id, secret)[1]
            uow.commit()
        with database.unit_of_work(write=True) as uow:
            create_bank(uow, agency_code="unite-fr", name="connu", actor="test")
            add_entries(
                uow,
                agency_code="unite-fr",
                bank_name="connu",
                actor="test",
                entries=[
                    EntryInput("pdq", "ab" * 32, Labels(category=Category.INCITES)),
                    EntryInput("pdq", "cd" * 32, Labels(category=Category.THREATENS)),
                ],
            )
            uow.commit()
    finally:
        database.dispose()
    reply = tmp_path / "reponse.json"
    reply.write_bytes(seal(answer, qc_key))
    assert run("partner", "receive", str(reply)).output.endswith("from unite-qc: active\n")
    feed = tmp_path / "flux.json"
    exported = run("partner", "export-feed", "unite-qc", "--agency", "unite-fr", "-o", str(feed))
    assert exported.exit_code == 0, exported.output
    imported = run("partner", "import-feed", str(feed), "--agency", "unite-qc")
    assert imported.output == "1 imported, 0 withdrawn from unite-fr\n"  # (e) stays home
    replayed = run("partner", "import-feed", str(feed), "--agency", "unite-qc")
    assert replayed.exit_code == 2 and "a replayed page" in replayed.output
