"""The jobs match against the agencies' indexes on disk, as `scan` and the console do: a
bank entry added while the job runner loops is matched at its next round, taken from the
bank generation as a delta, without rebuilding anything from the banks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from sqlalchemy import text

from passerelle.core.bank import EntryInput
from passerelle.core.case import QueueFilters
from passerelle.core.index.store import MatchIndex, read_header
from passerelle.core.signals.pdq import PDQ
from passerelle.core.taxonomy import Labels, Tier
from passerelle.db.session import Database
from passerelle.fetch.fetcher import SafeFetcher
from passerelle.fetch.guard import AddressGuard, parse_allow_list
from passerelle.jobs.runner import run_once
from passerelle.services.banks import add_entries, create_bank
from passerelle.services.matchers import MatcherCache
from passerelle.services.public import submit_public_report
from tests.integration.services.test_jobs import report
from tests.servers import serving
from tests.shared import shared

PICTURE = shared("pdq", "images", "aaa-orig.jpg").read_bytes()
EDITED = shared("pdq", "images", "shrink-a-lot.jpg").read_bytes()
PAGES = {"/first.jpg": PICTURE, "/second.jpg": EDITED}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *_: object) -> None:
        return

    def do_GET(self) -> None:
        body = PAGES.get(self.path, b"")
        self.send_response(200 if body else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with serving(Handler) as url:
        yield url


def _submit(database: Database, url: str) -> str:
    with database.unit_of_work(write=True) as uow:
        submit_public_report(
            uow,
            agency_code="unite",
            url=url,
            category="",
            description="Une page signalée par le public.",
            source_hash="h2",
            per_hour=10,
            allowed=parse_allow_list(["127.0.0.1/32"]),
        )
        uow.commit()
        agency_id = uow.agencies.get_by_code("unite").id
        cases = uow.queue.list_cases(agency_id, QueueFilters(), limit=5)
    (case,) = [c for c in cases if c.url == url]
    return case.id


def _matched_banks(database: Database, case_id: str) -> list[str]:
    with database.unit_of_work() as uow:
        agency_id = uow.agencies.get_by_code("unite").id
        return sorted(str(m["bank"]) for m in uow.queue.get_case(agency_id, case_id).matches)


def test_an_entry_added_while_the_jobs_loop_is_matched_at_the_next_round(
    database: Database, server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = report(database, server + "/first.jpg")
    with database.unit_of_work(write=True) as uow:
        create_bank(uow, agency_code="unite", name="connu", actor="test")
        uow.commit()
    fetcher = SafeFetcher(AddressGuard(parse_allow_list(["127.0.0.1/32"])))
    matchers = MatcherCache(tmp_path / "index", period=0.0)  # what `jobs run` keeps
    runs = {r.kind: r.detail for r in run_once(database, fetcher, matchers=matchers)}
    assert runs["fetch_reports"] == "1 fetched, 0 unavailable, 0 not reachable"
    assert _matched_banks(database, first) == []  # the bank was empty
    with database.unit_of_work() as uow:
        agency_id = uow.agencies.get_by_code("unite").id
    built = int(read_header(tmp_path / "index" / agency_id)["generation"])  # type: ignore[call-overload]

    # Between two rounds of the loop, an analyst banks the picture; the public reports an
    # edited copy of it.
    with database.unit_of_work(write=True) as uow:
        add_entries(
            uow,
            agency_code="unite",
            bank_name="connu",
            entries=[EntryInput("pdq", PDQ.compute(PICTURE).value, Labels(tier=Tier.CRISIS))],
            actor="test",
        )
        uow.commit()
    second = _submit(database, server + "/second.jpg")
    with database.unit_of_work(write=True) as uow:
        uow.session.execute(text("UPDATE jobs SET run_at = :t"), {"t": datetime.now(UTC)})
        uow.commit()

    def no_rebuild(*_: object, **__: object) -> MatchIndex:
        raise AssertionError("the index was rebuilt from the banks")

    monkeypatch.setattr(MatchIndex, "build", classmethod(no_rebuild))
    runs = {r.kind: r.detail for r in run_once(database, fetcher, matchers=matchers)}
    assert runs["fetch_reports"] == "1 fetched, 0 unavailable, 0 not reachable"
    assert _matched_banks(database, second) == ["connu"]
    with database.unit_of_work() as uow:
        now = uow.banks.generation()
    header = read_header(tmp_path / "index" / agency_id)
    # the index on disk took the entry as a delta on the segments it had
    assert int(header["generation"]) == now > built  # type: ignore[call-overload]
    assert len(header["segments"]) == 2  # type: ignore[arg-type]
