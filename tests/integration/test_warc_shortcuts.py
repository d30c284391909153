"""The shortcuts of a crawl scan (only the signal types the banks hold, payloads met again not
fingerprinted again, workers) find the same matches as a scan without them, on a generated
crawl (request records, 404 and 301 responses, gzip-encoded pages, payloads served again)
and on the sample archives of ../shared/data/warc."""

from __future__ import annotations

from pathlib import Path

from benchmarks.warcgen import write_warc

from passerelle.batch import scan_all
from passerelle.core.bank import Bank, BankEntry, BankKind, BankOrigin
from passerelle.core.content import Content
from passerelle.core.match import Matcher
from passerelle.core.signals.pdq import PDQ
from passerelle.core.signals.text import TEXT
from passerelle.core.taxonomy import Labels, Tier
from passerelle.intake.archive import is_archive, iter_archive
from passerelle.scan import ScanOptions, ScanResult, compared_text, needed_signal_types, scan
from tests.shared import shared

BANK = Bank("b", "agency", "connu", BankKind.POSITIVE, BankOrigin.OWN, "")
LABELS = Labels(tier=Tier.PROMOTIONAL)


def _text_entry() -> BankEntry:
    page = shared("extraction-fr", "html", "aoc.media.archaisme.html").read_bytes()
    signal = TEXT.compute(compared_text(page) or "")
    assert signal is not None
    return BankEntry("e-text", "b", signal, LABELS)


def _pdq_entry() -> BankEntry:
    photo = shared("pdq", "images", "aaa-orig.jpg").read_bytes()
    return BankEntry("e-pdq", "b", PDQ.compute(photo), LABELS)


def _matches(results: list[ScanResult]) -> set[tuple[str, str]]:
    return {(r.url or "", m.entry_id) for r in results for m in r.matches}


def _one_by_one(warc: Path, matcher: Matcher) -> list[ScanResult]:
    """No shortcut: every item alone, every signal type."""
    items = [i for i in iter_archive(warc) if isinstance(i, Content)]
    return [scan(item, matcher, ScanOptions()) for item in items]


def _fast(warc: Path, matcher: Matcher, workers: int) -> list[ScanResult]:
    options = ScanOptions(signal_types=needed_signal_types(matcher.index.catalogue.kinds))
    found = scan_all(iter_archive(warc), matcher=matcher, options=options, workers=workers)
    return [r for r in found if isinstance(r, ScanResult)]


def test_every_shortcut_finds_what_a_scan_without_them_finds(tmp_path: Path) -> None:
    warc = write_warc(tmp_path / "crawl.warc.gz", 80, image_share=0.2)
    matcher = Matcher.build([BANK], [_text_entry(), _pdq_entry()])
    plain = _one_by_one(warc, matcher)
    expected = _matches(plain)
    assert {entry for _, entry in expected} == {"e-text", "e-pdq"}
    assert any("utm_source" in url for url, _ in expected)  # matched payloads served again
    for workers in (1, 2):
        fast = _fast(warc, matcher, workers)
        assert _matches(fast) == expected
        # A matched item gets what the analyst and the queue use, as without the shortcuts.
        full = {r.source: r for r in plain if r.matches}
        for result in (r for r in fast if r.matches):
            assert result.signals == full[result.source].signals
            assert (result.title, result.language) == (
                full[result.source].title,
                full[result.source].language,
            )


def test_a_crawl_without_image_bank_hashes_no_image_but_records_every_item(
    tmp_path: Path,
) -> None:
    warc = write_warc(tmp_path / "crawl.warc.gz", 80, image_share=0.2)
    matcher = Matcher.build([BANK], [_text_entry()])
    fast = _fast(warc, matcher, 1)
    plain = _one_by_one(warc, matcher)
    assert [r.source for r in fast] == [r.source for r in plain]  # every item is recorded
    assert [(r.sha256, r.url, r.crawl_date) for r in fast] == [
        (r.sha256, r.url, r.crawl_date) for r in plain
    ]
    images = [r for r in fast if r.media_type == "image/jpeg"]
    assert images and all(r.signal("pdq") is None for r in images)  # no image decoded
    assert all(r.signal("pdq") is not None for r in plain if r.media_type == "image/jpeg")
    assert _matches(fast) == _matches(plain) and _matches(fast)


def test_the_shortcuts_find_what_a_plain_scan_finds_on_the_sample_archives() -> None:
    # The warcio project's files: chunked, gzip-encoded, truncated, damaged, ARC; a bank of
    # the text fingerprints of their own pages, so that their pages match.
    files = sorted(p for p in shared("warc").iterdir() if is_archive(p))
    pages = [i for f in files for i in iter_archive(f) if isinstance(i, Content)]
    signals = [TEXT.compute(compared_text(page.data) or "") for page in pages]
    entries = [
        BankEntry(f"e-text-{n}", "b", signal, LABELS)
        for n, signal in enumerate(signals)
        if signal is not None
    ]
    matcher = Matcher.build([BANK], entries)
    found = 0
    for warc in files:
        plain, fast = _one_by_one(warc, matcher), _fast(warc, matcher, 1)
        assert _matches(fast) == _matches(plain), warc.name
        full = {r.source: r for r in plain if r.matches}
        for result in (r for r in fast if r.matches):
            assert result.signals == full[result.source].signals
            assert (result.title, result.language) == (
                full[result.source].title,
                full[result.source].language,
            )
        found += len(_matches(fast))
    assert found >= 100, found  # (address, bank entry) pairs
