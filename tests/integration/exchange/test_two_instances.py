"""Two real Passerelle instances on two loopback ports, each with its own database: a French
unit and a Québec unit agree, share, refuse tampered feeds, expire, retract and deconflict."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from sqlalchemy import text

from passerelle.core.bank import EntryInput
from passerelle.core.content import Content
from passerelle.core.signals.pdq import PDQ
from passerelle.core.taxonomy import Category, Labels
from passerelle.exchange.signing import seal, unseal
from passerelle.scan import scan
from passerelle.services import refer
from passerelle.services.banks import add_entries, load_matcher
from passerelle.services.exchange import (
    expire_partner_entries,
    set_observation_hold,
)
from tests.instances import (
    IMAGE,
    Instance,
    close_clients,
    csrf_of,
    decide_image,
    ensure_agreement,
    last_log,
    partner_bank,
    start,
    sync,
    wire_partners,
)
from tests.servers import free_port
from tests.shared import shared
from tests.videos import cut_clip


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Instance, Instance]]:
    tmp = tmp_path_factory.mktemp("pair")
    stack = ExitStack()
    fr, qc = start(stack, tmp, "unite-fr", "FR"), start(stack, tmp, "unite-qc", "CA-QC")
    wire_partners(fr, qc)
    with stack:
        yield fr, qc
        close_clients(fr, qc)


def test_an_agreement_lets_decided_items_flow_and_only_those(
    pair: tuple[Instance, Instance],
) -> None:
    fr, qc = pair
    ensure_agreement(fr, qc)
    decide_image(fr, IMAGE, "a", "decisions")  # inside the agreement
    outside = decide_image(fr, "shrink-a-lot.jpg", "d", "decisions-d")  # category (d): outside
    assert outside
    detail = sync(qc)
    assert detail.startswith("1 pages pulled, 0 refused, 0 unreachable"), detail
    shared_bank = partner_bank(qc, fr.code)
    original = PDQ.compute(shared("pdq", "images", IMAGE).read_bytes()).value
    assert ("pdq", original) in shared_bank
    assert set(shared_bank.values()) == {"a"}  # nothing of category (d) crossed
    other = PDQ.compute(shared("pdq", "images", "shrink-a-lot.jpg").read_bytes()).value
    assert ("pdq", other) not in shared_bank
    # never the content, never the rationale: the feed as the partner sees it
    with fr.database.unit_of_work() as uow:
        events = uow.exchange.events_after(uow.agencies.get_by_code(fr.code).id, 0, 500)
    assert events
    # a near-duplicate scanned in Québec matches the French decision, as a partner match
    with qc.database.unit_of_work() as uow:
        matcher = load_matcher(uow, agency_code=qc.code)
    data = shared("pdq", "images", "sharpen-a-lot.jpg").read_bytes()
    result = scan(Content(source="x.jpg", data=data), matcher)
    assert [
        (m.bank, m.origin.value, m.labels.category.value if m.labels.category else None)
        for m in result.matches
    ] == [(f"partner-{fr.code}", "partner", "a")]
    # the next pull brings nothing new (idempotent, from the cursor)
    assert sync(qc).startswith("1 pages pulled")
    assert partner_bank(qc, fr.code) == shared_bank
    # expired entries disappear (the agreement gives them 30 days)
    with qc.database.unit_of_work(write=True) as uow:
        agency = uow.agencies.get_by_code(qc.code)
        purged = expire_partner_entries(
            uow, agency_id=agency.id, now=datetime.now(UTC) + timedelta(days=31)
        )
        uow.rollback()  # only measured here: the retraction test below needs them
    assert purged == len(shared_bank)


def test_a_withdrawn_entry_is_withdrawn_on_the_other_side(pair: tuple[Instance, Instance]) -> None:
    fr, qc = pair
    ensure_agreement(fr, qc)
    decide_image(fr, "blur-a-lot.jpg", "a", "decisions")
    sync(qc)
    value = PDQ.compute(shared("pdq", "images", "blur-a-lot.jpg").read_bytes()).value
    shared_before = partner_bank(qc, fr.code)
    sha = [v for (t, v) in shared_before if t == "sha256"]
    assert sha
    from passerelle.services.banks import remove_entry

    with fr.database.unit_of_work(write=True) as uow:
        for kind, entry_value in [("sha256", s) for s in sha[-1:]]:
            remove_entry(
                uow,
                agency_code=fr.code,
                bank_name="decisions",
                signal_type=kind,
                value=entry_value,
                actor="test",
            )
        uow.commit()
    sync(qc)
    assert ("sha256", sha[-1]) not in partner_bank(qc, fr.code)
    assert value


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        ("changed byte", "the signature does not verify"),
        ("wrong key", "the signature does not verify"),
        ("unknown agreement", "unknown agreement 00000000"),
        ("old cursor", "a replayed page"),
        ("oversized", "over the limit"),
        ("unknown schema", "unknown feed schema 'passerelle-feed/9'"),
    ],
)
def test_a_tampered_feed_is_refused_and_nothing_is_imported(
    pair: tuple[Instance, Instance], tamper: str, reason: str
) -> None:
    fr, qc = pair
    ensure_agreement(fr, qc)
    sync(qc)
    with qc.database.unit_of_work() as uow:
        before = uow.exchange.partners(uow.agencies.get_by_code(qc.code).id)[0].cursor
    with fr.database.unit_of_work(write=True) as uow:  # something new to pull
        fresh = hashlib.sha256(tamper.encode()).hexdigest()
        add_entries(
            uow,
            agency_code=fr.code,
            bank_name="decisions",
            actor="test",
            entries=[EntryInput("sha256", fresh, Labels(category=Category.INCITES))],
        )
        uow.commit()
    bank_before = partner_bank(qc, fr.code)
    with fr.database.unit_of_work() as uow:
        sealed = uow.exchange.active_key(uow.agencies.get_by_code(fr.code).id)
    assert sealed is not None
    from passerelle.exchange.signing import new_key_pair, open_private

    fr_key = open_private(sealed[1], fr.secret)
    stranger = open_private(new_key_pair("autre")[1], "autre")

    def mutate(body: bytes, path: str) -> bytes:
        document = unseal(body, sealed[0], max_bytes=10**8)
        if tamper == "changed byte":
            envelope = json.loads(body)
            envelope["payload"] = (
                envelope["payload"].replace('"kind":"add"', '"kind":"adx"', 1)
                if '"kind":"add"' in envelope["payload"]
                else envelope["payload"][:-2] + " }"
            )
            return json.dumps(envelope).encode()
        if tamper == "wrong key":
            return seal(document, stranger)
        if tamper == "unknown agreement":
            for entry in document["entries"]:
                entry["agreement"] = "00000000-0000-0000-0000-000000000000"
            return seal(document, fr_key)
        if tamper == "old cursor":
            document["cursor"] = max(document["cursor"] - 1, 0) if document["cursor"] else 7
            return seal(document, fr_key)
        if tamper == "oversized":
            return b" " * (5 * 1024 * 1024 + 1) + body
        document["schema"] = "passerelle-feed/9"
        return seal(document, fr_key)

    with tampering_proxy(fr.url, mutate) as proxy:
        point_partner(qc, fr.code, proxy)
        try:
            sync(qc)
        finally:
            point_partner(qc, fr.code, fr.url)
    outcome, detail = last_log(qc)
    assert outcome == "refused", (tamper, detail)
    assert reason in detail
    assert partner_bank(qc, fr.code) == bank_before  # nothing imported
    with qc.database.unit_of_work() as uow:
        assert uow.exchange.partners(uow.agencies.get_by_code(qc.code).id)[0].cursor == before
    # the next good pull works
    sync(qc)
    assert last_log(qc)[0] == "ok"
    assert len(partner_bank(qc, fr.code)) > len(bank_before)


def test_a_partner_that_is_down_is_retried_later(pair: tuple[Instance, Instance]) -> None:
    fr, qc = pair
    ensure_agreement(fr, qc)
    point_partner(qc, fr.code, f"http://127.0.0.1:{free_port()}")
    try:
        sync(qc)
        outcome, detail = last_log(qc)
        with qc.database.unit_of_work() as uow:
            partner = uow.exchange.partners(uow.agencies.get_by_code(qc.code).id)[0]
    finally:
        point_partner(qc, fr.code, fr.url)
    assert outcome == "unreachable" and "next try in" in detail
    assert partner.next_sync_at is not None and partner.next_sync_at > datetime.now(UTC)
    liaison = qc.client(f"liaison.{qc.code}")
    assert "unite-fr injoignable\u00a0: ConnectError" in liaison.get("/partners").text


def test_a_hold_in_france_blocks_a_referral_in_quebec(pair: tuple[Instance, Instance]) -> None:
    fr, qc = pair
    ensure_agreement(fr, qc)
    image = "square-256x256.jpg"
    fr_case = decide_image(fr, image, "a", "decisions")
    with fr.database.unit_of_work(write=True) as uow:
        approver = uow.users.find_credentials(f"approver.{fr.code}")
        assert approver is not None
        set_observation_hold(
            uow,
            viewer=approver.user,
            case_id=fr_case,
            reason="Compte sous observation judiciaire, ne pas signaler.",
        )
        uow.commit()
    sync(qc)
    qc_case = decide_image(qc, image, "a", "decisions-qc")
    analyst = qc.client(f"analyst.{qc.code}")
    page = analyst.get(f"/cases/{qc_case}").text
    assert "contact" in page and fr.code in page
    assert "Compte sous observation" not in page  # never the reason
    token = csrf_of(analyst, f"/cases/{qc_case}")
    blocked = analyst.post(
        f"/cases/{qc_case}/referrals", data={"csrf_token": token, "kind": "referral"}
    )
    assert blocked.status_code == 409 and fr.code in blocked.text
    approver_qc = qc.client(f"approver.{qc.code}")
    token = csrf_of(approver_qc, f"/cases/{qc_case}")
    overridden = approver_qc.post(
        f"/cases/{qc_case}/referrals",
        data={
            "csrf_token": token,
            "kind": "referral",
            "override": "Menace imminente : retrait demandé malgré l'observation.",
        },
        follow_redirects=False,
    )
    assert overridden.status_code == 303
    with qc.database.unit_of_work() as uow:
        actions = [e.action for e in uow.audit.iter_all()]
    assert "referral.hold_overridden" in actions


def point_partner(instance: Instance, code: str, url: str) -> None:
    with instance.database.unit_of_work(write=True) as uow:
        uow.session.execute(
            text("UPDATE partners SET base_url = :u WHERE code = :c"), {"u": url, "c": code}
        )
        uow.commit()


class tampering_proxy:
    """A server that forwards to `target` and changes the feed's answer with `mutate`."""

    def __init__(self, target: str, mutate: Callable[[bytes, str], bytes]) -> None:
        self.target, self.mutate = target, mutate

    def __enter__(self) -> str:
        target, mutate = self.target, self.mutate

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: object) -> None:
                return

            def do_GET(self) -> None:
                headers = {
                    k: v for k, v in self.headers.items() if k.lower().startswith("x-passerelle")
                }
                answer = httpx.get(target + self.path, headers=headers, timeout=20)
                body = (
                    mutate(answer.content, self.path)
                    if answer.status_code == 200
                    else answer.content
                )
                self.send_response(answer.status_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_referral_in_france_shows_on_the_same_content_in_quebec(
    pair: tuple[Instance, Instance],
) -> None:
    fr, qc = pair
    ensure_agreement(fr, qc)
    image = "square-512x512.jpg"
    fr_case = decide_image(fr, image, "a", "decisions")
    with fr.database.unit_of_work(write=True) as uow:
        analyst = uow.users.find_credentials(f"analyst.{fr.code}")
        assert analyst is not None
        referral = refer.prepare_referral(
            uow, viewer=analyst.user, case_id=fr_case, kind="referral"
        )
        refer.mark_sent(uow, viewer=analyst.user, referral_id=referral.id)
        uow.commit()
    sync(qc)
    qc_case = decide_image(qc, image, "a", "decisions-qc")
    page = qc.client(f"analyst.{qc.code}").get(f"/cases/{qc_case}").text
    today = datetime.now(UTC).date().isoformat()
    assert f"Déjà notifié à l’hébergeur par le partenaire Unité {fr.code} le {today}" in page


def test_a_video_decided_in_france_matches_a_re_encoded_copy_in_quebec(
    pair: tuple[Instance, Instance],
) -> None:
    fr, qc = pair
    ensure_agreement(fr, qc)
    video = shared("video", "videos", "chair-orig-22-sd-bar.mp4")
    decide_image(fr, "chaise.mp4", "a", "decisions", data=video.read_bytes())
    sync(qc)
    shared_bank = partner_bank(qc, fr.code)
    assert [kind for kind, _ in shared_bank if kind == "vpdq"] == ["vpdq"]
    with qc.database.unit_of_work() as uow:
        matcher = load_matcher(uow, agency_code=qc.code)
    copy = cut_clip(video, 0.0, 30.0, scale=0.5)  # the whole video, re-encoded at half size
    result = scan(Content(source="copie.mp4", data=copy), matcher)
    (match,) = [m for m in result.matches if m.signal_type == "vpdq"]
    assert (match.bank, match.origin.value) == (f"partner-{fr.code}", "partner")
    assert match.video is not None and match.video.compared_share >= 80
