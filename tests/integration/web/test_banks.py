"""Banks in the console, route by route and role by role: the list with counts and markings,
entries searched and paged, added by value and by file, imported and exported in every
format, withdrawn with a reason and reinstated; partner banks read-only, nothing across
agencies, every change audited and followed by the bank generation."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from passerelle.core.bank import BankKind, BankOrigin, EntryInput, NewEntry, partner_note
from passerelle.core.marking import Distribution, Tlp
from passerelle.core.signals import Signal
from passerelle.core.signals.digests import MD5, SHA256
from passerelle.core.signals.pdq import PDQ
from passerelle.core.signals.url import URL
from passerelle.core.taxonomy import Category, Labels, Tier
from passerelle.db.models import AuditEventRow, BankWithdrawalRow
from passerelle.db.session import Database
from passerelle.services.banks import add_entries, create_bank
from passerelle.storage.content_store import EncryptedContentStore
from passerelle.web.limits import BodyLimits
from tests.conftest import log_in
from tests.shared import shared
from tests.videos import make_video

KNOWN = Labels(category=Category.INCITES, tier=Tier.PROMOTIONAL, tags=frozenset({"stand-in"}))


def _md5(number: int) -> str:
    return MD5.compute(f"contenu neutre {number}".encode()).value


def _sha(number: int) -> str:
    return SHA256.compute(f"contenu neutre {number}".encode()).value


@pytest.fixture
def banks(sqlite_database: Database, agencies: dict[str, str]) -> dict[str, str]:
    """Agency A: `connu` (own, 30 md5 entries, 2 sha256, one url, marked in several ways)
    and `partner-qc` (a partner's, one entry); agency B: its own `connu`. Bank ids by key."""
    with sqlite_database.unit_of_work(write=True) as uow:
        own = create_bank(uow, agency_code="agency-a", name="connu", actor="test")
        add_entries(
            uow,
            agency_code="agency-a",
            bank_name="connu",
            entries=[EntryInput("md5", _md5(n), KNOWN if n % 2 else Labels()) for n in range(30)]
            + [
                EntryInput("sha256", _sha(1), KNOWN, tlp=Tlp.GREEN),
                EntryInput("sha256", _sha(2), KNOWN, tlp=Tlp.RED),
                EntryInput("url", "https://exemple.test/page?utm_source=x", KNOWN),
            ],
            actor="test",
        )
        partner = uow.banks.add(
            agency_id=agencies["a"],
            name="partner-qc",
            kind=BankKind.POSITIVE,
            origin=BankOrigin.PARTNER,
            description="reçu de l’unité partenaire",
            thresholds={},
        )
        uow.banks.add_entries(
            partner.id,
            [
                NewEntry(
                    Signal("md5", _md5(99)),
                    KNOWN,
                    note=partner_note("unite-qc", "2026-11-30"),
                    provenance="partner unite-qc, agreement x",
                    expires_at=datetime.now(UTC) + timedelta(days=30),
                    tlp=Tlp.AMBER,
                    distribution=Distribution.AGREEMENT,
                )
            ],
        )
        other = create_bank(uow, agency_code="agency-b", name="connu", actor="test")
        add_entries(
            uow,
            agency_code="agency-b",
            bank_name="connu",
            entries=[EntryInput("md5", _md5(500))],
            actor="test",
        )
        uow.commit()
    return {"own": own.id, "partner": partner.id, "other": other.id}


def _generation(database: Database) -> int:
    with database.unit_of_work() as uow:
        return uow.banks.generation()


def _values(database: Database, bank_id: str) -> set[tuple[str, str]]:
    with database.unit_of_work() as uow:
        return {(e.signal.type, e.signal.value) for e in uow.banks.entries([bank_id])}


def _audit_actions(database: Database) -> list[str]:
    with database.unit_of_work() as uow:
        return list(uow.session.scalars(select(AuditEventRow.action).order_by(AuditEventRow.seq)))


# --- the list and the entries -----------------------------------------------------------------


@pytest.mark.parametrize("role", ["analyst", "approver", "controller", "liaison", "admin"])
def test_every_role_of_the_unit_reads_its_banks_and_only_them(
    client: TestClient, banks: dict[str, str], role: str
) -> None:
    log_in(client, f"{role}.a")
    page = client.get("/banks")
    assert page.status_code == 200
    assert f"/banks/{banks['own']}" in page.text and f"/banks/{banks['partner']}" in page.text
    assert f"/banks/{banks['other']}" not in page.text
    # counts per signal type, and the markings of the entries
    assert "md5 30" in page.text and "sha256 2" in page.text and "url 1" in page.text
    assert "TLP:GREEN" in page.text and "TLP:RED" in page.text and "TLP:AMBER" in page.text
    assert client.get(f"/banks/{banks['own']}").status_code == 200
    assert client.get(f"/banks/{banks['other']}").status_code == 404
    assert 'href="/banks"' in client.get("/").text  # the menu entry is a link now


def test_entries_are_paged_by_keyset_without_loss_or_repeat(
    client: TestClient, banks: dict[str, str]
) -> None:
    log_in(client, "analyst.a")
    seen: list[str] = []
    path = f"/banks/{banks['own']}?size=25&type=md5"
    pages = 0
    while path:
        page = client.get(path)
        assert page.status_code == 200
        seen += re.findall(r'data-testid="entry-value">([0-9a-f]+)<', page.text)
        found = re.search(r'href="([^"]+)" rel="next"', page.text)
        path = found.group(1).replace("&amp;", "&") if found else ""
        assert "type=md5" in path or not path  # the filters are kept from page to page
        pages += 1
    assert pages == 2
    assert sorted(seen) == sorted(_md5(n) for n in range(30))


def test_entries_are_found_by_prefix_type_label_address_and_state(
    client: TestClient, banks: dict[str, str]
) -> None:
    log_in(client, "controller.a")
    own = f"/banks/{banks['own']}"

    def values(**params: str) -> set[str]:
        page = client.get(own, params=params)
        assert page.status_code == 200, page.text
        return set(re.findall(r'data-testid="entry-value">([0-9a-f]+)<', page.text))

    assert values(q=_md5(7)[:6].upper()) == {_md5(7)}
    assert values(type="sha256") == {_sha(1), _sha(2)}
    assert values(type="md5", category="a") == {_md5(n) for n in range(1, 30, 2)}
    assert values(tag="stand-in", type="md5", tier="promotional") == {
        _md5(n) for n in range(1, 30, 2)
    }
    address = "https://EXEMPLE.test/page?utm_source=y"  # the same page, canonically
    assert values(q=address) == {URL.parse(address).value}
    assert values(state="withdrawn") == set()
    assert values(state="expired") == set()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"q": "xyz"}, "chiffres hexadécimaux"),
        ({"type": "sha1"}, "type d’empreinte inconnu"),
        ({"state": "gone"}, "état inconnu"),
        ({"category": "z"}, "catégorie inconnue"),
        ({"after": "not-a-cursor"}, "lien de page est abîmé"),
        ({"size": "7"}, "25, 50, 100 ou 200"),
    ],
)
def test_a_bad_search_is_refused_in_french_next_to_the_form(
    client: TestClient, banks: dict[str, str], params: dict[str, str], message: str
) -> None:
    log_in(client, "analyst.a")
    page = client.get(f"/banks/{banks['own']}", params=params)
    assert page.status_code == 422
    assert message in page.text
    assert 'data-testid="problem-search"' in page.text


# --- adding -----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["analyst", "approver", "admin"])
def test_adders_add_a_signal_by_value_audited_and_matched(
    client: TestClient, sqlite_database: Database, banks: dict[str, str], role: str
) -> None:
    csrf = log_in(client, f"{role}.a")
    before = _generation(sqlite_database)
    image = PDQ.compute(shared("pdq", "images", "aaa-orig.jpg").read_bytes()).value
    answer = client.post(
        f"/banks/{banks['own']}/entries",
        data={
            "csrf_token": csrf,
            "signal_type": "pdq",
            "value": image.upper(),
            "category": "a",
            "tier": "crisis",
            "tags": "stand-in, test",
            "note": "image de test publique",
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    assert ("pdq", image) in _values(sqlite_database, banks["own"])
    assert _generation(sqlite_database) > before  # the matcher follows
    assert _audit_actions(sqlite_database)[-1] == "bank.entries_added"
    found = client.get(f"/banks/{banks['own']}", params={"q": image[:10]}).text
    assert image in found and "image de test publique" in found


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"signal_type": "pdq", "value": "zz" * 32}, "64 chiffres hexadécimaux"),
        ({"signal_type": "md5", "value": "abc"}, "32 chiffres hexadécimaux"),
        ({"signal_type": "sha1", "value": "ab" * 20}, "type d’empreinte inconnu"),
        ({"signal_type": "url", "value": "ftp://exemple.test/x"}, "http et https"),
        ({"signal_type": "text", "value": "trop court"}, "trop court"),
        ({"signal_type": "md5", "value": ""}, "choisissez un type d’empreinte"),
        ({"signal_type": "md5", "value": _md5(1000), "category": "z"}, "catégorie inconnue"),
    ],
)
def test_a_bad_value_is_refused_with_the_signal_types_reason(
    client: TestClient,
    sqlite_database: Database,
    banks: dict[str, str],
    form: dict[str, str],
    message: str,
) -> None:
    csrf = log_in(client, "analyst.a")
    before = _values(sqlite_database, banks["own"])
    answer = client.post(f"/banks/{banks['own']}/entries", data={"csrf_token": csrf} | form)
    assert answer.status_code == 422
    assert message in answer.text
    assert 'data-testid="problem-add"' in answer.text
    assert _values(sqlite_database, banks["own"]) == before


def test_partner_banks_are_read_only_and_readers_cannot_add(
    client: TestClient, sqlite_database: Database, banks: dict[str, str]
) -> None:
    csrf = log_in(client, "admin.a")
    form = {"csrf_token": csrf, "signal_type": "md5", "value": _md5(1001)}
    page = client.get(f"/banks/{banks['partner']}").text
    assert 'data-testid="read-only"' in page and 'data-testid="add-value"' not in page
    # The note the entry came with, in the reader's language.
    assert "décidé par unite-qc le 2026-11-30" in page and "decided by" not in page
    assert 'data-testid="withdraw-form"' not in page
    assert client.post(f"/banks/{banks['partner']}/entries", data=form).status_code == 403
    entry = next(iter(_values(sqlite_database, banks["partner"])))
    with sqlite_database.unit_of_work() as uow:
        (listed,) = list(uow.banks.entries([banks["partner"]]))
    withdraw = client.post(
        f"/banks/{banks['partner']}/entries/{listed.id}/withdraw",
        data={"csrf_token": csrf, "reason": "Essai de retrait d’une entrée reçue."},
    )
    assert withdraw.status_code == 403
    assert entry in _values(sqlite_database, banks["partner"])
    client.cookies.clear()
    csrf = log_in(client, "controller.a")
    page = client.get(f"/banks/{banks['own']}").text
    assert 'data-testid="read-only"' in page and 'data-testid="add-value"' not in page
    answer = client.post(
        f"/banks/{banks['own']}/entries",
        data={"csrf_token": csrf, "signal_type": "md5", "value": _md5(1001)},
    )
    assert answer.status_code == 403
    assert ("md5", _md5(1001)) not in _values(sqlite_database, banks["own"])
    # and nothing without the CSRF token
    client.cookies.clear()
    log_in(client, "admin.a")
    no_token = client.post(
        f"/banks/{banks['own']}/entries", data={"signal_type": "md5", "value": _md5(1002)}
    )
    assert no_token.status_code == 403
    assert ("md5", _md5(1002)) not in _values(sqlite_database, banks["own"])


def test_a_file_adds_its_fingerprints_and_is_not_kept(
    client: TestClient,
    sqlite_database: Database,
    banks: dict[str, str],
    store: EncryptedContentStore,
    settings: object,
) -> None:
    csrf = log_in(client, "approver.a")
    image = shared("pdq", "images", "aaa-orig.jpg").read_bytes()
    answer = client.post(
        f"/banks/{banks['own']}/file",
        data={"csrf_token": csrf, "category": "a", "tags": "stand-in"},
        files={"file": ("pont.jpg", image, "image/jpeg")},
        follow_redirects=False,
    )
    assert answer.status_code == 200, answer.text
    assert "3 entrées ajoutées" in answer.text
    held = _values(sqlite_database, banks["own"])
    assert ("sha256", SHA256.compute(image).value) in held
    assert ("md5", MD5.compute(image).value) in held
    assert ("pdq", PDQ.compute(image).value) in held
    assert not store.has(SHA256.compute(image).value)  # the upload itself is never kept
    video = make_video(3)
    answer = client.post(
        f"/banks/{banks['own']}/file",
        data={"csrf_token": csrf},
        files={"file": ("clip.mp4", video, "video/mp4")},
    )
    assert answer.status_code == 200, answer.text
    with sqlite_database.unit_of_work() as uow:
        kinds = {e.signal.type for e in uow.banks.entries([banks["own"]])}
    assert "vpdq" in kinds


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("vide.jpg", b"", "le fichier est vide"),
        (
            "abime.mp4",
            b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 200,
            "abime.mp4\u00a0: pas d’empreinte vpdq\u00a0: ",
        ),
        (
            "photo.heic",
            b"\x00\x00\x00\x18ftypheicmif1heic" + b"\x00" * 64,
            "photo.heic\u00a0: pas d’empreinte pdq\u00a0: les images image/heic ne peuvent pas"
            " être décodées ici (HEIF/HEIC)\u00a0; convertissez-la en JPEG",
        ),
    ],
)
def test_a_bad_file_is_refused(
    client: TestClient,
    sqlite_database: Database,
    banks: dict[str, str],
    name: str,
    data: bytes,
    message: str,
) -> None:
    csrf = log_in(client, "analyst.a")
    before = _values(sqlite_database, banks["own"])
    answer = client.post(
        f"/banks/{banks['own']}/file",
        data={"csrf_token": csrf},
        files={"file": (name, data, "application/octet-stream")},
    )
    assert answer.status_code == 422
    assert message in answer.text
    assert _values(sqlite_database, banks["own"]) == before


def test_an_upload_over_the_limit_is_refused_before_it_is_read(
    client: TestClient, sqlite_database: Database, banks: dict[str, str]
) -> None:
    csrf = log_in(client, "admin.a")
    too_big = b"md5 " + b"0" * BodyLimits().upload
    for route in ("file", "import"):
        answer = client.post(
            f"/banks/{banks['own']}/{route}",
            data={"csrf_token": csrf},
            files={"file": ("gros.txt", too_big, "text/plain")},
        )
        assert answer.status_code == 413


# --- import and export ------------------------------------------------------------------------


def test_an_import_keeps_the_good_lines_and_lists_each_bad_one(
    client: TestClient, sqlite_database: Database, banks: dict[str, str]
) -> None:
    csrf = log_in(client, "admin.a")
    text = (
        "signal_type,value,category,tier,tags,note\n"
        f"md5,{_md5(2001)},a,crisis,stand-in,\n"
        "md5,pas-un-hash,,,,\n"
        f"pdq,{'0' * 63},,,,\n"
        f"sha256,{_sha(2002)},z,,,\n"
        f"md5,{_md5(2003)},,,,\n"
    )
    before = _generation(sqlite_database)
    answer = client.post(
        f"/banks/{banks['own']}/import",
        data={"csrf_token": csrf, "tlp": "green"},
        files={"file": ("lot.csv", text.encode(), "text/csv")},
    )
    assert answer.status_code == 200, answer.text
    assert "2 entrées ajoutées" in answer.text and "3 refusées" in answer.text
    errors = re.findall(r"<li class=\"wrap\"><code>([^<]+)</code>", answer.text)
    # each refused line, by its number, with the signal type's own reason, in French
    assert [re.match(r"ligne (\d+)\u00a0: ", e).group(1) for e in errors] == ["3", "4", "5"]  # type: ignore[union-attr]
    assert "32 chiffres hexadécimaux" in errors[0] and "64 chiffres hexadécimaux" in errors[1]
    assert "catégorie inconnue" in errors[2]
    held = _values(sqlite_database, banks["own"])
    assert ("md5", _md5(2001)) in held and ("md5", _md5(2003)) in held
    assert _generation(sqlite_database) > before
    with sqlite_database.unit_of_work() as uow:
        marked = {e.signal.value: e.tlp for e in uow.banks.entries([banks["own"]])}
    assert marked[_md5(2001)] is Tlp.GREEN  # `tlp` marks them at least that strictly


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("lot.json", b'{"type": "bundle", "objects": [', "JSON"),
        ("evenement.json", b'{"Event": {"Attribute": [{"type": "md5"', "JSON"),
        ("lot.csv", b"signal_type,value\n\xff\xfe\x00", "UTF-8"),
        ("lot.csv", b"", "le fichier est vide"),
    ],
)
def test_a_corrupt_file_is_refused_and_nothing_changes(
    client: TestClient,
    sqlite_database: Database,
    banks: dict[str, str],
    name: str,
    data: bytes,
    message: str,
) -> None:
    csrf = log_in(client, "admin.a")
    before = _values(sqlite_database, banks["own"])
    answer = client.post(
        f"/banks/{banks['own']}/import",
        data={"csrf_token": csrf},
        files={"file": (name, data, "application/octet-stream")},
    )
    assert answer.status_code == 422, answer.text
    assert message in answer.text
    assert _values(sqlite_database, banks["own"]) == before


def test_a_stix_bundle_with_a_bad_indicator_keeps_the_others(
    client: TestClient, sqlite_database: Database, banks: dict[str, str]
) -> None:
    csrf = log_in(client, "admin.a")
    good = _md5(3001)
    bundle = {
        "type": "bundle",
        "id": "bundle--6f1f5c3e-4a57-4f5e-9b0c-2f7a0c9e1d12",
        "objects": [
            {
                "type": "indicator",
                "spec_version": "2.1",
                "id": "indicator--6f1f5c3e-4a57-4f5e-9b0c-2f7a0c9e1d13",
                "pattern": f"[file:hashes.MD5 = '{good}']",
                "pattern_type": "stix",
            },
            {
                "type": "indicator",
                "spec_version": "2.1",
                "id": "indicator--6f1f5c3e-4a57-4f5e-9b0c-2f7a0c9e1d14",
                "pattern": "[file:hashes.MD5 = 'pas-un-hash']",
                "pattern_type": "stix",
            },
        ],
    }
    answer = client.post(
        f"/banks/{banks['own']}/import",
        data={"csrf_token": csrf, "format": "stix"},
        files={"file": ("lot.json", json.dumps(bundle).encode(), "application/json")},
    )
    assert answer.status_code == 200, answer.text
    assert "ligne 2\u00a0: md5\u00a0: 32 chiffres hexadécimaux attendus" in answer.text
    assert ("md5", good) in _values(sqlite_database, banks["own"])


@pytest.mark.parametrize("fmt", ["csv", "stix", "misp", "pytx"])
def test_an_export_imported_again_gives_the_same_entries(
    client: TestClient, sqlite_database: Database, banks: dict[str, str], fmt: str
) -> None:
    csrf = log_in(client, "admin.a")
    with sqlite_database.unit_of_work(write=True) as uow:
        copy = create_bank(uow, agency_code="agency-a", name="copie", actor="test")
        uow.commit()
    # pytx carries no marking: the RED entry stays out of an AMBER file, as with the CLI
    tlp = "amber" if fmt == "pytx" else ""
    exported = client.get(f"/banks/{banks['own']}/export", params={"format": fmt, "tlp": tlp})
    assert exported.status_code == 200
    assert "attachment" in exported.headers["content-disposition"]
    answer = client.post(
        f"/banks/{copy.id}/import",
        data={"csrf_token": csrf, "format": fmt},
        files={"file": (f"connu.{fmt}", exported.content, "application/octet-stream")},
    )
    assert answer.status_code == 200, answer.text
    with sqlite_database.unit_of_work() as uow:
        original = {(e.signal.type, e.signal.value): e for e in uow.banks.entries([banks["own"]])}
        again = {(e.signal.type, e.signal.value): e for e in uow.banks.entries([copy.id])}
    if fmt == "pytx":
        original = {k: v for k, v in original.items() if v.tlp is not Tlp.RED}
        assert set(again) == set(original)
        return
    assert set(again) == set(original)
    for key, entry in original.items():
        assert again[key].labels == entry.labels
        # never laxer than it left: unmarked entries leave as AMBER
        assert again[key].tlp == (entry.tlp or Tlp.AMBER)


def test_an_export_never_widens_a_marking(client: TestClient, banks: dict[str, str]) -> None:
    log_in(client, "liaison.a")
    rows = list(
        csv.DictReader(
            io.StringIO(
                client.get(
                    f"/banks/{banks['own']}/export", params={"format": "csv", "tlp": "amber"}
                ).text
            )
        )
    )
    marking = {r["value"]: r["tlp"] for r in rows}
    assert marking[_sha(1)] == "amber"  # GREEN raised to the floor asked
    assert marking[_sha(2)] == "red"  # RED stays RED
    assert {r["tlp"] for r in rows} <= {"amber", "red"}
    bad = client.get(f"/banks/{banks['own']}/export", params={"format": "xml"})
    assert bad.status_code == 422 and "format inconnu" in bad.text
    assert client.get(f"/banks/{banks['other']}/export").status_code == 404


def test_analysts_cannot_import(
    client: TestClient, sqlite_database: Database, banks: dict[str, str]
) -> None:
    csrf = log_in(client, "analyst.a")
    page = client.get(f"/banks/{banks['own']}").text
    assert 'data-testid="add-value"' in page and 'data-testid="import"' not in page
    answer = client.post(
        f"/banks/{banks['own']}/import",
        data={"csrf_token": csrf},
        files={"file": ("lot.txt", f"md5 {_md5(4001)}\n".encode(), "text/plain")},
    )
    assert answer.status_code == 403
    assert ("md5", _md5(4001)) not in _values(sqlite_database, banks["own"])


# --- withdrawing ------------------------------------------------------------------------------


def test_an_administrator_withdraws_with_a_reason_and_reinstates(
    client: TestClient, sqlite_database: Database, banks: dict[str, str]
) -> None:
    csrf = log_in(client, "admin.a")
    with sqlite_database.unit_of_work() as uow:
        entry = next(e for e in uow.banks.entries([banks["own"]]) if e.signal.value == _sha(1))
    short = client.post(
        f"/banks/{banks['own']}/entries/{entry.id}/withdraw",
        data={"csrf_token": csrf, "reason": "non"},
    )
    assert short.status_code == 422 and "raison du retrait" in short.text
    before = _generation(sqlite_database)
    reason = "Ajoutée par erreur : ce n’est pas le contenu connu."
    done = client.post(
        f"/banks/{banks['own']}/entries/{entry.id}/withdraw",
        data={"csrf_token": csrf, "reason": reason},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert ("sha256", _sha(1)) not in _values(sqlite_database, banks["own"])
    assert _generation(sqlite_database) > before
    assert _audit_actions(sqlite_database)[-1] == "bank.entry_withdrawn"
    with sqlite_database.unit_of_work() as uow:
        event = uow.session.scalars(
            select(AuditEventRow).order_by(AuditEventRow.seq.desc()).limit(1)
        ).one()
        assert reason in event.details_json
    withdrawn = client.get(f"/banks/{banks['own']}", params={"state": "withdrawn"}).text
    assert _sha(1) in withdrawn and "Ajoutée par erreur" in withdrawn
    live = client.get(f"/banks/{banks['own']}", params={"q": _sha(1)}).text
    assert _sha(1) not in live.split("entries-table")[1]
    again = client.post(
        f"/banks/{banks['own']}/entries/{entry.id}/withdraw",
        data={"csrf_token": csrf, "reason": reason},
    )
    assert again.status_code == 404  # gone already
    with sqlite_database.unit_of_work() as uow:
        withdrawal = uow.session.scalars(select(BankWithdrawalRow.id)).one()
    back = client.post(
        f"/banks/{banks['own']}/withdrawals/{withdrawal}/reinstate",
        data={"csrf_token": csrf},
        follow_redirects=False,
    )
    assert back.status_code == 303
    with sqlite_database.unit_of_work() as uow:
        restored = next(e for e in uow.banks.entries([banks["own"]]) if e.signal.value == _sha(1))
    assert restored.tlp is Tlp.GREEN and restored.labels == entry.labels
    assert _audit_actions(sqlite_database)[-1] == "bank.entry_reinstated"
    twice = client.post(
        f"/banks/{banks['own']}/withdrawals/{withdrawal}/reinstate", data={"csrf_token": csrf}
    )
    assert twice.status_code == 409


@pytest.mark.parametrize("role", ["analyst", "approver", "controller", "liaison"])
def test_only_administrators_withdraw(
    client: TestClient, sqlite_database: Database, banks: dict[str, str], role: str
) -> None:
    csrf = log_in(client, f"{role}.a")
    with sqlite_database.unit_of_work() as uow:
        entry = next(iter(uow.banks.entries([banks["own"]])))
    answer = client.post(
        f"/banks/{banks['own']}/entries/{entry.id}/withdraw",
        data={"csrf_token": csrf, "reason": "Une raison bien assez longue."},
    )
    assert answer.status_code == 403
    assert (entry.signal.type, entry.signal.value) in _values(sqlite_database, banks["own"])
    with sqlite_database.unit_of_work() as uow:
        assert uow.session.scalar(select(func.count()).select_from(BankWithdrawalRow)) == 0


def test_out_of_range_paging_is_422_not_500(client: TestClient, banks: dict[str, str]) -> None:
    log_in(client, "analyst.a")
    for params in ({"size": "99999999999999999999"}, {"size": "0"}, {"q": "a" * 3000}):
        assert client.get(f"/banks/{banks['own']}", params=params).status_code == 422


def test_the_matcher_follows_what_the_console_adds_and_withdraws(
    client: TestClient, sqlite_database: Database, banks: dict[str, str]
) -> None:
    from passerelle.services.auth import create_api_token

    with sqlite_database.unit_of_work(write=True) as uow:
        found = uow.users.find_credentials("analyst.a")
        assert found is not None
        _, token = create_api_token(uow, user=found.user, name="match")
        uow.commit()
    fresh = _md5(5001)
    state = client.app.state.passerelle  # type: ignore[attr-defined]

    def matches() -> list[str]:
        state.matchers._period = 0.0  # the next request looks at the generation again
        answer = client.post(
            "/api/v1/match",
            json={"signals": [{"type": "md5", "value": fresh}]},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert answer.status_code == 200, answer.text
        return [m["value"] for m in answer.json()["results"][0]["matches"]]

    assert matches() == []
    csrf = log_in(client, "admin.a")
    client.post(
        f"/banks/{banks['own']}/entries",
        data={"csrf_token": csrf, "signal_type": "md5", "value": fresh},
    )
    assert matches() == [fresh]
    with sqlite_database.unit_of_work() as uow:
        entry = next(e for e in list(uow.banks.entries([banks["own"]])) if e.signal.value == fresh)
    client.post(
        f"/banks/{banks['own']}/entries/{entry.id}/withdraw",
        data={"csrf_token": csrf, "reason": "Retirée pour vérifier le matcher."},
    )
    assert matches() == []
