"""The French console left no English behind: every page and every error path is rendered
with a French catalogue that records each message id it does not hold."""

from __future__ import annotations

import gettext
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from passerelle.core.identity import Locale
from passerelle.db.session import Database
from passerelle.services import refer
from passerelle.settings import Settings
from passerelle.web.app import create_app
from tests.conftest import csrf_of, log_in
from tests.factories import make_cases
from tests.shared import shared

# Words that are the same in both languages, and values that are not text (codes, numbers).
SAME = {"Action", "Code", "Contact", "Source", "Score", "score", "Distance", "Provenance"}
SAME |= {"Verdict", "Protection", "TLP", "—", ""}


class RecordingCatalogue(gettext.NullTranslations):
    """The French catalogue, recording every message id asked of it that it does not hold."""

    def __init__(self, inner: gettext.GNUTranslations) -> None:
        super().__init__()
        self.inner = inner
        self.missing: set[str] = set()
        catalog = inner._catalog  # type: ignore[attr-defined]
        # A message already in French, passed through `_` again, is not a missing id.
        self.french = {v for v in catalog.values() if isinstance(v, str)}

    def _known(self, message: str) -> bool:
        catalog = self.inner._catalog  # type: ignore[attr-defined]
        return message in catalog or (message, 0) in catalog

    def gettext(self, message: str) -> str:
        if not (self._known(message) or message in self.french or _is_value(message)):
            self.missing.add(message)
        return self.inner.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        if not self._known(singular):
            self.missing.add(singular)
        return self.inner.ngettext(singular, plural, n)


def _is_value(message: str) -> bool:
    """Not a message: a name, a number, an address or a code passed through `_` on purpose
    (labels that may or may not be codes are translated when they are)."""
    return (
        message in SAME
        or not re.search(r"[A-Za-z]{3}", message)
        or bool(re.fullmatch(r"[a-z0-9_.\-]+", message) and "_" not in message)
        or message.startswith(("http", "/"))
    )


@pytest.fixture
def console(
    settings: Settings, sqlite_database: Database, agencies: dict[str, str]
) -> Iterator[tuple[TestClient, RecordingCatalogue, str]]:
    image = shared("pdq", "images", "aaa-orig.jpg").read_bytes()
    with sqlite_database.unit_of_work(write=True) as uow:
        (case,) = make_cases(uow, agency_code="agency-a", images=[image])
        refer.add_host(
            uow,
            agency_code="agency-a",
            actor="test",
            domain="exemple.test",
            name="Hébergeur",
            email="abuse@exemple.test",
            language="fr",
        )
        uow.commit()
    opened = settings.model_copy(update={"public_agency": "agency-a", "public_reports_per_hour": 1})
    app = create_app(opened, sqlite_database)
    translator = app.state.passerelle.translator
    recording = RecordingCatalogue(translator.get(Locale.FR))
    translator._catalogs[Locale.FR] = recording
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as client:
        yield client, recording, case


def _as(client: TestClient, username: str) -> str:
    client.cookies.clear()
    return log_in(client, username)


def test_every_page_and_error_of_the_french_console_is_translated(
    console: tuple[TestClient, RecordingCatalogue, str],
) -> None:
    client, recording, case = console
    statuses: list[int] = []

    def get(path: str) -> str:
        answer = client.get(path)
        statuses.append(answer.status_code)
        return answer.text

    def post(path: str, **data: object) -> str:
        answer = client.post(path, data=data, follow_redirects=False)
        statuses.append(answer.status_code)
        return answer.text

    # The public: the form, its errors, the acknowledgement, the 429.
    token = csrf_of(client)
    get("/signaler")
    post("/signaler", csrf_token=token, url="ftp://x", description="")
    post("/signaler", csrf_token=token, url="https://exemple.test/a", description="d" * 3000)
    post("/signaler", csrf_token=token, url="https://exemple.test/a", description="Vu ici.")
    post("/signaler", csrf_token=token, url="https://exemple.test/b", description="Encore.")
    get("/login")
    post("/login", csrf_token=token, username="personne", password="faux")
    post("/login", username="x", password="y")  # no CSRF token: 403

    token = _as(client, "analyst.a")
    for path in ("/", "/queue", "/queue?status=decided", f"/cases/{case}", "/hosts", "/account"):
        get(path)
    get("/queue?offset=-5")  # 422 page
    get("/cases/00000000-0000-0000-0000-000000000000")  # 404
    post(f"/cases/{case}/decision", csrf_token=token, verdict="", rationale="court")
    post(f"/cases/{case}/notes", csrf_token=token, text="")
    post(f"/cases/{case}/assignment", csrf_token=token, assignee="personne")
    post(
        f"/cases/{case}/decision",
        csrf_token=token,
        verdict="terrorist",
        category="a",
        exemption_checked="true",
        legal_basis="fr_code_penal_421_2_5",
        rationale="Appel explicite à commettre des attentats, sans mise en contexte.",
    )
    post(
        f"/cases/{case}/decision",
        csrf_token=token,
        verdict="terrorist",
        category="a",
        exemption_checked="true",
        legal_basis="fr_code_penal_421_2_5",
        rationale="Une seconde décision sur le même dossier, refusée.",
    )  # 409
    get(f"/cases/{case}")
    post(f"/cases/{case}/referrals", csrf_token=token, kind="takedown")
    order = client.post(
        f"/cases/{case}/referrals",
        data={"csrf_token": token, "kind": "tco_removal_order"},
        follow_redirects=False,
    ).headers["location"]
    get(order)
    post(f"/cases/{case}/referrals", csrf_token=token, kind="referral")  # a second measure
    post(order + "/approve", csrf_token=token)  # four eyes: 403
    post(order + "/sent", csrf_token=token, issued="2000-01-01T00:00")
    post("/hosts", csrf_token=token, domain="pas un domaine", email="x")
    get("/audit")  # 403 for an analyst

    token = _as(client, "liaison.a")
    post(f"/cases/{case}/observation", csrf_token=token, reason="court")
    post(
        f"/cases/{case}/observation",
        csrf_token=token,
        reason="Enquête en cours chez le partenaire, laisser en ligne.",
    )
    get("/partners")
    post("/partners", csrf_token=token, code="X", public_key="court")
    get(f"/cases/{case}")

    token = _as(client, "approver.a")
    post(order + "/approve", csrf_token=token)  # held: 409
    get(order)
    post(f"/cases/{case}/hold", csrf_token=token, until="demain", reason="")

    token = _as(client, "controller.a")
    for path in ("/", "/audit", "/reports", "/people", f"/cases/{case}", "/partners"):
        get(path)
    audit = get("/audit")
    first = re.search(r'href="(/audit/\d+)"', audit)
    if first:
        get(first.group(1))
    post(f"/cases/{case}/recommendations", csrf_token=token, text="court")

    token = _as(client, "admin.a")
    for path in ("/", "/people", "/account", "/banks"):
        get(path)
    bank = re.search(r'href="(/banks/[0-9a-f-]+)"', get("/banks"))
    assert bank is not None
    own = bank.group(1)
    for query in ("", "?state=withdrawn", "?state=expired", "?q=xyz", "?type=sha1", "?size=7"):
        get(own + query)
    post(own + "/entries", csrf_token=token, signal_type="pdq", value="zz")
    post(own + "/entries", csrf_token=token, signal_type="md5", value="")
    post(own + "/entries", csrf_token=token, signal_type="url", value="ftp://exemple.test/")
    post(own + "/entries", csrf_token=token, signal_type="md5", value="0" * 32, tier="x")
    post(own + "/entries", csrf_token=token, signal_type="md5", value="0" * 32, tags="a b")
    post(own + "/entries", csrf_token=token, signal_type="md5", value="1" * 32)
    post(own + "/file", csrf_token=token)
    post(own + "/import", csrf_token=token)
    stix = (
        b'{"type": "bundle", "objects": [1, {"type": "indicator", "id": "indicator--x",'
        b' "pattern_type": "sigma", "pattern": "x"}, {"type": "file", "id": "file--y"}]}'
    )
    misp = b'{"Event": {"Attribute": [{"type": "filename", "value": "x"}]}}'
    for name, data in (
        ("a.csv", b"signal_type,value\nmd5,zz\nmd5," + b"2" * 32),
        ("b.json", b"{"),
        ("c.json", stix),
        ("d.json", misp),
        ("e.csv", b"signal_type,value,couleur\nmd5,1"),
        ("f.csv", b"signal_type,value\nmd5," + b"3" * 32 + b",trop"),
    ):
        answer = client.post(
            own + "/import", data={"csrf_token": token}, files={"file": (name, data)}
        )
        statuses.append(answer.status_code)
    get(own + "/export?format=xml")
    listed = get(own)
    entry = re.search(r'action="(/banks/[^"]+/withdraw)"', listed)
    assert entry is not None
    post(entry.group(1), csrf_token=token, reason="court")
    post(entry.group(1), csrf_token=token, reason="Ajoutée par erreur, à retirer.")
    withdrawn = get(own + "?state=withdrawn")
    reinstate = re.search(r'action="(/banks/[^"]+/reinstate)"', withdrawn)
    assert reinstate is not None
    post(reinstate.group(1), csrf_token=token)
    post(reinstate.group(1), csrf_token=token)  # 409
    token = _as(client, "controller.a")
    get(own)
    post(own + "/entries", csrf_token=token, signal_type="md5", value="3" * 32)  # 403

    assert {200, 303, 403, 404, 409, 422, 429} <= set(statuses)
    assert sorted(recording.missing) == []
