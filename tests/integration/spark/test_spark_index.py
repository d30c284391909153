"""The Spark job in local mode matches against the index files shipped to the executors: the
driver adds the index folder with `addFile` and broadcasts only its name; the candidates are
those the one-process pipeline finds with the same index."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from benchmarks.warcgen import write_warc

from passerelle.batch import scan_all
from passerelle.core.bank import Bank, BankEntry, BankKind, BankOrigin
from passerelle.core.index.store import open_index
from passerelle.core.match import Matcher
from passerelle.core.signals.pdq import PDQ
from passerelle.core.taxonomy import Labels, Tier
from passerelle.exchange.candidates import read_candidates
from passerelle.intake.archive import iter_archive
from passerelle.scan import ScanResult
from passerelle.spark.job import build_index, job_options, make_session, run_scan
from tests.conftest import require_or_skip
from tests.shared import shared


@pytest.fixture(scope="module")
def spark() -> Iterator[object]:
    if shutil.which("java") is None:
        require_or_skip("Java is not installed (Spark needs it; bash .ci/run installs it)")
    session = make_session("local[2]", app_name="passerelle-test-index")
    yield session
    session.stop()


def test_a_local_session_talks_over_loopback_only(spark: object) -> None:
    conf = spark.sparkContext.getConf()  # type: ignore[attr-defined]
    assert conf.get("spark.driver.host") == "127.0.0.1"
    assert spark.sparkContext.parallelize(range(4), 2).sum() == 6  # type: ignore[attr-defined]


def test_the_executors_open_the_shipped_index_files(spark: object, tmp_path: Path) -> None:
    bank = Bank("b", "a", "connu", BankKind.POSITIVE, BankOrigin.OWN, "")
    other = Bank("o", "a", "autre", BankKind.POSITIVE, BankOrigin.OWN, "")
    picture = PDQ.compute(shared("pdq", "images", "aaa-orig.jpg").read_bytes())
    entries = [
        BankEntry("e", "b", picture, Labels(tier=Tier.CRISIS)),
        BankEntry("f", "o", picture, Labels(tier=Tier.PROMOTIONAL)),
    ]
    index = build_index([bank, other], entries, tmp_path / "index")
    warc = write_warc(tmp_path / "crawl.warc.gz", 60, image_share=0.2, crawl=False)
    counters = run_scan(
        spark,  # type: ignore[arg-type]
        [str(warc)],
        index=index,
        bank_ids=["b"],
        output=str(tmp_path / "out"),
    )
    files = list(spark.sparkContext.listFiles)  # type: ignore[attr-defined]
    assert any(Path(f).name.startswith("passerelle-index-") for f in files)
    matcher = Matcher(open_index(index)).restricted(["b"])
    expected = {
        r.source: sorted(m.entry_id for m in r.matches)
        for r in scan_all(iter_archive(warc), matcher=matcher, options=job_options({"pdq"}))
        if isinstance(r, ScanResult) and r.matches
    }
    found: dict[str, list[str]] = {}
    for candidate in read_candidates(tmp_path / "out"):
        assert not isinstance(candidate, Exception)
        matches = json.loads(candidate.findings.matches_json)
        found[candidate.source] = sorted(m["bank"] for m in matches)
    assert len(expected) == 12 and counters.matched == 12
    assert set(found) == set(expected)
    assert all(banks == ["connu"] for banks in found.values())  # only the bank asked for
