"""Working a case in the console: what the public said, notices with their time of issue
and deadline, holds after preparation, what the host did, second measures, notes, and the
refusals a person reads in French."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from fastapi.testclient import TestClient

from passerelle.db.session import Database
from passerelle.services.public import submit_public_report
from passerelle.settings import Settings
from passerelle.web.app import create_app
from tests.conftest import csrf_of, log_in
from tests.integration.web.conftest import RATIONALE, decide, set_observation_hold

REASON = "Coordonné avec l’unité partenaire : retrait demandé par une autre voie."


def prepare(client: TestClient, token: str, case: str, kind: str, **extra: str) -> str:
    answer = client.post(
        f"/cases/{case}/referrals",
        data={"csrf_token": token, "kind": kind} | extra,
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text[:800]
    return answer.headers["location"].rsplit("/", 1)[1]


def referral_row(database: Database, referral_id: str):  # type: ignore[no-untyped-def]
    with database.unit_of_work() as uow:
        agency = uow.agencies.get_by_code("agency-a")
        return uow.referrals.get(agency.id, referral_id)


# --- 2. what the public said ----------------------------------------------------------------


def test_every_public_report_of_an_address_shows_on_its_case_escaped(
    settings: Settings, sqlite_database: Database, agencies: dict[str, str]
) -> None:
    references = []
    with sqlite_database.unit_of_work(write=True) as uow:
        for category, text in (
            ("a", "Appel à commettre des attentats <script>alert(1)</script>"),
            ("", "Vidéo de revendication vue sur ce site."),
        ):
            references.append(
                submit_public_report(
                    uow,
                    agency_code="agency-a",
                    url="https://exemple.test/page",
                    category=category,
                    description=text,
                    source_hash="test",
                    per_hour=10,
                )
            )
        agency = uow.agencies.get_by_code("agency-a")
        found = uow.queue.find_item(agency.id, *([_url_hash("https://exemple.test/page")] * 2))
        assert found is not None and found.case_id is not None
        case = found.case_id
        uow.commit()
    with TestClient(create_app(settings, sqlite_database), base_url="https://testserver") as web:
        log_in(web, "analyst.a")
        page = web.get(f"/cases/{case}").text
    assert page.count('data-testid="public-report"') == 2
    for reference in references:
        assert reference in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
    assert "Vidéo de revendication" in page
    assert "incite à commettre des infractions terroristes" in page  # the category, in words
    assert "aucune catégorie indiquée" in page
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", page)


def _url_hash(url: str) -> str:
    from passerelle.core.signals.url import URL

    return URL.compute(url).value


# --- 3. the notice's time of issue and deadline -----------------------------------------------


def test_the_downloaded_notice_carries_its_deadline_and_marking_it_sent_records_that_time(
    client: TestClient, sqlite_database: Database, case_id: str
) -> None:
    token = log_in(client, "analyst.a")
    decide(client, token, case_id)
    referral_id = prepare(client, token, case_id, "fr_admin_request")  # 24 h, no approval
    page = client.get(f"/referrals/{referral_id}").text
    issued = re.search(r'name="issued" value="([^"]+)"', page)
    assert issued is not None
    link = re.search(r'href="(/referrals/[^"]+/notice\.json\?issued=[^"]+)"', page)
    assert link is not None
    notice = client.get(link.group(1).replace("&amp;", "&")).json()
    moment = datetime.strptime(issued.group(1), "%Y-%m-%dT%H:%M").replace(tzinfo=UTC)
    assert notice["issued"] == moment.strftime("%Y-%m-%d %H:%M")
    assert notice["deadline"] == (moment + timedelta(hours=24)).strftime("%Y-%m-%d %H:%M")
    assert "rationale" not in notice and RATIONALE not in str(notice)  # internal, stays here
    assert "incite à commettre des infractions terroristes" in notice["statement"]
    sent = client.post(
        f"/referrals/{referral_id}/sent",
        data={"csrf_token": token, "issued": issued.group(1)},
        follow_redirects=False,
    )
    assert sent.status_code == 303
    recorded = referral_row(sqlite_database, referral_id)
    assert recorded.sent_at == moment
    assert recorded.deadline_at == moment + timedelta(hours=24)
    after = client.get(link.group(1).split("?")[0]).json()
    assert after["issued"] == notice["issued"] and after["deadline"] == notice["deadline"]


def test_a_stale_time_of_issue_is_refused(
    client: TestClient, sqlite_database: Database, case_id: str
) -> None:
    token = log_in(client, "analyst.a")
    decide(client, token, case_id)
    referral_id = prepare(client, token, case_id, "fr_admin_request")
    old = (datetime.now(UTC) - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    refused = client.post(
        f"/referrals/{referral_id}/sent", data={"csrf_token": token, "issued": old}
    )
    assert refused.status_code == 422
    assert "téléchargez-la à nouveau" in refused.text
    assert referral_row(sqlite_database, referral_id).sent_at is None


# --- 4. a hold set after preparation ----------------------------------------------------------


def test_a_hold_set_after_an_order_was_prepared_blocks_approval_and_sending(
    client: TestClient, sqlite_database: Database, case_id: str
) -> None:
    token = log_in(client, "analyst.a")
    decide(client, token, case_id)
    order = prepare(client, token, case_id, "tco_removal_order")
    client.cookies.clear()
    token = log_in(client, "liaison.a")
    set_observation_hold(
        client, token, case_id, "Enquête en cours chez le partenaire, laisser en ligne."
    )
    client.cookies.clear()
    token = log_in(client, "approver.a")
    blocked = client.post(f"/referrals/{order}/approve", data={"csrf_token": token})
    assert blocked.status_code == 409
    assert "liaison.a" in blocked.text  # the holder's name
    assert 'data-testid="referral-problem"' in blocked.text
    assert referral_row(sqlite_database, order).status.value == "awaiting_approval"
    approved = client.post(
        f"/referrals/{order}/approve",
        data={"csrf_token": token, "override": REASON},
        follow_redirects=False,
    )
    assert approved.status_code == 303
    assert referral_row(sqlite_database, order).status.value == "ready"
    # The hold overridden at approval does not block sending; a new hold would.
    client.cookies.clear()
    token = log_in(client, "analyst.a")
    issued = re.search(r'name="issued" value="([^"]+)"', client.get(f"/referrals/{order}").text)
    assert issued is not None
    sent = client.post(
        f"/referrals/{order}/sent",
        data={"csrf_token": token, "issued": issued.group(1)},
        follow_redirects=False,
    )
    assert sent.status_code == 303
    with sqlite_database.unit_of_work() as uow:
        overridden = [e for e in uow.audit.iter_all() if e.action == "referral.hold_overridden"]
    assert overridden and overridden[0].actor == "approver.a"


def test_a_hold_set_after_approval_blocks_sending(
    client: TestClient, sqlite_database: Database, case_id: str
) -> None:
    token = log_in(client, "analyst.a")
    decide(client, token, case_id)
    referral_id = prepare(client, token, case_id, "referral")
    client.cookies.clear()
    token = log_in(client, "approver.a")
    set_observation_hold(
        client, token, case_id, "Enquête en cours, laisser en ligne pour l’instant."
    )
    client.cookies.clear()
    token = log_in(client, "analyst.a")
    page = client.get(f"/referrals/{referral_id}").text
    issued = re.search(r'name="issued" value="([^"]+)"', page)
    assert issued is not None
    blocked = client.post(
        f"/referrals/{referral_id}/sent", data={"csrf_token": token, "issued": issued.group(1)}
    )
    assert blocked.status_code == 409 and "approver.a" in blocked.text
    assert referral_row(sqlite_database, referral_id).sent_at is None
    refused = client.post(
        f"/referrals/{referral_id}/sent",
        data={"csrf_token": token, "issued": issued.group(1), "override": REASON},
    )
    assert refused.status_code == 403  # only an approver overrides


# --- 5. what the host did -------------------------------------------------------------------


def test_what_the_host_does_shows_on_the_referral_page_and_in_the_case_history(
    client: TestClient, sqlite_database: Database, case_id: str
) -> None:
    token = log_in(client, "analyst.a")
    decide(client, token, case_id)
    referral_id = prepare(client, token, case_id, "referral")
    notice = client.get(f"/referrals/{referral_id}/notice.txt").text
    link = urlsplit(re.search(r"https?://\S+/hote/\S+", notice).group(0))  # type: ignore[union-attr]
    params = dict(p.split("=", 1) for p in link.query.split("&"))
    host = TestClient(client.app, base_url="https://testserver")
    host_token = csrf_of(host)
    for action, text in (
        ("acknowledge", ""),
        ("removed", ""),
        ("complain", "Ce contenu est un reportage."),
    ):
        done = host.post(
            link.path,
            data={
                "csrf_token": host_token,
                "e": params["e"],
                "s": params["s"],
                "action": action,
                "text": text,
            },
        )
        assert done.status_code == 200, done.text[:300]
    page = client.get(f"/referrals/{referral_id}").text
    acknowledged = re.search(r'data-testid="acknowledged">([^<]+)<', page)
    assert acknowledged and re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", acknowledged.group(1))
    assert re.search(r'data-testid="removal-declared">\d{4}-', page)
    assert "L’hébergeur a accusé réception de la notification" in page
    assert "L’hébergeur a envoyé une réclamation" in page
    history = client.get(f"/cases/{case_id}").text
    assert "L’hébergeur a accusé réception de la notification" in history
    assert "L’hébergeur déclare avoir retiré le contenu" in history
    assert "referral.acknowledged" not in history.split('data-testid="history"')[1].replace(
        'data-action="referral.acknowledged"', ""
    )


# --- 6. a second measure on the same content --------------------------------------------------


def test_a_second_referral_on_the_same_content_needs_a_reason(
    client: TestClient, sqlite_database: Database, case_id: str
) -> None:
    token = log_in(client, "analyst.a")
    decide(client, token, case_id)
    first = prepare(client, token, case_id, "referral")
    page = client.get(f"/cases/{case_id}").text
    assert 'data-testid="live-measures"' in page and f"/referrals/{first}" in page
    refused = client.post(
        f"/cases/{case_id}/referrals", data={"csrf_token": token, "kind": "fr_admin_request"}
    )
    assert refused.status_code == 422
    assert 'data-testid="again-error"' in refused.text and f"/referrals/{first}" in refused.text
    assert "dites pourquoi" in refused.text
    second = prepare(client, token, case_id, "fr_admin_request", again=REASON)
    with sqlite_database.unit_of_work() as uow:
        prepared = [e for e in uow.audit.iter_all() if e.action == "referral.prepared"]
    assert [e.object_id for e in prepared] == [first, second]
    assert prepared[1].details["again"] == REASON and prepared[1].details["existing"] == [first]


# --- 7. recommendations need a measure --------------------------------------------------------


def test_a_controller_cannot_recommend_lifting_on_an_undecided_case(
    client: TestClient, sqlite_database: Database, case_id: str
) -> None:
    token = log_in(client, "controller.a")
    assert 'data-testid="recommend-form"' not in client.get(f"/cases/{case_id}").text
    refused = client.post(
        f"/cases/{case_id}/recommendations",
        data={"csrf_token": token, "text": "La mesure paraît disproportionnée pour ce contenu."},
    )
    assert refused.status_code == 422
    assert "ce dossier n’a pas encore de décision" in refused.text
    with sqlite_database.unit_of_work() as uow:
        assert "case.lifting_recommended" not in [e.action for e in uow.audit.iter_all()]


# --- notes ----------------------------------------------------------------------------------


def test_a_note_goes_into_the_history_and_never_into_the_notice(
    client: TestClient, sqlite_database: Database, case_id: str
) -> None:
    token = log_in(client, "analyst.a")
    decide(client, token, case_id)
    empty = client.post(f"/cases/{case_id}/notes", data={"csrf_token": token, "text": "  "})
    assert empty.status_code == 422 and "écrivez la note" in empty.text
    note = "Vu aussi sur un miroir, à surveiller."
    added = client.post(
        f"/cases/{case_id}/notes", data={"csrf_token": token, "text": note}, follow_redirects=False
    )
    assert added.status_code == 303
    assert f"Note : {note}".replace(" :", "\u00a0:") in client.get(f"/cases/{case_id}").text
    referral_id = prepare(client, token, case_id, "referral")
    for fmt in ("txt", "html", "json"):
        assert note not in client.get(f"/referrals/{referral_id}/notice.{fmt}").text
    with sqlite_database.unit_of_work() as uow:
        assert [e.actor for e in uow.audit.iter_all() if e.action == "case.note_added"] == [
            "analyst.a"
        ]


def _public_key() -> str:
    import base64

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    raw = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode()


# --- 8. a refused agreement proposal ----------------------------------------------------------


def test_a_refused_agreement_proposal_reopens_the_form_with_the_error_next_to_its_field(
    client: TestClient, sqlite_database: Database, agencies: dict[str, str]
) -> None:
    from passerelle.services.exchange import add_partner

    with sqlite_database.unit_of_work(write=True) as uow:
        partner = add_partner(
            uow,
            agency_id=agencies["a"],
            actor="test",
            code="agency-b",
            name="Unité B",
            base_url="",
            public_key=_public_key(),
            contact="",
        )
        uow.commit()
    token = log_in(client, "liaison.a")
    refused = client.post(
        f"/partners/{partner.id}/agreements",
        data={
            "csrf_token": token,
            "purpose": "Retrait coordonné des contenus d’incitation (test).",
            "categories": ["a", "c"],
            "signal_types": ["pdq"],
            "retention_days": "99999",
            "distribution": "agreement",
            "tlp": "green",
            "valid_from": "2026-01-01",
            "valid_until": "2027-01-01",
        },
    )
    assert refused.status_code == 422
    form = refused.text.split('data-testid="propose-agency-b"')[0].rsplit("<details", 1)[1]
    assert form.startswith(" open")
    after = refused.text.split(f'id="retention-{partner.id}"')[1]
    assert re.match(
        r'[^>]*value="99999">\s*<p class="field-error"[^>]*data-testid="error-retention_days">',
        after,
    )
    assert "la conservation va de 1 à 3650 jours" in after.split("</p>")[0]
    assert "Retrait coordonné des contenus d’incitation (test)." in refused.text
    assert re.search(r'value="b"\s*>', refused.text)  # category (b) left unticked as sent
